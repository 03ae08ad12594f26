//! Revert: point each service back at the revision that was serving before this run and wait,
//! bounded, until that is healthy again. The wait is the same poll loop as the rollout's, with
//! the rollback's deployment as "ours" and no rollback target of its own (a rollback that
//! fails is reported, never rolled back in turn).

use std::collections::HashSet;
use std::time::Duration;

use super::assess::{Verdict, Watch};
use super::ecs_api::{EcsApi, ServiceState};
use super::plan::failed_task_threshold;
use super::watch::{Clock, Observe, PollInterval, Report, Watched, wait};

/// How long a rollback may take to settle before the report says it did not.
pub const ROLLBACK_WAIT: Duration = Duration::from_secs(10 * 60);

/// One service to put back.
#[derive(Debug, Clone)]
pub struct RollbackTarget {
    pub service: String,
    pub task_definition: String,
}

/// How one service's rollback went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Serving the old revision again: `running`/`desired` tasks, after `took`.
    Healthy {
        running: u32,
        desired: u32,
        took: Duration,
    },
    /// Updated back, but not healthy within the bound (or failing): what was seen.
    NotSettled(String),
    /// The UpdateService back failed: the service still runs the new revision.
    UpdateFailed(String),
}

#[derive(Debug, Clone)]
pub struct RollbackOutcome {
    pub service: String,
    pub task_definition: String,
    pub deployment_id: Option<String>,
    pub settled: Settled,
}

/// Update every service back, then wait for all of them together.
pub async fn roll_back<C: Clock, O: Observe, R: Report>(
    api: &EcsApi,
    clock: &C,
    observer: &mut O,
    report: &mut R,
    targets: &[RollbackTarget],
    limit: Duration,
    interval: PollInterval,
) -> Vec<RollbackOutcome> {
    let started = clock.now();
    let mut outcomes = Vec::new();
    let mut watched = Vec::new();
    let mut desired = Vec::new();
    for t in targets {
        match api
            .update_service(&t.service, &t.task_definition, false)
            .await
        {
            Ok(state) => {
                report.progress(&format!(
                    "{}: rolling back to {}",
                    t.service,
                    short(&t.task_definition)
                ));
                let w = watch_of(&state, &t.task_definition, clock.now(), limit);
                outcomes.push(RollbackOutcome {
                    service: t.service.clone(),
                    task_definition: t.task_definition.clone(),
                    deployment_id: Some(w.watch.our_deployment_id.clone()),
                    settled: Settled::NotSettled("not observed yet".into()),
                });
                watched.push(w);
                desired.push(state.desired_count);
            }
            Err(e) => outcomes.push(RollbackOutcome {
                service: t.service.clone(),
                task_definition: t.task_definition.clone(),
                deployment_id: None,
                settled: Settled::UpdateFailed(e.to_string()),
            }),
        }
    }
    if watched.is_empty() {
        return outcomes;
    }
    let mut interval = interval;
    let result = wait(clock, observer, report, &mut watched, &mut interval).await;
    let took = clock.now().duration_since(started).unwrap_or_default();
    for (i, w) in watched.iter().enumerate() {
        let Some(outcome) = outcomes.iter_mut().find(|o| o.service == w.service) else {
            continue;
        };
        outcome.settled = match &result {
            Ok(verdicts) => settled(&verdicts[i], desired[i], took),
            Err(e) => Settled::NotSettled(format!("polling failed: {e}")),
        };
    }
    outcomes
}

fn settled(verdict: &Verdict, desired: u32, took: Duration) -> Settled {
    match verdict {
        Verdict::Healthy => Settled::Healthy {
            running: desired,
            desired,
            took,
        },
        Verdict::Failed(f) => Settled::NotSettled(f.reason.clone()),
        Verdict::TimedOut { waiting_for } => Settled::NotSettled(format!(
            "not healthy within {} minutes: waiting for {waiting_for}",
            ROLLBACK_WAIT.as_secs() / 60
        )),
        Verdict::Pending { progress } => Settled::NotSettled(progress.clone()),
    }
}

/// The rollback's own deployment, from the UpdateService answer.
fn watch_of(
    state: &ServiceState,
    task_definition: &str,
    now: std::time::SystemTime,
    limit: Duration,
) -> Watched {
    let primary = state.deployments.iter().find(|d| d.status == "PRIMARY");
    let watch = Watch {
        our_deployment_id: primary.map(|d| d.id.clone()).unwrap_or_default(),
        our_task_definition: task_definition.to_owned(),
        previous_task_definition: None,
        started_at: primary.and_then(|d| d.created_at).unwrap_or(now),
        deadline: now + limit,
        failed_task_threshold: failed_task_threshold(state),
    };
    let seen: HashSet<String> = state.events.iter().map(|e| e.id.clone()).collect();
    Watched::new(state.name.clone(), watch, seen)
}

/// `family:revision` from a task-definition ARN.
pub fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}
