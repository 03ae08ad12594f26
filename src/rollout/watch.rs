//! The health gate's poller: one loop that observes every watched service per poll, prints
//! only what changed (new service events by id, a changed progress line), asks `assess` for a
//! verdict, and stops at the first failure or when every service is healthy.
//!
//! Three seams keep it testable and keep GitHub's formats out of `rollout`:
//! - [`Clock`]: the time and the sleep; unit tests advance a fake clock instead of sleeping;
//! - [`Observe`]: one poll's snapshots; [`EcsObserver`] (`ecs_observer.rs`) asks ECS and
//!   ELBv2 (and the `health-check-url` probe, `probe.rs`), tests script them;
//! - [`Report`]: where progress and outside text go; `app` prints events through the runner's
//!   `print_untrusted`, so no event text can act as a workflow command.
//!
//! A service whose service deployment is followed (`Watched::deployment`) prints its changes
//! (stage, traffic, hooks, alarms) and gets the verdict of `deployment_track`, which puts
//! `assess`'s view and ECS's own together (ECS's rollback is waited for, never raced).
//!
//! The interval starts at 2 s and grows by half each poll to 15 s: a failure is seen quickly
//! at the start, and a long wait costs at most 4 DescribeServices calls a minute per 10
//! services. Once a service runs all its tasks, each change it shows brings the interval back
//! to 1 s, since the last steps follow quickly. `OIDC_ECS_DEPLOY_POLL_SECONDS` fixes it (tests,
//! the demo).

use std::collections::HashSet;
use std::future::Future;
use std::time::{Duration, SystemTime};

use super::assess::{ServiceSnapshot, Verdict, Watch, assess, new_events};
use super::deployment_track::DeploymentTrack;
use super::ecs_api::ApiError;
pub use super::ecs_observer::{EcsObserver, snapshot};

/// The environment variable that fixes the poll interval, in seconds (0 allowed).
pub const POLL_SECONDS_ENV: &str = "OIDC_ECS_DEPLOY_POLL_SECONDS";

/// Polls in a row that may fail (after the SDK's own retries) before the wait gives up.
const MAX_FAILED_POLLS: u32 = 5;

pub trait Clock {
    fn now(&self) -> SystemTime;
    fn sleep(&self, d: Duration) -> impl Future<Output = ()>;
}

/// Wall-clock time, tokio's sleep.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await
    }
}

/// The wait between polls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollInterval {
    next: Duration,
    /// Where [`PollInterval::restart`] brings it back to.
    quick: Duration,
    max: Duration,
}

impl PollInterval {
    /// 2 s, growing by half each poll, at most 15 s; restarted at 1 s.
    pub fn adaptive() -> PollInterval {
        PollInterval {
            next: Duration::from_secs(2),
            quick: Duration::from_secs(1),
            max: Duration::from_secs(15),
        }
    }

    pub fn fixed(d: Duration) -> PollInterval {
        PollInterval {
            next: d,
            quick: d,
            max: d,
        }
    }

    /// [`POLL_SECONDS_ENV`] when it holds a number of seconds, else [`PollInterval::adaptive`].
    pub fn from_setting(value: Option<&str>) -> PollInterval {
        match value.and_then(|v| v.trim().parse::<f64>().ok()) {
            Some(s) if s >= 0.0 && s.is_finite() => PollInterval::fixed(Duration::from_secs_f64(s)),
            _ => PollInterval::adaptive(),
        }
    }

    pub fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 3 / 2).min(self.max);
        wait
    }

    /// Back to the quick wait (1 s), growing again from there: the rollout is in its last
    /// steps (see [`all_tasks_running`]).
    pub fn restart(&mut self) {
        self.next = self.quick;
    }
}

/// One poll: a snapshot of each service asked about, in the order asked.
pub trait Observe {
    fn observe(
        &mut self,
        watched: &[&Watched],
    ) -> impl Future<Output = Result<Vec<ServiceSnapshot>, ApiError>>;
}

/// Where the loop's output goes.
pub trait Report {
    /// A line the tool wrote (progress, a retried poll).
    fn progress(&mut self, line: &str);
    /// Service events: outside text, to be printed so it cannot act as a command.
    fn events(&mut self, service: &str, messages: &[String]);
}

/// One service under watch.
#[derive(Debug, Clone)]
pub struct Watched {
    pub service: String,
    pub watch: Watch,
    /// Event ids already printed (seed with those present before UpdateService).
    pub seen: HashSet<String>,
    /// The service deployment followed alongside (`deployment_track`), when ECS named one.
    pub deployment: Option<DeploymentTrack>,
    last_progress: Option<String>,
}

impl Watched {
    pub fn new(service: impl Into<String>, watch: Watch, seen: HashSet<String>) -> Watched {
        Watched {
            service: service.into(),
            watch,
            seen,
            deployment: None,
            last_progress: None,
        }
    }

    /// The same, following service deployment `track` too.
    pub fn following(mut self, track: Option<DeploymentTrack>) -> Watched {
        self.deployment = track;
        self
    }
}

/// Poll until every service is healthy or one is not. Returns a verdict per service, in the
/// order given: services still pending when another failed keep `Verdict::Pending`.
pub async fn wait<C: Clock, O: Observe, R: Report>(
    clock: &C,
    observer: &mut O,
    report: &mut R,
    watched: &mut [Watched],
    interval: &mut PollInterval,
) -> Result<Vec<Verdict>, ApiError> {
    let mut verdicts: Vec<Option<Verdict>> = vec![None; watched.len()];
    let mut failed_polls = 0;
    loop {
        let open: Vec<usize> = (0..watched.len())
            .filter(|&i| verdicts[i].is_none())
            .collect();
        let asked: Vec<&Watched> = open.iter().map(|&i| &watched[i]).collect();
        let mut finishing = false;
        match observer.observe(&asked).await {
            Ok(snapshots) => {
                failed_polls = 0;
                for (&i, snapshot) in open.iter().zip(&snapshots) {
                    let w = &mut watched[i];
                    let fresh: Vec<(String, String)> = new_events(&w.seen, snapshot)
                        .into_iter()
                        .map(|e| (e.id.clone(), e.message.clone()))
                        .collect();
                    if !fresh.is_empty() {
                        let messages: Vec<String> = fresh.iter().map(|(_, m)| m.clone()).collect();
                        report.events(&w.service, &messages);
                        w.seen.extend(fresh.into_iter().map(|(id, _)| id));
                    }
                    let assessed = assess(&w.watch, snapshot);
                    let verdict = match (&mut w.deployment, &snapshot.service_deployment) {
                        (Some(track), Some(sd)) => {
                            let (lines, ecs) = track.follow(&w.service, sd);
                            for line in &lines {
                                report.progress(line);
                            }
                            let at = snapshot.observed_at;
                            track.verdict(&w.service, assessed, &ecs, &w.watch, at)
                        }
                        _ => assessed,
                    };
                    match verdict {
                        Verdict::Pending { progress } => {
                            if w.last_progress.as_ref() != Some(&progress) {
                                finishing |= all_tasks_running(&w.watch, snapshot);
                                report.progress(&progress);
                                w.last_progress = Some(progress);
                            }
                        }
                        final_verdict => verdicts[i] = Some(final_verdict),
                    }
                }
            }
            Err(e) => {
                failed_polls += 1;
                if failed_polls >= MAX_FAILED_POLLS {
                    return Err(e);
                }
                report.progress(&format!("poll {failed_polls} failed ({e}); trying again"));
            }
        }
        let done = verdicts.iter().all(Option::is_some)
            || verdicts
                .iter()
                .flatten()
                .any(|v| !matches!(v, Verdict::Healthy));
        if done {
            return Ok(verdicts
                .into_iter()
                .zip(watched.iter())
                .map(|(v, w)| {
                    v.unwrap_or_else(|| Verdict::Pending {
                        progress: w.last_progress.clone().unwrap_or_default(),
                    })
                })
                .collect());
        }
        if finishing {
            interval.restart();
        }
        clock.sleep(interval.next_wait()).await;
    }
}

/// Our deployment runs every desired task and nothing is pending: what is left (targets
/// turning healthy, the old tasks draining, ECS marking the rollout COMPLETED) follows in
/// seconds, so a change seen in this state brings the next poll back to 1 s instead of the
/// grown wait (the verdict is not left waiting up to 15 s for a poll). The cost stays bounded:
/// a restart needs a visible change, the waits grow again from 1 s (1, 1.5, 2.25 s...), one
/// poll is one DescribeServices call per 10 services, and target health is asked only while
/// targets are not all healthy (`ecs_observer`).
pub fn all_tasks_running(watch: &Watch, snapshot: &ServiceSnapshot) -> bool {
    snapshot
        .deployments
        .iter()
        .find(|d| d.id == watch.our_deployment_id)
        .is_some_and(|d| d.desired > 0 && d.running >= d.desired && d.pending == 0)
}

#[cfg(test)]
#[path = "watch_tests.rs"]
mod tests;
