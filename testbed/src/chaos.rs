//! `Chaos`: a seeded source of faults for a `FaultProxy` standing in front of a whole service.
//! Each request it is asked about is faulted with a fixed probability; the fault is drawn from
//! what a server of that protocol really does under stress: a 500, a 503, a throttle in the
//! protocol's own shape, a connection reset before the answer or in the middle of a body (the
//! request's or the answer's), a reset after the request took effect, a stall past the client's
//! timeout. The same seed gives the same sequence of decisions, so a failing run can be
//! replayed.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::fault::Fault;

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
#[derive(Debug)]
pub struct Chaos {
    rng: StdRng,
    percent: u32,
    protocol: Protocol,
    stall: Duration,
    kinds: Vec<Kind>,
}

impl Chaos {
    /// Every kind of fault, on `percent` (0 to 100) of the requests; a stall holds the
    /// connection for `stall` (make it longer than the client's timeout).
    pub fn new(seed: u64, percent: u32, protocol: Protocol, stall: Duration) -> Chaos {
        Chaos {
            rng: StdRng::seed_from_u64(seed),
            percent: percent.min(100),
            protocol,
            stall,
            kinds: Kind::ALL.to_vec(),
        }
    }

    /// Only these kinds.
    pub fn only(mut self, kinds: &[Kind]) -> Chaos {
        assert!(!kinds.is_empty(), "Chaos needs at least one kind of fault");
        self.kinds = kinds.to_vec();
        self
    }

    /// The next request's fate: `Fault::Forward` or a fault.
    pub fn next_fault(&mut self) -> Fault {
        // Both draws happen for every request, so one decision never shifts the next.
        let roll = self.rng.random_range(0..100u32);
        let pick = self.rng.random_range(0..self.kinds.len());
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
                if unavailable { "UNAVAILABLE" } else { "UNKNOWN" },
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

    fn draws(seed: u64, percent: u32, n: usize) -> Vec<Fault> {
        let mut c = Chaos::new(seed, percent, Protocol::AwsJson, Duration::from_secs(1));
        (0..n).map(|_| c.next_fault()).collect()
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
        for want in ["ConnectionReset", "ResetMidRequest", "ResetMidResponse", "ForwardThenReset"] {
            assert!(faults.iter().any(|f| f.name() == want), "{want} never drawn");
        }
        assert!(faults.iter().any(|f| matches!(f, Fault::Stall(_))));
        assert!(faults.iter().any(|f| f.name() == "ThrottlingException"));
        assert!(draws(1, 100, 50).iter().all(|f| *f != Fault::Forward));
        assert!(draws(1, 0, 50).iter().all(|f| *f == Fault::Forward));
    }
}
