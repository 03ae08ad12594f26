//! What the polls actually saw, recorded around any [`Observe`]: the last snapshot of each
//! service (so a report quotes the running and desired counts ECS gave, and when the verdict
//! was reached) and the current streak of failed polls (so a wait that gave up says how many
//! polls failed over how long, with the last error). Reports quote these instead of constants.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use super::assess::ServiceSnapshot;
use super::ecs_api::ApiError;
use super::watch::{Clock, Observe, Watched};

/// The failed polls in a row, as observed.
#[derive(Debug, Clone)]
pub struct FailedPolls {
    pub count: u32,
    pub first: SystemTime,
    pub last: SystemTime,
    pub error: ApiError,
}

impl FailedPolls {
    pub fn over(&self) -> Duration {
        self.last.duration_since(self.first).unwrap_or_default()
    }
}

impl std::fmt::Display for FailedPolls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let polls = if self.count == 1 {
            "poll"
        } else {
            "polls in a row"
        };
        write!(
            f,
            "{} {polls} failed over {:.1} s, the last with: {}",
            self.count,
            self.over().as_secs_f64(),
            self.error
        )
    }
}

/// An observer that remembers what its inner observer returned.
pub struct Recorded<'o, O, C> {
    inner: &'o mut O,
    clock: &'o C,
    last: HashMap<String, ServiceSnapshot>,
    failing: Option<FailedPolls>,
}

impl<'o, O: Observe, C: Clock> Recorded<'o, O, C> {
    pub fn new(inner: &'o mut O, clock: &'o C) -> Self {
        Recorded {
            inner,
            clock,
            last: HashMap::new(),
            failing: None,
        }
    }

    /// The last snapshot of `service`, if a poll ever answered for it.
    pub fn last(&self, service: &str) -> Option<&ServiceSnapshot> {
        self.last.get(service)
    }

    /// The polls failing now (cleared by the next poll that answers).
    pub fn failing(&self) -> Option<&FailedPolls> {
        self.failing.as_ref()
    }
}

impl<O: Observe, C: Clock> Observe for Recorded<'_, O, C> {
    async fn observe(&mut self, watched: &[&Watched]) -> Result<Vec<ServiceSnapshot>, ApiError> {
        let answer = self.inner.observe(watched).await;
        let now = self.clock.now();
        match &answer {
            Ok(snapshots) => {
                self.failing = None;
                for (w, s) in watched.iter().zip(snapshots) {
                    self.last.insert(w.service.clone(), s.clone());
                }
            }
            Err(e) => {
                let (count, first) = self
                    .failing
                    .as_ref()
                    .map_or((0, now), |f| (f.count, f.first));
                self.failing = Some(FailedPolls {
                    count: count + 1,
                    first,
                    last: now,
                    error: e.clone(),
                });
            }
        }
        answer
    }
}

/// Running and desired tasks of one deployment in a snapshot, as ECS reported them.
pub fn deployment_counts(snapshot: &ServiceSnapshot, deployment_id: &str) -> Option<(u32, u32)> {
    snapshot
        .deployments
        .iter()
        .find(|d| d.id == deployment_id)
        .map(|d| (d.running, d.desired))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::watch::SystemClock;

    struct Script(Vec<Result<Vec<ServiceSnapshot>, ApiError>>);

    impl Observe for Script {
        async fn observe(&mut self, _: &[&Watched]) -> Result<Vec<ServiceSnapshot>, ApiError> {
            self.0.remove(0)
        }
    }

    fn error() -> ApiError {
        ApiError {
            op: "DescribeServices",
            code: Some("ThrottlingException".into()),
            message: "Rate exceeded".into(),
            attempts: 1,
            elapsed: Duration::ZERO,
        }
    }

    fn snapshot(running: u32) -> ServiceSnapshot {
        let mut s = crate::rollout::watch::snapshot("api", None, None, SystemTime::UNIX_EPOCH);
        s.running_count = running;
        s
    }

    #[tokio::test]
    async fn failures_are_counted_until_a_poll_answers_and_snapshots_kept() {
        let watch = crate::rollout::Watch {
            our_deployment_id: "d".into(),
            our_task_definition: "td".into(),
            previous_task_definition: None,
            started_at: SystemTime::UNIX_EPOCH,
            deadline: SystemTime::UNIX_EPOCH,
            failed_task_threshold: 3,
        };
        let w = Watched::new("api", watch, Default::default());
        let mut script = Script(vec![
            Err(error()),
            Err(error()),
            Ok(vec![snapshot(2)]),
            Err(error()),
        ]);
        let clock = SystemClock;
        let mut recorded = Recorded::new(&mut script, &clock);
        assert!(recorded.observe(&[&w]).await.is_err());
        assert!(recorded.observe(&[&w]).await.is_err());
        let failing = recorded.failing().expect("two failures").clone();
        assert_eq!(failing.count, 2);
        assert!(
            failing
                .to_string()
                .starts_with("2 polls in a row failed over "),
            "{failing}"
        );
        assert!(
            failing
                .to_string()
                .ends_with("Rate exceeded (ThrottlingException)"),
            "{failing}"
        );
        assert!(recorded.observe(&[&w]).await.is_ok());
        assert!(recorded.failing().is_none());
        assert_eq!(recorded.last("api").map(|s| s.running_count), Some(2));
        assert!(recorded.observe(&[&w]).await.is_err());
        assert_eq!(recorded.failing().map(|f| f.count), Some(1));
        assert_eq!(
            recorded.last("api").map(|s| s.running_count),
            Some(2),
            "a failed poll keeps the last answer"
        );
    }
}
