//! `Chaos`: a seeded source of faults for a `FaultProxy` standing in front of a whole service.
//! Each request it is asked about is faulted with a fixed probability; the fault is drawn from
//! what a server of that protocol really does under stress: a 500, a 503, a throttle in the
//! protocol's own shape, a connection reset before the answer or in the middle of a body (the
//! request's or the answer's), a reset after the request took effect, a stall past the client's
//! timeout.
//!
//! Decisions are keyed, not drawn in arrival order: the n-th request with a given key (by
//! default `RecordedRequest::stable_key`: the AWS operation, or the method and the path without
//! the repository and upload session) always gets the same fate under the same seed, however
//! concurrent requests interleave. So a run can be replayed exactly.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::fault::Fault;
use crate::proxy::RecordedRequest;

/// What makes two requests "the same request" for `Chaos`.
pub type KeyFn = Arc<dyn Fn(&RecordedRequest) -> String + Send + Sync>;

/// The error shapes of the service behind the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// AWS query protocol (STS): XML `ErrorResponse` bodies in the proxy's namespace,
    /// throttling as 400 `Throttling`.
    AwsQuery,
    /// AWS JSON 1.1 (ECR's API, ECS): `{"__type", "message"}`, throttling as 400
    /// `ThrottlingException`, ECS's and ECR's `ServerException` as 500.
    AwsJson,
    /// The OCI distribution API: `{"errors": [{"code", "message"}]}`, throttling as 429
    /// `TOOMANYREQUESTS`.
    Registry,
    /// A plain JSON service (GitHub's OIDC token endpoint): throttling as 429.
    Plain,
}

/// The kinds of fault `Chaos` draws from, each equally likely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ServerError,
    Unavailable,
    Throttled,
    ResetBeforeAnswer,
    ResetMidRequest,
    ResetMidResponse,
    ForwardThenReset,
    Stall,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::ServerError,
        Kind::Unavailable,
        Kind::Throttled,
        Kind::ResetBeforeAnswer,
        Kind::ResetMidRequest,
        Kind::ResetMidResponse,
        Kind::ForwardThenReset,
        Kind::Stall,
    ];
}

/// A seeded fault source: `percent` of the requests get a fault of one of `kinds`.
pub struct Chaos {
    seed: u64,
    percent: u32,
    protocol: Protocol,
    stall: Duration,
    kinds: Vec<Kind>,
    key: KeyFn,
    seen: HashMap<String, u64>,
}

impl std::fmt::Debug for Chaos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chaos")
            .field("seed", &self.seed)
            .field("percent", &self.percent)
            .field("protocol", &self.protocol)
            .finish()
    }
}

impl Chaos {
    /// Every kind of fault, on `percent` (0 to 100) of the requests; a stall holds the
    /// connection for `stall` (make it longer than the client's timeout).
    pub fn new(seed: u64, percent: u32, protocol: Protocol, stall: Duration) -> Chaos {
        Chaos {
            seed,
            percent: percent.min(100),
            protocol,
            stall,
            kinds: Kind::ALL.to_vec(),
            key: Arc::new(RecordedRequest::stable_key),
            seen: HashMap::new(),
        }
    }

    /// Requests are told apart by `key` instead of `RecordedRequest::stable_key` (e.g. to name
    /// blobs whose digests differ from run to run by their role).
    pub fn keyed_by(mut self, key: KeyFn) -> Chaos {
        self.key = key;
        self
    }

    /// Only these kinds.
    pub fn only(mut self, kinds: &[Kind]) -> Chaos {
        assert!(!kinds.is_empty(), "Chaos needs at least one kind of fault");
        self.kinds = kinds.to_vec();
        self
    }

    /// The fate of `request`: `Fault::Forward` or a fault, from the seed, its key and how many
    /// requests with that key came before it.
    pub fn next_fault(&mut self, request: &RecordedRequest) -> Fault {
        let key = (self.key)(request);
        let n = self.seen.entry(key.clone()).or_insert(0);
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (self.seed, &key, *n).hash(&mut hasher);
        *n += 1;
        let mut rng = StdRng::seed_from_u64(hasher.finish());
        let roll = rng.random_range(0..100u32);
        let pick = rng.random_range(0..self.kinds.len());
        if roll >= self.percent {
            return Fault::Forward;
        }
        self.fault(self.kinds[pick])
    }

    fn fault(&self, kind: Kind) -> Fault {
        match kind {
            Kind::ServerError => self.answer(500),
            Kind::Unavailable => self.answer(503),
            Kind::Throttled => self.throttle(),
            Kind::ResetBeforeAnswer => Fault::ConnectionReset,
            Kind::ResetMidRequest => Fault::ResetMidRequest,
            Kind::ResetMidResponse => Fault::ResetMidResponse,
            Kind::ForwardThenReset => Fault::ForwardThenReset,
            Kind::Stall => Fault::Stall(self.stall),
        }
    }

    /// A 500 or 503 in the protocol's shape.
    fn answer(&self, status: u16) -> Fault {
        let unavailable = status == 503;
        match self.protocol {
            Protocol::AwsQuery if unavailable => Fault::ServiceUnavailable,
            Protocol::AwsQuery => Fault::InternalError,
            Protocol::AwsJson => Fault::JsonError {
                status,
                error_type: if unavailable {
                    "ServiceUnavailableException"
                } else {
                    "ServerException"
                }
                .into(),
                message: "Service temporarily unavailable; please retry".into(),
            },
            Protocol::Registry => registry_error(
                status,
                if unavailable {
                    "UNAVAILABLE"
                } else {
                    "UNKNOWN"
                },
                "service unavailable",
            ),
            Protocol::Plain => plain_json(status, "Service Unavailable"),
        }
    }

    fn throttle(&self) -> Fault {
        match self.protocol {
            Protocol::AwsQuery => Fault::Throttling,
            Protocol::AwsJson => Fault::JsonError {
                status: 400,
                error_type: "ThrottlingException".into(),
                message: "Rate exceeded".into(),
            },
            Protocol::Registry => registry_error(429, "TOOMANYREQUESTS", "too many requests"),
            Protocol::Plain => plain_json(429, "Too Many Requests"),
        }
    }
}

/// An OCI distribution error answer.
pub fn registry_error(status: u16, code: &str, message: &str) -> Fault {
    Fault::Raw {
        status,
        content_type: "application/json; charset=utf-8".into(),
        body: serde_json::json!({"errors": [{"code": code, "message": message}]}).to_string(),
    }
}

fn plain_json(status: u16, message: &str) -> Fault {
    Fault::Raw {
        status,
        content_type: "application/json; charset=utf-8".into(),
        body: serde_json::json!({ "message": message }).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str) -> RecordedRequest {
        RecordedRequest {
            method: "GET".into(),
            path: path.into(),
            headers: vec![],
            body: bytes::Bytes::new(),
            outcome: String::new(),
        }
    }

    fn draws(seed: u64, percent: u32, n: usize) -> Vec<Fault> {
        let mut c = Chaos::new(seed, percent, Protocol::AwsJson, Duration::from_secs(1));
        (0..n).map(|_| c.next_fault(&request("/x"))).collect()
    }

    #[test]
    fn decisions_do_not_depend_on_interleaving() {
        let mut c = Chaos::new(5, 50, Protocol::Plain, Duration::from_secs(1));
        let a: Vec<Fault> = (0..20).map(|_| c.next_fault(&request("/a"))).collect();
        let mut c = Chaos::new(5, 50, Protocol::Plain, Duration::from_secs(1));
        let mut b = Vec::new();
        for _ in 0..20 {
            c.next_fault(&request("/other"));
            b.push(c.next_fault(&request("/a")));
        }
        assert_eq!(a, b);
    }

    #[test]
    fn the_same_seed_gives_the_same_faults() {
        assert_eq!(draws(7, 20, 200), draws(7, 20, 200));
        assert_ne!(draws(7, 20, 200), draws(8, 20, 200));
    }

    #[test]
    fn the_rate_is_kept_and_every_kind_shows() {
        let faults = draws(42, 20, 2000);
        let faulted = faults.iter().filter(|f| **f != Fault::Forward).count();
        assert!((300..500).contains(&faulted), "{faulted} of 2000");
        for want in [
            "ConnectionReset",
            "ResetMidRequest",
            "ResetMidResponse",
            "ForwardThenReset",
        ] {
            assert!(
                faults.iter().any(|f| f.name() == want),
                "{want} never drawn"
            );
        }
        assert!(faults.iter().any(|f| matches!(f, Fault::Stall(_))));
        assert!(faults.iter().any(|f| f.name() == "ThrottlingException"));
        assert!(draws(1, 100, 50).iter().all(|f| *f != Fault::Forward));
        assert!(draws(1, 0, 50).iter().all(|f| *f == Fault::Forward));
    }
}
