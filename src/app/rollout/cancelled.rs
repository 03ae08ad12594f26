//! The rollout's part of a cancelled run, after its future was dropped: from the record of
//! what it changed (`changes.rs`), ask ECS to put back every service this run changed (when
//! `rollback` allows) through the rollback's own request, within a few seconds and without
//! waiting for it to settle (GitHub sends SIGTERM about 7.5 s after SIGINT, then SIGKILL); then
//! the outputs, the summary section and a sentence per service for the failure. A request ECS
//! answered with an error, one it did not answer in time and one there was no time left to send
//! are told apart: each leaves the service possibly on the new revision, and says what to check.

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
/// its SIGTERM, with time left for the summary and a GitHub Deployment's final status.
pub const REQUEST_BUDGET: Duration = Duration::from_secs(5);

/// What became of one service of a cancelled rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fate {
    /// The plan left it, or the run stopped before its update.
    Untouched,
    /// ECS accepted the rollback to `previous`: UpdateService, starting this deployment, or
    /// (no deployment) StopServiceDeployment with ROLLBACK.
    RollbackRequested { deployment: Option<String> },
    /// The rollback request failed (ECS refused it, or the SDK gave up on it): why.
    RollbackFailed(String),
    /// No answer within `REQUEST_BUDGET`: the request was sent (ECS may have taken it), or the
    /// time ran out before its turn.
    RollbackUnanswered { sent: bool },
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
    let answers = if targets.is_empty() {
        Answers::default()
    } else {
        request_each(cfg, aws, env, &targets, console).await
    };
    let fates: Vec<Fate> = planned
        .iter()
        .map(|c| fate(c, cfg.rollback, &targets, &answers))
        .collect();
    if planned.is_empty() {
        return Ok(Stands::default());
    }
    let rows: Vec<Row> = planned.iter().zip(&fates).map(|(c, f)| row(c, f)).collect();
    // `requested` only when ECS accepted every rollback due; else `false` (the summary and the
    // failure say which was not and what to check).
    let requested = !targets.is_empty()
        && fates
            .iter()
            .all(|f| matches!(f, Fate::Untouched | Fate::RollbackRequested { .. }));
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
        Fate::RollbackUnanswered { sent: true } => {
            Some(format!("{service}: rollback request unanswered"))
        }
        Fate::RollbackUnanswered { sent: false } => {
            Some(format!("{service}: rollback not requested (no time left)"))
        }
        Fate::Left => Some(format!(
            "{service}: left on {} (rollback: false)",
            short(&change.wanted)
        )),
    }
}

/// ECS's answers to the rollback requests.
#[derive(Debug, Default)]
struct Answers {
    outcomes: Vec<RollbackOutcome>,
    /// The service whose request was in flight when `REQUEST_BUDGET` ran out (those after it
    /// were not sent).
    unanswered: Option<String>,
}

/// The rollback's own request for one service after another, all within `REQUEST_BUDGET`.
async fn request_each(
    cfg: &RolloutConfig,
    aws: &SdkConfig,
    env: &EnvVars,
    targets: &[RollbackTarget],
    console: &mut Console,
) -> Answers {
    let deadline = tokio::time::Instant::now() + REQUEST_BUDGET;
    let mut answers = Answers::default();
    for t in targets {
        let one = request(cfg, aws, env, std::slice::from_ref(t), console);
        match tokio::time::timeout_at(deadline, one).await {
            Ok(outcomes) if !outcomes.is_empty() => answers.outcomes.extend(outcomes),
            // Past the deadline (or `request`'s own limit, which cannot end before it).
            _ => {
                answers.unanswered = Some(t.service.clone());
                break;
            }
        }
    }
    answers
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

fn fate(change: &Change, rollback: bool, targets: &[RollbackTarget], answers: &Answers) -> Fate {
    if !change.touched() {
        return Fate::Untouched;
    }
    if !rollback {
        return Fate::Left;
    }
    if !targets.iter().any(|t| t.service == change.service) {
        return Fate::Untouched;
    }
    match answers
        .outcomes
        .iter()
        .find(|o| o.service == change.service)
    {
        Some(RollbackOutcome {
            settled: Settled::UpdateFailed(why),
            ..
        }) => Fate::RollbackFailed(why.clone()),
        Some(o) => Fate::RollbackRequested {
            deployment: o.deployment_id.clone(),
        },
        None => Fate::RollbackUnanswered {
            sent: answers.unanswered.as_deref() == Some(change.service.as_str()),
        },
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
                "{service} {how}: the rollback to {previous} failed: {why}; {}",
                check(wanted, previous)
            ),
        ),
        Fate::RollbackUnanswered { sent: true } => (
            change.wanted.clone(),
            "cancelled, rollback unanswered",
            Ended::RollbackFailed,
            format!(
                "{service} {how}: ECS did not answer the rollback request (to {previous}) within {} s, so it may or may not have taken it; {}",
                REQUEST_BUDGET.as_secs(),
                check(wanted, previous)
            ),
        ),
        Fate::RollbackUnanswered { sent: false } => (
            change.wanted.clone(),
            "cancelled, rollback not requested",
            Ended::RollbackFailed,
            format!(
                "{service} {how}: its rollback to {previous} was not requested: the {} s for the requests ran out before its turn; {}",
                REQUEST_BUDGET.as_secs(),
                check(wanted, previous)
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

/// What the user should check when a rollback was not accepted.
fn check(wanted: &str, previous: &str) -> String {
    format!(
        "it may still run {wanted}: check its deployments in the ECS console (the job summary links them) and, if it does, update it back to {previous}"
    )
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

    fn answers(outcomes: Vec<RollbackOutcome>, unanswered: Option<&str>) -> Answers {
        Answers {
            outcomes,
            unanswered: unanswered.map(str::to_owned),
        }
    }

    /// (update, `rollback` input, targets, answers) -> (serves now, verdict, part of the
    /// sentence, the headline's clause)
    type Case = (
        Update,
        bool,
        Vec<RollbackTarget>,
        Answers,
        &'static str,
        &'static str,
        &'static str,
        Option<&'static str>,
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
                answers(vec![], None),
                "api:1",
                "not updated",
                "api still serves api:1 (untouched)",
                None,
            ),
            (
                accepted(),
                true,
                vec![target()],
                answers(vec![requested.clone()], None),
                "api:1",
                "cancelled, rollback requested",
                "api had been updated to api:2: rollback to api:1 requested (UpdateService accepted, deployment ecs-svc/8)",
                Some("api: rollback to api:1 requested"),
            ),
            (
                Update::InFlight,
                true,
                vec![target()],
                answers(vec![requested], None),
                "api:1",
                "cancelled, rollback requested",
                "its update to api:2 was in flight when cancelled: rollback to api:1 requested",
                Some("api: rollback to api:1 requested"),
            ),
            (
                accepted(),
                true,
                vec![target()],
                answers(vec![stopped], None),
                "api:1",
                "cancelled, rollback requested",
                "rollback to api:1 requested (ECS accepted StopServiceDeployment with ROLLBACK)",
                Some("api: rollback to api:1 requested"),
            ),
            (
                accepted(),
                true,
                vec![target()],
                answers(vec![refused], None),
                "api:2",
                "cancelled, rollback failed",
                "the rollback to api:1 failed: AccessDeniedException; it may still run api:2: check its deployments in the ECS console",
                Some("api: rollback failed"),
            ),
            (
                accepted(),
                true,
                vec![target()],
                answers(vec![], Some("api")),
                "api:2",
                "cancelled, rollback unanswered",
                "ECS did not answer the rollback request (to api:1) within 5 s, so it may or may not have taken it; it may still run api:2",
                Some("api: rollback request unanswered"),
            ),
            (
                accepted(),
                true,
                vec![target()],
                answers(vec![], Some("web")),
                "api:2",
                "cancelled, rollback not requested",
                "its rollback to api:1 was not requested: the 5 s for the requests ran out before its turn; it may still run api:2",
                Some("api: rollback not requested (no time left)"),
            ),
            (
                accepted(),
                false,
                vec![],
                answers(vec![], None),
                "api:2",
                "cancelled, left as it is",
                "left on it unverified (rollback: false)",
                Some("api: left on api:2 (rollback: false)"),
            ),
        ];
        for (update, rollback, targets, answers, now, verdict, stand, clause) in cases {
            let c = change(update.clone());
            let f = fate(&c, rollback, &targets, &answers);
            assert_eq!(brief(&c, &f).as_deref(), clause, "{update:?}");
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
