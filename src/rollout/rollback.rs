//! Revert: ask ECS to roll the service deployment back (StopServiceDeployment, stopType
//! ROLLBACK) while it is still under way, else point the service back at the revision that was
//! serving before this run (UpdateService), and wait, bounded, until that is healthy again; or,
//! when ECS rolled back by itself (circuit breaker, alarm, hook), wait for ECS's rollback to
//! settle without racing it. The wait is the same poll loop
//! as the rollout's, with the rollback's deployment as "ours" and no rollback target of its own
//! (a rollback that fails is reported, never rolled back in turn). What the outcome says
//! (running and desired tasks, how long it took, why it did not settle) is what the polls saw.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use super::assess::Verdict;
use super::ecs_api::{EcsApi, ServiceState};
use super::observed::{Recorded, deployment_counts};
use super::plan::primary_watch;
use super::service_deployment::ServiceDeploymentReader;
use super::watch::{Clock, Observe, PollInterval, Report, Watched, wait};

/// How long a rollback may take to settle before the report says it did not.
pub const ROLLBACK_WAIT: Duration = Duration::from_secs(10 * 60);

/// One service to put back.
#[derive(Debug, Clone)]
pub struct RollbackTarget {
    pub service: String,
    pub task_definition: String,
    /// The service deployment to stop with a rollback, while it is PENDING or IN_PROGRESS.
    pub service_deployment: Option<String>,
}

/// How one service's rollback went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Serving the old revision again: `running`/`desired` tasks as last observed, after `took`.
    Healthy {
        running: u32,
        desired: u32,
        took: Duration,
    },
    /// Updated back, but not healthy within the bound (or failing, or not observable): why.
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

impl RollbackOutcome {
    pub fn is_settled(&self) -> bool {
        matches!(self.settled, Settled::Healthy { .. })
    }
}

/// Whether every service is serving its previous revision again (and there was one to revert).
pub fn all_settled(outcomes: &[RollbackOutcome]) -> bool {
    !outcomes.is_empty() && outcomes.iter().all(RollbackOutcome::is_settled)
}

/// The rollbacks asked for: the deployments UpdateService started, under watch; an outcome
/// for each of those ("not observed yet") and for each request that failed; and the targets
/// whose service deployment ECS agreed to roll back (StopServiceDeployment).
pub struct Requested {
    pub watched: Vec<Watched>,
    pub outcomes: Vec<RollbackOutcome>,
    pub stopped: Vec<RollbackTarget>,
}

/// What the poll loop needs to know: where the services go back to, and how to wait.
pub struct Rollback<'a, C, O, R> {
    pub api: &'a EcsApi,
    /// StopServiceDeployment, for targets that name a service deployment under way.
    pub deployments: Option<&'a ServiceDeploymentReader>,
    pub clock: &'a C,
    pub observer: &'a mut O,
    pub report: &'a mut R,
    pub limit: Duration,
    pub interval: PollInterval,
}

impl<'a, C, O, R> Rollback<'a, C, O, R> {
    /// Roll back through `api`, stopping service deployments with `deployments`, polling every
    /// `interval` for at most [`ROLLBACK_WAIT`].
    pub fn new(
        api: &'a EcsApi,
        deployments: &'a ServiceDeploymentReader,
        clock: &'a C,
        observer: &'a mut O,
        report: &'a mut R,
        interval: PollInterval,
    ) -> Self {
        Rollback {
            api,
            deployments: Some(deployments),
            clock,
            observer,
            report,
            limit: ROLLBACK_WAIT,
            interval,
        }
    }
}

impl<C: Clock, O: Observe, R: Report> Rollback<'_, C, O, R> {
    /// Roll every service back (StopServiceDeployment with ROLLBACK where a service deployment
    /// is under way and ECS takes it, else UpdateService), then wait for all of them together.
    pub async fn roll_back(&mut self, targets: &[RollbackTarget]) -> Vec<RollbackOutcome> {
        let started = self.clock.now();
        let Requested {
            mut watched,
            mut outcomes,
            stopped,
        } = self.request(targets).await;
        if !stopped.is_empty() {
            let (w, o) = self.ecs_rollbacks(&stopped, started).await;
            watched.extend(w);
            outcomes.extend(o);
        }
        self.settle(watched, outcomes, started).await
    }

    /// Ask ECS to put every service back, without waiting for it (a cancelled run has seconds
    /// left).
    pub async fn request(&mut self, targets: &[RollbackTarget]) -> Requested {
        let mut outcomes = Vec::new();
        let mut watched = Vec::new();
        let mut stopped = Vec::new();
        for t in targets {
            if let (Some(reader), Some(arn)) = (self.deployments, &t.service_deployment) {
                match reader.stop_with_rollback(arn).await {
                    Ok(()) => {
                        self.report.progress(&format!(
                            "{}: rolling back to {} (StopServiceDeployment {arn}, stopType ROLLBACK)",
                            t.service,
                            short(&t.task_definition)
                        ));
                        stopped.push(t.clone());
                        continue;
                    }
                    Err(e) => self.report.progress(&format!(
                        "{}: ECS did not take the rollback of its service deployment ({e}); updating the service back instead",
                        t.service
                    )),
                }
            }
            // Forced: after a failed rollback of ECS's own (ROLLBACK_FAILED), the service may
            // already name the previous revision, and an UpdateService to it would start nothing.
            match self
                .api
                .update_service(&t.service, &t.task_definition, true)
                .await
            {
                Ok(state) => {
                    self.report.progress(&format!(
                        "{}: rolling back to {}",
                        t.service,
                        short(&t.task_definition)
                    ));
                    watched.push(self.watch(t, &state, &mut outcomes));
                }
                Err(e) => outcomes.push(outcome(t, None, Settled::UpdateFailed(e.to_string()))),
            }
        }
        Requested {
            watched,
            outcomes,
            stopped,
        }
    }

    /// ECS rolled these services back by itself: wait for its rollback deployments (each
    /// service's PRIMARY now) to settle on the previous revision.
    pub async fn await_ecs_rollback(&mut self, targets: &[RollbackTarget]) -> Vec<RollbackOutcome> {
        let started = self.clock.now();
        let (watched, outcomes) = self.ecs_rollbacks(targets, started).await;
        self.settle(watched, outcomes, started).await
    }

    /// Waits (bounded) until ECS's rollback deployments have begun: each target's service runs
    /// its previous revision again; returns them under watch, and the outcomes of those that
    /// did not get there.
    async fn ecs_rollbacks(
        &mut self,
        targets: &[RollbackTarget],
        started: SystemTime,
    ) -> (Vec<Watched>, Vec<RollbackOutcome>) {
        let names: Vec<String> = targets.iter().map(|t| t.service.clone()).collect();
        let mut interval = self.interval.clone();
        // ECS may have failed our deployment and not yet started its rollback deployment.
        let states = loop {
            let states = match self.api.describe_services(&names).await {
                Ok((states, _missing)) => states,
                Err(e) => {
                    let why = format!("ECS rolled it back, but its state cannot be read: {e}");
                    let outcomes = targets
                        .iter()
                        .map(|t| outcome(t, None, Settled::NotSettled(why.clone())))
                        .collect();
                    return (Vec::new(), outcomes);
                }
            };
            let begun = targets.iter().all(|t| {
                states
                    .iter()
                    .any(|s| s.name == t.service && s.task_definition == t.task_definition)
            });
            if begun || self.clock.now() >= started + self.limit {
                break states;
            }
            self.clock.sleep(interval.next_wait()).await;
        };
        let mut outcomes = Vec::new();
        let mut watched = Vec::new();
        for t in targets {
            let state = states.iter().find(|s| s.name == t.service);
            match state.filter(|s| s.task_definition == t.task_definition) {
                Some(state) => {
                    watched.push(self.watch(t, state, &mut outcomes));
                }
                None => {
                    let serving = state.map_or("nothing (the service is gone)", |s| {
                        short(&s.task_definition)
                    });
                    let why = format!(
                        "ECS's rollback did not return to {}: the service runs {serving}",
                        short(&t.task_definition)
                    );
                    outcomes.push(outcome(t, None, Settled::NotSettled(why)));
                }
            }
        }
        (watched, outcomes)
    }

    /// Starts watching `t`'s rollback deployment in `state`; its outcome is "not observed yet"
    /// until `settle` fills it in.
    fn watch(
        &self,
        t: &RollbackTarget,
        state: &ServiceState,
        outcomes: &mut Vec<RollbackOutcome>,
    ) -> Watched {
        outcomes.push(outcome(
            t,
            None,
            Settled::NotSettled("not observed yet".into()),
        ));
        watch_of(state, &t.task_definition, self.clock.now(), self.limit)
    }

    /// Wait for the rollback deployments in `watched`, and fill in their outcomes.
    async fn settle(
        &mut self,
        mut watched: Vec<Watched>,
        mut outcomes: Vec<RollbackOutcome>,
        started: SystemTime,
    ) -> Vec<RollbackOutcome> {
        if watched.is_empty() {
            return outcomes;
        }
        let mut recorded = Recorded::new(&mut *self.observer, self.clock);
        let mut interval = self.interval.clone();
        let result = wait(
            self.clock,
            &mut recorded,
            &mut *self.report,
            &mut watched,
            &mut interval,
        )
        .await;
        for (i, w) in watched.iter().enumerate() {
            let Some(o) = outcomes.iter_mut().find(|o| o.service == w.service) else {
                continue;
            };
            o.deployment_id = Some(w.watch.our_deployment_id.clone());
            let last = recorded.last(&w.service);
            o.settled = match (&result, last) {
                (Ok(verdicts), Some(snapshot)) => {
                    let took = snapshot
                        .observed_at
                        .duration_since(started)
                        .unwrap_or_default();
                    let (running, desired) =
                        deployment_counts(snapshot, &w.watch.our_deployment_id)
                            .unwrap_or((snapshot.running_count, snapshot.desired_count));
                    settled(&verdicts[i], running, desired, took, self.limit)
                }
                (Ok(_), None) => Settled::NotSettled("no poll answered for it".into()),
                (Err(e), _) => match recorded.failing() {
                    Some(failing) => {
                        Settled::NotSettled(format!("its state cannot be read: {failing}"))
                    }
                    None => Settled::NotSettled(format!("its state cannot be read: {e}")),
                },
            };
        }
        outcomes
    }
}

fn outcome(t: &RollbackTarget, deployment_id: Option<String>, settled: Settled) -> RollbackOutcome {
    RollbackOutcome {
        service: t.service.clone(),
        task_definition: t.task_definition.clone(),
        deployment_id,
        settled,
    }
}

fn settled(
    verdict: &Verdict,
    running: u32,
    desired: u32,
    took: Duration,
    limit: Duration,
) -> Settled {
    match verdict {
        Verdict::Healthy => Settled::Healthy {
            running,
            desired,
            took,
        },
        Verdict::Failed(f) => Settled::NotSettled(f.reason.clone()),
        Verdict::TimedOut { waiting_for } => {
            let minutes = limit.as_secs() / 60;
            Settled::NotSettled(format!(
                "not healthy within {minutes} minute{}: waiting for {waiting_for}",
                if minutes == 1 { "" } else { "s" }
            ))
        }
        Verdict::Pending { progress } => Settled::NotSettled(format!(
            "still in progress ({running}/{desired} running): {progress}"
        )),
    }
}

/// The rollback's own deployment: the service's PRIMARY one, as UpdateService (or, for
/// ECS's own rollback, DescribeServices) answered.
fn watch_of(
    state: &ServiceState,
    task_definition: &str,
    now: SystemTime,
    limit: Duration,
) -> Watched {
    let watch = primary_watch(state, task_definition, None, now, now + limit);
    let seen: HashSet<String> = state.events.iter().map(|e| e.id.clone()).collect();
    Watched::new(state.name.clone(), watch, seen)
}

/// `family:revision` from a task-definition ARN.
pub fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}
