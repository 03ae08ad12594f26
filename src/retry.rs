//! Retries, in one place: one loop for every remote call that can fail transiently (the OIDC
//! token request, STS, every registry request of an image push, the raw ECS calls, the rollout's
//! SDK calls), with jittered exponential backoff bounded by a [`RetryPolicy`], and one
//! classification per protocol deciding what is worth another attempt:
//! - [`classify_aws`] / [`classify_sdk`]: AWS services (an error code and an HTTP status), for
//!   raw JSON 1.1 answers and for any AWS SDK operation's error (STS, ECS, ELBv2, Logs);
//! - [`classify_http_status`]: HTTP services outside AWS's error model (the registry API v2,
//!   the runner's OIDC endpoint);
//! - [`classify_transport`]: a request that got no answer at all (reqwest).
//!
//! [`delivery`] / [`delivery_sdk`] say, for a call that must not take effect twice
//! (RegisterTaskDefinition, UpdateService), whether the failed request surely did not take
//! effect; [`retry_unrepeated`] asks, after any failure that may have, whether it did, and
//! takes that instead of sending again. The result of the loop records how
//! many attempts were made over how long (observed), so the final error can say so. Stages
//! keep only their error types and the mapping from those to these classifications.
//!
//! Every client's connect and read limit is [`request_timeout`], so a server that stops
//! answering costs one attempt, never the job: [`sdk_timeouts`] for the AWS SDK clients,
//! [`http_client`] for reqwest (a read limit, not a total one, so a long upload that keeps
//! moving is never cut off). It is 30 s unless `OIDC_ECS_DEPLOY_REQUEST_TIMEOUT_SECONDS` says
//! otherwise ([`configure_from`], called once at start).
//!
//! Sleeping goes through `tokio::time`, so tests under `tokio::time::pause()` run instantly.

use std::fmt;
use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::timeout::TimeoutConfig;
use rand::Rng;
use tokio::time::Instant;

use crate::envvars::EnvVars;

/// Environment variable overriding [`request_timeout`], in whole seconds (1 or more).
pub const REQUEST_TIMEOUT_ENV: &str = "OIDC_ECS_DEPLOY_REQUEST_TIMEOUT_SECONDS";
/// The default limit on connecting, and on waiting for each read of an answer.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

static REQUEST_TIMEOUT: OnceLock<Duration> = OnceLock::new();

/// Reads [`REQUEST_TIMEOUT_ENV`] once, at start: a value that is not a whole number of seconds
/// of at least 1 is ignored with a warning (the default stays).
pub fn configure_from(env: &EnvVars) {
    let Some(text) = env.non_empty(REQUEST_TIMEOUT_ENV) else {
        return;
    };
    match text.trim().parse::<u64>() {
        Ok(secs) if secs >= 1 => {
            let _ = REQUEST_TIMEOUT.set(Duration::from_secs(secs));
        }
        _ => tracing::warn!(
            "{REQUEST_TIMEOUT_ENV}={text:?} is not a whole number of seconds of at least 1; using {}",
            seconds(DEFAULT_REQUEST_TIMEOUT)
        ),
    }
}

/// How long a request may take to connect, and to get each next part of its answer.
pub fn request_timeout() -> Duration {
    REQUEST_TIMEOUT
        .get()
        .copied()
        .unwrap_or(DEFAULT_REQUEST_TIMEOUT)
}

/// The AWS SDK's limits for one attempt: connect and read at [`request_timeout`], and the
/// whole attempt at twice that (a stalled answer then fails the attempt, and our loop decides).
pub fn sdk_timeouts() -> TimeoutConfig {
    let limit = request_timeout();
    TimeoutConfig::builder()
        .connect_timeout(limit)
        .read_timeout(limit)
        .operation_attempt_timeout(limit * 2)
        .build()
}

/// A reqwest client builder with the [`request_timeout`] limits (connect, and each read), our
/// user agent and the process's TLS trust ([`crate::tls`]: roots read once, at the first
/// handshake that needs them, never for plain http); callers add what they need and build.
pub fn http_client() -> reqwest::ClientBuilder {
    let limit = request_timeout();
    reqwest::Client::builder()
        .tls_backend_preconfigured(crate::tls::reqwest_config())
        .user_agent(concat!("oidc-ecs-deploy/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(limit)
        .read_timeout(limit)
}

/// How hard to try. `max_attempts` counts the first attempt too; 1 means no retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, 250 ms doubling to a 4 s cap: at most about 8 s of waiting, short enough
    /// for a CI step, long enough to ride out a load balancer blip.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(4),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (1-based): `base * 2^(attempt-1)` capped at
    /// `max_delay`, then drawn uniformly from its upper half. The jitter keeps many jobs that
    /// failed together from retrying together; the floor keeps one job from retrying at once.
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let exp = self.base_delay.saturating_mul(
            1u32.checked_shl(attempt.saturating_sub(1))
                .unwrap_or(u32::MAX),
        );
        let cap = exp.min(self.max_delay);
        if cap.is_zero() {
            return cap;
        }
        rand::rng().random_range(cap / 2..=cap)
    }
}

/// The classifier's verdict on one error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Another attempt may succeed (throttling, 5xx, a dropped connection).
    Transient,
    /// It will fail the same way again (refused, malformed): stop now.
    Fatal,
}

/// AWS error codes that mean "slow down": the request was refused before it took effect.
pub fn is_aws_throttling(code: &str) -> bool {
    matches!(
        code,
        "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "RequestLimitExceeded"
            | "TooManyRequestsException"
            | "RequestThrottled"
            | "RequestThrottledException"
            | "SlowDown"
            | "PriorRequestNotComplete"
    )
}

/// An AWS service's error answer, by code first, then HTTP status. Each case says why.
pub fn classify_aws(status: u16, code: Option<&str>) -> Retry {
    match code {
        // Rate limits clear with time.
        Some(c) if is_aws_throttling(c) => Retry::Transient,
        // STS could not reach the token's issuer (GitHub's JWKS): the issuer's side is flaky.
        Some("IDPCommunicationError") => Retry::Transient,
        // The service's own failures (ECS's ServerException is a 500 by model).
        Some("ServerException" | "InternalFailure" | "InternalError" | "ServiceUnavailable") => {
            Retry::Transient
        }
        // An unknown code: a server-side failure repeats, a client-side one does not.
        _ if status >= 500 || status == 429 => Retry::Transient,
        // AccessDenied, validation, invalid token...: decisions; asking again gets the same.
        _ => Retry::Fatal,
    }
}

/// Any AWS SDK operation's error: service answers by [`classify_aws`]; the network
/// (connection refused or reset, DNS, TLS, timeouts, a body cut off) is transient, except a
/// refusal on trust grounds; a request that could not even be built is not.
pub fn classify_sdk<E>(error: &SdkError<E, HttpResponse>) -> Retry
where
    E: ProvideErrorMetadata,
{
    match error {
        SdkError::ServiceError(e) => classify_aws(e.raw().status().as_u16(), e.err().code()),
        // No roots, or an untrusted certificate: the same on every attempt (`crate::tls`).
        SdkError::DispatchFailure(f)
            if f.as_connector_error()
                .is_some_and(|e| crate::tls::is_trust_failure(e)) =>
        {
            Retry::Fatal
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            Retry::Transient
        }
        _ => Retry::Fatal,
    }
}

/// An HTTP answer outside AWS's error model, by status: throttled (429), request timeout
/// (408) and the 5xx of a server overloaded or failing over are transient; any other status
/// is about our request, which will not change.
pub fn classify_http_status(status: u16) -> Retry {
    match status {
        408 | 429 | 500..=599 => Retry::Transient,
        _ => Retry::Fatal,
    }
}

/// A request that got no answer: connect failures, resets, timeouts, a body cut short are
/// the network's; a request that could not be built is our bug and stays one, and a server
/// refused on trust grounds (no roots on this machine, a certificate no root vouches for) meets
/// the same roots and certificate again.
pub fn classify_transport(error: &reqwest::Error) -> Retry {
    if error.is_builder() || crate::tls::is_trust_failure(error) {
        Retry::Fatal
    } else {
        Retry::Transient
    }
}

/// Whether a failed request can have taken effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Surely not: no connection was made, or the service refused it without acting
    /// (throttling, a 4xx answer).
    NotApplied,
    /// Maybe: it may have been received and acted on before the failure (a timeout, a reset
    /// after sending, a 5xx).
    Ambiguous,
}

/// [`Delivery`] of a failure: `status`/`code` for an answer, `transport` for none.
pub fn delivery(
    status: Option<u16>,
    code: Option<&str>,
    transport: Option<&reqwest::Error>,
) -> Delivery {
    if let Some(e) = transport {
        return if e.is_connect() || e.is_builder() {
            Delivery::NotApplied
        } else {
            Delivery::Ambiguous
        };
    }
    match (status, code) {
        (_, Some(c)) if is_aws_throttling(c) => Delivery::NotApplied,
        (Some(s), _) if s >= 500 => Delivery::Ambiguous,
        (Some(_), _) => Delivery::NotApplied,
        (None, _) => Delivery::Ambiguous,
    }
}

/// [`Delivery`] of a failed AWS SDK call: an answer by its status and code; a request that
/// could not be built was never sent; anything else (a dropped connection, a timeout, an answer
/// cut off) may have been received.
pub fn delivery_sdk<E>(error: &SdkError<E, HttpResponse>) -> Delivery
where
    E: ProvideErrorMetadata,
{
    match error {
        SdkError::ServiceError(e) => {
            delivery(Some(e.raw().status().as_u16()), e.err().code(), None)
        }
        SdkError::ConstructionFailure(_) => Delivery::NotApplied,
        _ => Delivery::Ambiguous,
    }
}

/// A failed AWS SDK call that displays as "HTTP 400 Throttling: Rate exceeded" (or the
/// network error and its causes) rather than the SDK's bare "service error", so each retry's
/// log line and the final error say what happened.
pub struct SdkFailure<E>(pub SdkError<E, HttpResponse>);

impl<E> fmt::Display for SdkFailure<E>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&describe_sdk(&self.0))
    }
}

/// How [`SdkFailure`] shows a failed call.
pub fn describe_sdk<E>(error: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match error {
        SdkError::ServiceError(e) => format!(
            "HTTP {} {}: {}",
            e.raw().status().as_u16(),
            e.err().code().unwrap_or("(no code)"),
            e.err().message().unwrap_or("(no message)")
        ),
        other => crate::failure::with_causes(other),
    }
}

/// The last error, with the effort spent before giving up.
#[derive(Debug)]
pub struct Retried<E> {
    pub error: E,
    /// Attempts made, the failed last one included.
    pub attempts: u32,
    /// From the first attempt's start to the last one's failure.
    pub elapsed: Duration,
    /// `true` when the last error was transient and the policy ran out of attempts; `false` when
    /// a fatal error stopped the loop.
    pub exhausted: bool,
}

impl<E> Retried<E> {
    /// The error to report: when transient errors used up more than one attempt, what `gave_up`
    /// makes of the attempts, the time they took and the last error; otherwise (a fatal error, or
    /// a single attempt) the last error as it is.
    pub fn into_error(self, gave_up: impl FnOnce(u32, Duration, Box<E>) -> E) -> E {
        if self.exhausted && self.attempts > 1 {
            gave_up(self.attempts, self.elapsed, Box::new(self.error))
        } else {
            self.error
        }
    }
}

impl<E: fmt::Display> fmt::Display for Retried<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.exhausted {
            write!(
                f,
                "gave up after {} over {}: {}",
                attempts(self.attempts),
                seconds(self.elapsed),
                self.error
            )
        } else {
            self.error.fmt(f)
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for Retried<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

/// "1 attempt", "5 attempts".
pub fn attempts(n: u32) -> String {
    if n == 1 {
        "1 attempt".to_string()
    } else {
        format!("{n} attempts")
    }
}

/// A duration for people: "0.8 s", "12.0 s".
pub fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// Runs `op` until it succeeds, fails fatally, or `policy.max_attempts` is reached, sleeping
/// [`RetryPolicy::delay_after`] between attempts. Each retry is logged at warn level with the
/// error, so a slow step explains itself.
pub async fn retry<T, E, F, Fut>(
    policy: &RetryPolicy,
    classify: impl Fn(&E) -> Retry,
    op: F,
) -> Result<T, Retried<E>>
where
    E: fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    run_loop(None, policy, classify, op).await
}

/// [`retry`] for one of many operations in flight (a blob among blobs): the warn line for each
/// retry starts with `what`, so interleaved retries stay apart in the log.
pub async fn retry_named<T, E, F, Fut>(
    what: &str,
    policy: &RetryPolicy,
    classify: impl Fn(&E) -> Retry,
    op: F,
) -> Result<T, Retried<E>>
where
    E: fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    run_loop(Some(what), policy, classify, op).await
}

/// [`retry_named`] for a call that must not take effect twice: after a failure `delivery` calls
/// [`Delivery::Ambiguous`], `applied` looks whether the call took effect after all (its answer
/// lost); when it did, what it found is the result and the call is not sent again.
pub async fn retry_unrepeated<T, E, F, Fut, A, AFut>(
    what: &str,
    policy: &RetryPolicy,
    classify: impl Fn(&E) -> Retry,
    delivery: impl Fn(&E) -> Delivery,
    op: F,
    applied: A,
) -> Result<T, Retried<E>>
where
    E: fmt::Display,
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    A: Fn() -> AFut,
    AFut: Future<Output = Option<T>>,
{
    let (op, applied, delivery) = (&op, &applied, &delivery);
    let checked = move || async move {
        let error = match op().await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        if delivery(&error) == Delivery::Ambiguous {
            tracing::warn!("{what}: {error}; checking whether it took effect before trying again");
            if let Some(found) = applied().await {
                tracing::info!("{what}: it had taken effect; not sending it again");
                return Ok(found);
            }
        }
        Err(error)
    };
    retry_named(what, policy, classify, checked).await
}

async fn run_loop<T, E, F, Fut>(
    what: Option<&str>,
    policy: &RetryPolicy,
    classify: impl Fn(&E) -> Retry,
    mut op: F,
) -> Result<T, Retried<E>>
where
    E: fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let start = Instant::now();
    let max_attempts = policy.max_attempts.max(1);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let error = match op().await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let verdict = classify(&error);
        if verdict == Retry::Fatal || attempt >= max_attempts {
            let exhausted = verdict == Retry::Transient;
            return Err(Retried {
                error,
                attempts: attempt,
                elapsed: start.elapsed(),
                exhausted,
            });
        }
        let delay = policy.delay_after(attempt);
        let prefix = what.map(|w| format!("{w}: ")).unwrap_or_default();
        tracing::warn!(
            "{prefix}attempt {attempt} of {max_attempts} failed, retrying in {}: {error}",
            seconds(delay)
        );
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[derive(Debug, PartialEq)]
    enum E {
        Busy,
        Denied,
    }

    impl fmt::Display for E {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{self:?}")
        }
    }

    fn classify(e: &E) -> Retry {
        match e {
            E::Busy => Retry::Transient,
            E::Denied => Retry::Fatal,
        }
    }

    /// Runs `retry` over a scripted sequence of results and reports the calls made.
    async fn run(
        script: Vec<Result<u32, E>>,
        policy: &RetryPolicy,
    ) -> (Result<u32, Retried<E>>, u32) {
        let calls = Cell::new(0);
        let script = std::cell::RefCell::new(script.into_iter());
        let result = retry(policy, classify, || {
            calls.set(calls.get() + 1);
            let next = script.borrow_mut().next().expect("script ran out");
            async move { next }
        })
        .await;
        (result, calls.get())
    }

    /// Real sleeps, kept short: the crate's tokio lacks `test-util`, so `time::pause` is out of
    /// reach here (the loop itself sleeps through `tokio::time` and works under it).
    fn quick() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(8),
            max_delay: Duration::from_millis(40),
        }
    }

    #[tokio::test]
    async fn transient_errors_are_retried_until_success() {
        let (result, calls) = run(vec![Err(E::Busy), Err(E::Busy), Ok(7)], &quick()).await;
        assert_eq!(result.unwrap(), 7);
        assert_eq!(calls, 3);
    }

    #[tokio::test]
    async fn fatal_errors_stop_at_once() {
        let (result, calls) = run(vec![Err(E::Busy), Err(E::Denied)], &quick()).await;
        let err = result.unwrap_err();
        assert_eq!(
            (err.error, err.attempts, err.exhausted, calls),
            (E::Denied, 2, false, 2)
        );
    }

    #[tokio::test]
    async fn exhaustion_reports_attempts_and_time() {
        let (result, calls) = run((0..5).map(|_| Err(E::Busy)).collect(), &quick()).await;
        let err = result.unwrap_err();
        assert_eq!((err.attempts, err.exhausted, calls), (5, true, 5));
        // Four waits: 8, 16, 32 and 40 (capped) ms, each jittered into its upper half.
        assert!(
            err.elapsed >= Duration::from_millis(48),
            "{:?}",
            err.elapsed
        );
        let text = err.to_string();
        assert!(
            text.starts_with("gave up after 5 attempts over ") && text.ends_with(": Busy"),
            "{text}"
        );
    }

    #[test]
    fn only_transient_errors_over_several_attempts_are_reported_as_given_up() {
        // (attempts, exhausted, reported)
        let table = [
            (3, true, "gave up: 3 over 2s, last: Busy"),
            (1, true, "Busy"),
            (3, false, "Busy"),
            (1, false, "Busy"),
        ];
        for (attempts, exhausted, reported) in table {
            let retried = Retried {
                error: "Busy".to_string(),
                attempts,
                elapsed: Duration::from_secs(2),
                exhausted,
            };
            let error = retried.into_error(|attempts, elapsed, last| {
                format!("gave up: {attempts} over {elapsed:?}, last: {last}")
            });
            assert_eq!(
                error, reported,
                "{attempts} attempt(s), exhausted {exhausted}"
            );
        }
    }

    #[test]
    fn classifications_per_protocol() {
        let aws = [
            (400, Some("ThrottlingException"), Retry::Transient),
            (400, Some("Throttling"), Retry::Transient),
            (400, Some("IDPCommunicationError"), Retry::Transient),
            (500, Some("ServerException"), Retry::Transient),
            (503, None, Retry::Transient),
            (429, None, Retry::Transient),
            (400, Some("ClientException"), Retry::Fatal),
            (403, Some("AccessDeniedException"), Retry::Fatal),
            (400, Some("InvalidIdentityToken"), Retry::Fatal),
        ];
        for (status, code, want) in aws {
            assert_eq!(classify_aws(status, code), want, "{status} {code:?}");
        }
        for (status, want) in [
            (408, Retry::Transient),
            (429, Retry::Transient),
            (502, Retry::Transient),
            (404, Retry::Fatal),
            (401, Retry::Fatal),
        ] {
            assert_eq!(classify_http_status(status), want, "{status}");
        }
        let delivered = [
            (Some(400), Some("ThrottlingException"), Delivery::NotApplied),
            (Some(400), Some("ClientException"), Delivery::NotApplied),
            (Some(500), Some("ServerException"), Delivery::Ambiguous),
            (Some(503), None, Delivery::Ambiguous),
            (None, None, Delivery::Ambiguous),
        ];
        for (status, code, want) in delivered {
            assert_eq!(delivery(status, code, None), want, "{status:?} {code:?}");
        }
    }

    #[tokio::test]
    async fn an_unrepeated_call_is_not_sent_again_once_it_took_effect() {
        // (error, whether it may have been applied); `applied` finds the effect from call 3 on.
        for (script, want_sent, want) in [
            (vec![Err(E::Busy), Ok(1)], 2, Ok(1)),
            (vec![Err(E::Busy), Err(E::Busy), Ok(1)], 2, Ok(9)),
            (vec![Err(E::Denied)], 1, Err(E::Denied)),
        ] {
            let sent = Cell::new(0);
            let script = std::cell::RefCell::new(script.into_iter());
            let result = retry_unrepeated(
                "op",
                &quick(),
                classify,
                |_: &E| Delivery::Ambiguous,
                || {
                    sent.set(sent.get() + 1);
                    let next = script.borrow_mut().next().expect("script ran out");
                    async move { next }
                },
                || {
                    let found = (sent.get() >= 2).then_some(9);
                    async move { found }
                },
            )
            .await
            .map_err(|r| r.error);
            assert_eq!((sent.get(), result), (want_sent, want));
        }
    }

    #[tokio::test]
    async fn a_refused_connection_was_not_delivered() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{port}/"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(classify_transport(&e), Retry::Transient);
        assert_eq!(delivery(None, None, Some(&e)), Delivery::NotApplied);
    }

    #[test]
    fn delays_grow_and_stay_under_the_cap() {
        let policy = RetryPolicy::default();
        for attempt in 1..=40 {
            let cap = (policy.base_delay * 2u32.saturating_pow(attempt - 1).min(1 << 20))
                .min(policy.max_delay);
            let d = policy.delay_after(attempt);
            assert!(
                d >= cap / 2 && d <= cap,
                "attempt {attempt}: {d:?} not in [{:?}, {cap:?}]",
                cap / 2
            );
        }
        let zero = RetryPolicy {
            base_delay: Duration::ZERO,
            ..policy
        };
        assert_eq!(zero.delay_after(3), Duration::ZERO);
    }
}
