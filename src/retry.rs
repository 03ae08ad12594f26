//! One retry loop for every remote call that can fail transiently (the OIDC token request, STS,
//! every registry request of an image push): jittered exponential backoff bounded by a
//! [`RetryPolicy`], with the caller's classifier deciding what is worth another attempt. The
//! result records how many attempts were made over how long, so the final error can say so.
//! Each stage keeps its own classifier (`runner::oidc`, `identity::sts`, `image::retry`) and
//! its own final error; the loop and its timing live here once.
//!
//! Sleeping goes through `tokio::time`, so tests under `tokio::time::pause()` run instantly.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

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
        RetryPolicy { max_attempts: 5, base_delay: Duration::from_millis(250), max_delay: Duration::from_secs(4) }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (1-based): `base * 2^(attempt-1)` capped at
    /// `max_delay`, then drawn uniformly from its upper half. The jitter keeps many jobs that
    /// failed together from retrying together; the floor keeps one job from retrying at once.
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let exp = self.base_delay.saturating_mul(1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX));
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

impl<E: fmt::Display> fmt::Display for Retried<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.exhausted {
            write!(f, "gave up after {} over {}: {}", attempts(self.attempts), seconds(self.elapsed), self.error)
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
    if n == 1 { "1 attempt".to_string() } else { format!("{n} attempts") }
}

/// A duration for people: "0.8 s", "12.0 s".
pub fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// Runs `op` until it succeeds, fails fatally, or `policy.max_attempts` is reached, sleeping
/// [`RetryPolicy::delay_after`] between attempts. Each retry is logged at warn level with the
/// error, so a slow step explains itself.
pub async fn retry<T, E, F, Fut>(policy: &RetryPolicy, classify: impl Fn(&E) -> Retry, op: F) -> Result<T, Retried<E>>
where
    E: fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    run_loop(None, policy, classify, op).await
}

/// [`retry`] for one of many operations in flight (a blob among blobs): the warn line for each
/// retry starts with `what`, so interleaved retries stay apart in the log.
pub async fn retry_named<T, E, F, Fut>(what: &str, policy: &RetryPolicy, classify: impl Fn(&E) -> Retry, op: F) -> Result<T, Retried<E>>
where
    E: fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    run_loop(Some(what), policy, classify, op).await
}

async fn run_loop<T, E, F, Fut>(what: Option<&str>, policy: &RetryPolicy, classify: impl Fn(&E) -> Retry, mut op: F) -> Result<T, Retried<E>>
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
            return Err(Retried { error, attempts: attempt, elapsed: start.elapsed(), exhausted });
        }
        let delay = policy.delay_after(attempt);
        let prefix = what.map(|w| format!("{w}: ")).unwrap_or_default();
        tracing::warn!("{prefix}attempt {attempt} of {max_attempts} failed, retrying in {}: {error}", seconds(delay));
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
    async fn run(script: Vec<Result<u32, E>>, policy: &RetryPolicy) -> (Result<u32, Retried<E>>, u32) {
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
        RetryPolicy { max_attempts: 5, base_delay: Duration::from_millis(8), max_delay: Duration::from_millis(40) }
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
        assert_eq!((err.error, err.attempts, err.exhausted, calls), (E::Denied, 2, false, 2));
    }

    #[tokio::test]
    async fn exhaustion_reports_attempts_and_time() {
        let (result, calls) = run((0..5).map(|_| Err(E::Busy)).collect(), &quick()).await;
        let err = result.unwrap_err();
        assert_eq!((err.attempts, err.exhausted, calls), (5, true, 5));
        // Four waits: 8, 16, 32 and 40 (capped) ms, each jittered into its upper half.
        assert!(err.elapsed >= Duration::from_millis(48), "{:?}", err.elapsed);
        let text = err.to_string();
        assert!(text.starts_with("gave up after 5 attempts over ") && text.ends_with(": Busy"), "{text}");
    }

    #[test]
    fn delays_grow_and_stay_under_the_cap() {
        let policy = RetryPolicy::default();
        for attempt in 1..=40 {
            let cap = (policy.base_delay * 2u32.saturating_pow(attempt - 1).min(1 << 20)).min(policy.max_delay);
            let d = policy.delay_after(attempt);
            assert!(d >= cap / 2 && d <= cap, "attempt {attempt}: {d:?} not in [{:?}, {cap:?}]", cap / 2);
        }
        let zero = RetryPolicy { base_delay: Duration::ZERO, ..policy };
        assert_eq!(zero.delay_after(3), Duration::ZERO);
    }
}
