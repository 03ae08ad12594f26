//! Which push failures deserve another attempt: the mapping from a `PushError` to the
//! registry protocol's classification in `crate::retry` (transport, HTTP status). The loop is
//! the crate's shared one too; `with_retries` runs it with this classifier and turns its result into a
//! `PushError` naming the operation. A blob is retried as a whole (HEAD, mount, upload from a
//! freshly opened source), so a half-sent body is never resumed; a manifest PUT is idempotent
//! and is retried the same way.

use std::future::Future;
use std::time::Duration;

pub use crate::retry::{Retry, RetryPolicy};

use super::push::PushError;
use super::registry_error::RegistryError;

/// A push's default budget: 4 attempts, waits of about 0.5, 1 and 2 s (jittered, capped at 4 s).
pub fn default_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(4),
    }
}

/// Transient or fatal, one case per kind of failure.
pub fn classify(e: &PushError) -> Retry {
    let PushError::Registry(e) = e else {
        // Bad names, unreadable or corrupt sources: the same input fails the same way.
        return Retry::Fatal;
    };
    match e {
        // Connection refused or reset, timeouts, a body cut off mid-stream: the network or a
        // registry restarting. A request that could not even be built is our bug.
        RegistryError::Http { source, .. } => crate::retry::classify_transport(source),
        // Throttling (ECR's TOO_MANY_REQUESTS), request timeout, and the 5xx a registry or its
        // storage answers while overloaded or failing over; denied, invalid, unknown, tag
        // immutable: asking again gets the same answer.
        RegistryError::Status { status, .. } => crate::retry::classify_http_status(*status),
        // Wrong credentials do not get better; an expired token needs a new login, not a retry.
        RegistryError::Unauthorized { .. } => Retry::Fatal,
        // The registry broke the protocol, or our source did not match its descriptor.
        RegistryError::Protocol { .. }
        | RegistryError::Corrupt { .. }
        | RegistryError::Read { .. }
        | RegistryError::Endpoint { .. } => Retry::Fatal,
        // The registry pointed its token service at plain http: asking again asks the same.
        RegistryError::UnsafeRealm { .. } => Retry::Fatal,
        // Handled by falling back to a monolithic upload before it gets here.
        RegistryError::ChunkedUnsupported { .. } => Retry::Fatal,
    }
}

/// Run `op` until it succeeds, fails fatally, or `policy.max_attempts` are spent. An error after
/// a retry becomes `PushError::GaveUp` (how many attempts over how long, the last error as its
/// source); an error on the first attempt is returned as it is.
pub async fn with_retries<T, F, Fut>(what: &str, policy: RetryPolicy, op: F) -> Result<T, PushError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, PushError>>,
{
    crate::retry::retry_named(what, &policy, classify, op)
        .await
        .map_err(|r| {
            if r.attempts > 1 {
                PushError::GaveUp {
                    what: what.to_owned(),
                    attempts: r.attempts,
                    elapsed: r.elapsed,
                    last: Box::new(r.error),
                }
            } else {
                r.error
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::registry_error::ErrorBody;

    fn status(code: u16) -> PushError {
        PushError::Registry(RegistryError::Status {
            what: "x".into(),
            registry: "r".into(),
            status: code,
            body: ErrorBody::default(),
        })
    }

    #[test]
    fn classifies_statuses() {
        let cases = [
            (429, Retry::Transient),
            (503, Retry::Transient),
            (500, Retry::Transient),
            (400, Retry::Fatal),
            (403, Retry::Fatal),
            (404, Retry::Fatal),
        ];
        for (code, want) in cases {
            assert_eq!(classify(&status(code)), want, "{code}");
        }
        assert_eq!(classify(&PushError::BadTag("x".into())), Retry::Fatal);
    }

    #[tokio::test]
    async fn retries_transient_then_reports_attempts() {
        let policy = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
        };
        let mut calls = 0;
        let err = with_retries("op", policy, || {
            calls += 1;
            async { Err::<(), _>(status(503)) }
        })
        .await
        .unwrap_err();
        assert_eq!(calls, 3);
        assert!(
            err.to_string()
                .starts_with("op: gave up after 3 attempts over"),
            "{err}"
        );

        let mut calls = 0;
        let err = with_retries("op", policy, || {
            calls += 1;
            async { Err::<(), _>(status(400)) }
        })
        .await
        .unwrap_err();
        assert_eq!(calls, 1, "fatal errors are not retried");
        assert!(matches!(err, PushError::Registry(_)));

        let mut calls = 0;
        let ok = with_retries("op", policy, || {
            calls += 1;
            let c = calls;
            async move { if c < 2 { Err(status(502)) } else { Ok(c) } }
        })
        .await
        .unwrap();
        assert_eq!(ok, 2);
    }
}
