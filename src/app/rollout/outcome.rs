//! Where each service stands at the end of a run, in one row per service: what it served
//! before, what it serves now, its deployment, the verdict, how long it took, and a sentence
//! saying the same for the failure message. The outputs, the job summary and the failure are
//! all written from these rows, so they cannot disagree. Every figure in them was observed.

use std::time::{Duration, SystemTime};

use crate::rollout::Verdict;
use crate::rollout::rollback::{RollbackOutcome, Settled, short};

use super::act::{Started, Tracked};
use super::decide::Decision;
use super::gate::Waited;

/// What became of one service after the verdicts (and any rollback).
#[derive(Debug, Clone, Copy)]
pub enum Fate<'a> {
    /// On the wanted revision, healthy, kept.
    Healthy,
    /// Its own UpdateService was refused: it still runs what it ran.
    Refused,
    /// Not reached or not changed by this run (the run stopped at another service).
    Untouched,
    /// Left on the wanted revision: `rollback: false`, or nothing to go back to.
    Left,
    /// Rolled back, by this run or (`by_ecs`) by ECS's circuit breaker.
    Reverted {
        outcome: &'a RollbackOutcome,
        by_ecs: bool,
    },
}

impl<'a> Fate<'a> {
    /// The fate of a service the run reached, once rollbacks are done; `kept` when it was not
    /// changed by this run and is not failing (nothing to revert).
    pub fn after(
        ours: &'a [RollbackOutcome],
        by_ecs: &'a [RollbackOutcome],
        service: &str,
        kept: bool,
    ) -> Fate<'a> {
        if let Some(outcome) = by_ecs.iter().find(|o| o.service == service) {
            return Fate::Reverted {
                outcome,
                by_ecs: true,
            };
        }
        match ours.iter().find(|o| o.service == service) {
            Some(outcome) => Fate::Reverted {
                outcome,
                by_ecs: false,
            },
            None if kept => Fate::Healthy,
            None => Fate::Left,
        }
    }
}

/// How a service's part of the run ended, for the failure's headline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Healthy,
    Refused,
    Untouched,
    Left,
    RolledBack { by_ecs: bool },
    RollbackNotSettled { by_ecs: bool },
    RollbackFailed,
}

impl Ended {
    fn of(fate: &Fate) -> Ended {
        match fate {
            Fate::Healthy => Ended::Healthy,
            Fate::Refused => Ended::Refused,
            Fate::Untouched => Ended::Untouched,
            Fate::Left => Ended::Left,
            Fate::Reverted { outcome, by_ecs } => match outcome.settled {
                Settled::Healthy { .. } => Ended::RolledBack { by_ecs: *by_ecs },
                Settled::NotSettled(_) => Ended::RollbackNotSettled { by_ecs: *by_ecs },
                Settled::UpdateFailed(_) => Ended::RollbackFailed,
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub service: String,
    /// The revision it served before this run.
    pub served: String,
    /// Where a rollback returns (the last completed deployment's revision).
    pub previous: String,
    /// The revision it serves now, as far as the run knows.
    pub now: String,
    pub deployment: Option<String>,
    /// The service deployment followed, its strategy and the lifecycle stages seen.
    pub service_deployment: Option<String>,
    pub strategy: Option<String>,
    pub stages: Vec<String>,
    pub verdict: String,
    pub took: Option<Duration>,
    pub ended: Ended,
    /// Whether this run called UpdateService for it.
    pub updated: bool,
    /// One sentence: where the service stands.
    pub stand: String,
}

/// A row per service of the decision, in order; `fate` answers for each (its index, and the
/// tracking when the run reached it).
pub fn rows<'a>(
    decision: &Decision,
    started: &Started,
    waited: Option<&Waited>,
    now: SystemTime,
    fate: impl Fn(usize, Option<&Tracked>) -> Fate<'a>,
) -> Vec<Row> {
    let polls_failed = waited.is_some_and(|w| w.result.is_err());
    decision
        .plan
        .services
        .iter()
        .enumerate()
        .map(|(i, plan)| {
            let at = started.tracked.iter().position(|t| t.index == i);
            let tracked = at.map(|k| &started.tracked[k]);
            let verdict = at.and_then(|k| waited.and_then(|w| w.verdict(k)));
            let decided = at.and_then(|k| waited.and_then(|w| w.decided_at[k]));
            let counts = at.and_then(|k| waited.and_then(|w| w.counts[k]));
            let deployment = at
                .map(|k| started.watched[k].watch.our_deployment_id.clone())
                .filter(|d| !d.is_empty());
            let track = at.and_then(|k| started.watched[k].deployment.as_ref());
            let fate = fate(i, tracked);
            let wanted = tracked.map_or(plan.serving.as_str(), |t| t.wanted.as_str());
            let ended = match fate {
                Fate::Healthy => decided.unwrap_or(now),
                _ => now,
            };
            let took = tracked.map(|t| ended.duration_since(t.started).unwrap_or_default());
            let (now_serving, mut stand) = stand(
                &plan.service,
                &plan.serving,
                wanted,
                tracked.is_some_and(|t| t.updated),
                &fate,
            );
            if let (Fate::Healthy, Some((running, desired))) = (fate, counts) {
                stand.push_str(&format!(" ({running}/{desired} running)"));
            }
            Row {
                service: plan.service.clone(),
                served: plan.serving.clone(),
                previous: plan.rollback_to.clone(),
                now: now_serving,
                deployment,
                service_deployment: track.map(|t| t.arn.clone()),
                strategy: track.and_then(|t| t.strategy.clone()),
                stages: track.map(|t| t.stages.clone()).unwrap_or_default(),
                verdict: verdict_text(verdict, polls_failed, &fate),
                took,
                ended: Ended::of(&fate),
                updated: tracked.is_some_and(|t| t.updated),
                stand,
            }
        })
        .collect()
}

/// The revision served now, and the sentence that says where the service stands.
fn stand(
    service: &str,
    served: &str,
    wanted: &str,
    updated: bool,
    fate: &Fate,
) -> (String, String) {
    match fate {
        Fate::Healthy if updated => (
            wanted.to_owned(),
            format!("{service} serves {}, healthy", short(wanted)),
        ),
        Fate::Healthy => (
            wanted.to_owned(),
            format!(
                "{service} serves {}, healthy (this run changed nothing)",
                short(wanted)
            ),
        ),
        Fate::Refused => (
            served.to_owned(),
            format!(
                "{service} still serves {} (its update was refused)",
                short(served)
            ),
        ),
        Fate::Untouched => (
            served.to_owned(),
            format!("{service} still serves {} (untouched)", short(served)),
        ),
        Fate::Left if updated => (
            wanted.to_owned(),
            format!("{service} was left on {} (rollback: false)", short(wanted)),
        ),
        Fate::Left => (
            wanted.to_owned(),
            format!(
                "{service} still serves {}, which this run did not change",
                short(wanted)
            ),
        ),
        Fate::Reverted { outcome, by_ecs } => {
            let back = short(&outcome.task_definition);
            let how = if *by_ecs {
                ": ECS rolled it back".to_owned()
            } else if updated {
                format!(" had been updated to {}: rolled back", short(wanted))
            } else {
                format!(" was failing on {}: rolled back", short(wanted))
            };
            match &outcome.settled {
                Settled::Healthy {
                    running,
                    desired,
                    took,
                } => (
                    outcome.task_definition.clone(),
                    format!(
                        "{service}{how}, and is serving {back} again ({running}/{desired} running, steady state reached in {} s)",
                        took.as_secs()
                    ),
                ),
                Settled::NotSettled(why) => (
                    outcome.task_definition.clone(),
                    format!(
                        "{service}{how} to {back}, but it is not serving it healthily yet: {why}"
                    ),
                ),
                Settled::UpdateFailed(why) => (
                    wanted.to_owned(),
                    format!(
                        "{service}: the rollback to {back} failed: {why}; it still runs {}",
                        short(wanted)
                    ),
                ),
            }
        }
    }
}

fn verdict_text(verdict: Option<&Verdict>, polls_failed: bool, fate: &Fate) -> String {
    let own = match (verdict, fate) {
        (_, Fate::Refused) => "update refused".to_owned(),
        (_, Fate::Untouched) => "not updated".to_owned(),
        (Some(Verdict::Healthy), _) => "healthy".to_owned(),
        (Some(Verdict::Failed(_)), _) => "failed".to_owned(),
        (Some(Verdict::TimedOut { .. }), _) => "timed out".to_owned(),
        (_, _) if polls_failed => "unknown (polls failed)".to_owned(),
        (Some(Verdict::Pending { .. }), _) => "not decided (another service failed)".to_owned(),
        (None, _) => "not watched".to_owned(),
    };
    match fate {
        Fate::Reverted { outcome, by_ecs } => {
            let by = if *by_ecs { " by ECS" } else { "" };
            match outcome.settled {
                Settled::Healthy { .. } => format!("{own}, rolled back{by}"),
                Settled::NotSettled(_) => format!("{own}, rollback{by} not settled"),
                Settled::UpdateFailed(_) => format!("{own}, rollback failed"),
            }
        }
        Fate::Left if verdict != Some(&Verdict::Healthy) => format!("{own}, left as it is"),
        _ => own,
    }
}

#[cfg(test)]
#[path = "outcome_tests.rs"]
mod tests;
