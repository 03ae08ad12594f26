//! The rollout's part of a cancelled run, after its future was dropped: from the record of
//! what it changed (`changes.rs`), ask ECS to put back every service this run changed (when
//! `rollback` allows) through the rollback's own request, within a few seconds and without
//! waiting for it to settle (GitHub sends SIGTERM about 7.5 s after SIGINT, then SIGKILL); then
//! the outputs, the summary section and a sentence per service for the failure.

use std::time::Duration;

use aws_config::SdkConfig;

use crate::envvars::EnvVars;
use crate::failure::Failure;
use crate::inputs::RolloutConfig;
use crate::rollout::rollback::{
    Requested, Rollback, RollbackOutcome, RollbackTarget, Settled, short,
};
use crate::rollout::service_deployment::ServiceDeploymentReader;
use crate::rollout::watch::{EcsObserver, PollInterval, SystemClock};

use super::changes::{Change, Changes, Update};
use super::outcome::{Ended, Row};
use super::{ConsoleReport, links, report};
use crate::app::Console;

/// How long the rollback requests may take: well inside the 7.5 s between GitHub's SIGINT and
/// its SIGTERM, with time left for the summary.
pub const REQUEST_BUDGET: Duration = Duration::from_secs(5);

/// What became of one service of a cancelled rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fate {
    /// The plan left it, or the run stopped before its update.
    Untouched,
    /// ECS accepted the rollback to `previous`: UpdateService, starting this deployment, or
    /// (no deployment) StopServiceDeployment with ROLLBACK.
    RollbackRequested { deployment: Option<String> },
    /// The rollback request failed (or did not answer in time): why.
    RollbackFailed(String),
    /// `rollback: false`: left on the new revision, unverified.
    Left,
}

/// Where a cancelled rollout left the services.
#[derive(Debug, Default)]
pub struct Stands {
    /// One clause per service this run changed, for the headline (`api: rollback to api:1
    /// requested`).
    pub brief: Vec<String>,
    /// One sentence per service of the plan, in order.
    pub lines: Vec<String>,
}

/// Request the rollbacks, publish, and say where each service stands (nothing when the rollout
/// had not decided its plan yet).
pub async fn on_cancel(
    cfg: &RolloutConfig,
    aws: &SdkConfig,
    env: &EnvVars,
    changes: &Changes,
    console: &mut Console,
) -> Result<Stands, Failure> {
    let planned = changes.snapshot();
    if changes.committed() {
        // The gate passed and the run published its result before the signal: nothing to undo.
        return Ok(Stands {
            brief: vec!["the rollout had already passed its health gate".to_owned()],
            lines: vec![format!("kept: {}", names(&planned))],
        });
    }
    let targets: Vec<RollbackTarget> = planned
        .iter()
        .filter(|c| cfg.rollback && c.touched())
        .map(|c| RollbackTarget {
            service: c.service.clone(),
            task_definition: c.previous.clone(),
            // As the rollout's own rollback: ECS's rollback of the service deployment returns
            // where ours would only when the service was steady before.
            service_deployment: match &c.update {
                Update::Accepted {
                    service_deployment, ..
                } if c.steady_before => service_deployment.clone(),
                _ => None,
            },
        })
        .collect();
    let outcomes = if targets.is_empty() {
        Vec::new()
    } else {
        request(cfg, aws, env, &targets, console).await
    };
    let fates: Vec<Fate> = planned
        .iter()
        .map(|c| fate(c, cfg.rollback, &targets, &outcomes))
        .collect();
    if planned.is_empty() {
        return Ok(Stands::default());
    }
    let rows: Vec<Row> = planned.iter().zip(&fates).map(|(c, f)| row(c, f)).collect();
    let requested =
        !targets.is_empty() && fates.iter().all(|f| !matches!(f, Fate::RollbackFailed(_)));
    let place = links::Place::new(
        aws.region().map_or("us-east-1", |r| r.as_ref()),
        &cfg.cluster,
    );
    report::publish_cancelled(console, &place, &rows, requested)?;
    Ok(Stands {
        brief: planned
            .iter()
            .zip(&fates)
            .filter_map(|(c, f)| brief(c, f))
            .collect(),
        lines: rows.into_iter().map(|r| r.stand).collect(),
    })
}

fn brief(change: &Change, fate: &Fate) -> Option<String> {
    let service = &change.service;
    match fate {
        Fate::Untouched => None,
        Fate::RollbackRequested { .. } => Some(format!(
            "{service}: rollback to {} requested",
            short(&change.previous)
        )),
        Fate::RollbackFailed(_) => Some(format!("{service}: rollback failed")),
        Fate::Left => Some(format!(
            "{service}: left on {} (rollback: false)",
            short(&change.wanted)
        )),
    }
}

/// The rollback's own request, bounded by `REQUEST_BUDGET`: an outcome per target.
async fn request(
    cfg: &RolloutConfig,
    aws: &SdkConfig,
    env: &EnvVars,
    targets: &[RollbackTarget],
    console: &mut Console,
) -> Vec<RollbackOutcome> {
    let api = super::ecs_api(cfg, aws, env);
    let reader = ServiceDeploymentReader::new(aws);
    let clock = SystemClock;
    let mut observer = EcsObserver::new(&api, &clock, None);
    let mut report = ConsoleReport { console };
    let mut rollback = Rollback::new(
        &api,
        &reader,
        &clock,
        &mut observer,
        &mut report,
        PollInterval::adaptive(),
    );
    match tokio::time::timeout(REQUEST_BUDGET, rollback.request(targets)).await {
        Ok(Requested {
            watched,
            mut outcomes,
            stopped,
        }) => {
            for w in watched {
                if let Some(o) = outcomes.iter_mut().find(|o| o.service == w.service) {
                    o.deployment_id = Some(w.watch.our_deployment_id);
                }
            }
            // Taken over by ECS: no deployment of ours to name.
            outcomes.extend(stopped.into_iter().map(|t| RollbackOutcome {
                service: t.service,
                task_definition: t.task_definition,
                deployment_id: None,
                settled: Settled::NotSettled("StopServiceDeployment accepted".into()),
            }));
            outcomes
        }
        Err(_) => Vec::new(),
    }
}

fn fate(
    change: &Change,
    rollback: bool,
    targets: &[RollbackTarget],
    outcomes: &[RollbackOutcome],
) -> Fate {
    if !change.touched() {
        return Fate::Untouched;
    }
    if !rollback {
        return Fate::Left;
    }
    if !targets.iter().any(|t| t.service == change.service) {
        return Fate::Untouched;
    }
    match outcomes.iter().find(|o| o.service == change.service) {
        Some(RollbackOutcome {
            settled: Settled::UpdateFailed(why),
            ..
        }) => Fate::RollbackFailed(why.clone()),
        Some(o) => Fate::RollbackRequested {
            deployment: o.deployment_id.clone(),
        },
        None => Fate::RollbackFailed(format!(
            "the request did not complete within {} s",
            REQUEST_BUDGET.as_secs()
        )),
    }
}

fn row(change: &Change, fate: &Fate) -> Row {
    let (service, wanted, previous) = (
        change.service.as_str(),
        short(&change.wanted),
        short(&change.previous),
    );
    let how = match &change.update {
        Update::InFlight => format!("its update to {wanted} was in flight when cancelled"),
        _ => format!("had been updated to {wanted}"),
    };
    let (now, verdict, ended, stand) = match fate {
        Fate::Untouched => (
            change.served.clone(),
            "not updated",
            Ended::Untouched,
            format!(
                "{service} still serves {} (untouched)",
                short(&change.served)
            ),
        ),
        Fate::RollbackRequested { deployment } => (
            change.previous.clone(),
            "cancelled, rollback requested",
            Ended::RollbackNotSettled { by_ecs: false },
            format!(
                "{service} {how}: rollback to {previous} requested ({}); the run stopped before it could watch it settle",
                match deployment {
                    Some(d) => format!("UpdateService accepted, deployment {d}"),
                    None => "ECS accepted StopServiceDeployment with ROLLBACK".to_owned(),
                }
            ),
        ),
        Fate::RollbackFailed(why) => (
            change.wanted.clone(),
            "cancelled, rollback failed",
            Ended::RollbackFailed,
            format!(
                "{service} {how}: the rollback to {previous} failed: {why}; it may still run {wanted}"
            ),
        ),
        Fate::Left => (
            change.wanted.clone(),
            "cancelled, left as it is",
            Ended::Left,
            format!("{service} {how}: left on it unverified (rollback: false)"),
        ),
    };
    Row {
        service: change.service.clone(),
        served: change.served.clone(),
        previous: change.previous.clone(),
        now,
        deployment: match &change.update {
            Update::Accepted { deployment_id, .. } => Some(deployment_id.clone()),
            _ => None,
        },
        service_deployment: match &change.update {
            Update::Accepted {
                service_deployment, ..
            } => service_deployment.clone(),
            _ => None,
        },
        strategy: None,
        stages: Vec::new(),
        verdict: verdict.to_owned(),
        took: None,
        ended,
        updated: change.touched(),
        stand,
    }
}

fn names(changes: &[Change]) -> String {
    changes
        .iter()
        .map(|c| format!("{} on {}", c.service, short(&c.wanted)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(update: Update) -> Change {
        Change {
            service: "api".into(),
            served: "arn:aws:ecs:r:1:task-definition/api:1".into(),
            previous: "arn:aws:ecs:r:1:task-definition/api:1".into(),
            wanted: "arn:aws:ecs:r:1:task-definition/api:2".into(),
            steady_before: true,
            update,
        }
    }

    fn accepted() -> Update {
        Update::Accepted {
            deployment_id: "ecs-svc/7".into(),
            service_deployment: None,
        }
    }

    fn target() -> RollbackTarget {
        RollbackTarget {
            service: "api".into(),
            task_definition: "arn:aws:ecs:r:1:task-definition/api:1".into(),
            service_deployment: None,
        }
    }

    fn answered(settled: Settled) -> RollbackOutcome {
        RollbackOutcome {
            service: "api".into(),
            task_definition: "arn:aws:ecs:r:1:task-definition/api:1".into(),
            deployment_id: Some("ecs-svc/8".into()),
            settled,
        }
    }

    /// (update, `rollback` input, targets, outcomes) -> (serves now, verdict, part of the sentence)
    type Case = (
        Update,
        bool,
        Vec<RollbackTarget>,
        Vec<RollbackOutcome>,
        &'static str,
        &'static str,
        &'static str,
    );

    #[test]
    fn each_record_and_answer_gives_its_row() {
        let requested = answered(Settled::NotSettled("not observed yet".into()));
        let refused = answered(Settled::UpdateFailed("AccessDeniedException".into()));
        let stopped = RollbackOutcome {
            deployment_id: None,
            ..answered(Settled::NotSettled("StopServiceDeployment accepted".into()))
        };
        let cases: Vec<Case> = vec![
            (
                Update::NotSent,
                true,
                vec![],
                vec![],
                "api:1",
                "not updated",
                "api still serves api:1 (untouched)",
            ),
            (
                accepted(),
                true,
                vec![target()],
                vec![requested.clone()],
                "api:1",
                "cancelled, rollback requested",
                "api had been updated to api:2: rollback to api:1 requested (UpdateService accepted, deployment ecs-svc/8)",
            ),
            (
                Update::InFlight,
                true,
                vec![target()],
                vec![requested],
                "api:1",
                "cancelled, rollback requested",
                "its update to api:2 was in flight when cancelled: rollback to api:1 requested",
            ),
            (
                accepted(),
                true,
                vec![target()],
                vec![stopped],
                "api:1",
                "cancelled, rollback requested",
                "rollback to api:1 requested (ECS accepted StopServiceDeployment with ROLLBACK)",
            ),
            (
                accepted(),
                true,
                vec![target()],
                vec![refused],
                "api:2",
                "cancelled, rollback failed",
                "the rollback to api:1 failed: AccessDeniedException; it may still run api:2",
            ),
            (
                accepted(),
                true,
                vec![target()],
                vec![],
                "api:2",
                "cancelled, rollback failed",
                "the request did not complete within 5 s",
            ),
            (
                accepted(),
                false,
                vec![],
                vec![],
                "api:2",
                "cancelled, left as it is",
                "left on it unverified (rollback: false)",
            ),
        ];
        for (update, rollback, targets, outcomes, now, verdict, stand) in cases {
            let c = change(update.clone());
            let f = fate(&c, rollback, &targets, &outcomes);
            assert_eq!(brief(&c, &f).is_some(), update != Update::NotSent);
            let r = row(&c, &f);
            assert_eq!(short(&r.now), now, "{update:?}");
            assert_eq!(r.verdict, verdict, "{update:?}");
            assert!(r.stand.contains(stand), "{update:?}: {}", r.stand);
            assert_eq!(r.updated, update != Update::NotSent);
            assert_eq!(
                r.deployment.as_deref(),
                matches!(update, Update::Accepted { .. }).then_some("ecs-svc/7")
            );
        }
    }
}
