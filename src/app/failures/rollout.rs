//! The rollout's failures after the first change, as the user reads them (exit 4, or the API
//! call's own category when nothing was changed): what failed, the evidence, where each
//! service stands now, the fix. The rows of `app::rollout::outcome` say where each stands, so
//! the message, the outputs and the summary agree.

use crate::failure::{Category, Failure};
use crate::inputs::RolloutConfig;
use crate::rollout::ecs_api::{ApiError, ServiceState};
use crate::rollout::rollback::short;
use crate::rollout::{StoppedTask, Verdict, known_cause, summarise_stopped_task};

use crate::app::rollout::{Ended, Evidence, Row, Started, Waited};

/// One UpdateService failed. Services updated before it were rolled back (unless `rollback:
/// false`): the rows say how that went; when none had been updated, the call's own category.
pub fn update_refused(state: &ServiceState, error: &ApiError, rows: &[Row]) -> Failure {
    let verb = if error.is_access_denied() {
        "was refused"
    } else {
        "failed"
    };
    let code = error
        .code
        .as_deref()
        .map(|c| format!("{c}: "))
        .unwrap_or_default();
    let plain = super::rollout_api(error);
    let category = if rows.iter().any(|r| r.updated) {
        Category::DeployFailed
    } else {
        plain.category
    };
    let mut f = Failure::new(
        category,
        format!(
            "{}: UpdateService {verb} ({code}{})",
            state.name, error.message
        ),
    );
    f.details = rows.iter().map(|r| r.stand.clone()).collect();
    if error.is_access_denied() {
        return f.hint(format!("the role needs ecs:UpdateService on {} (and iam:PassRole on the task definition's roles)", state.arn));
    }
    match plain.hint {
        Some(h) => f.hint(h),
        None => f,
    }
}

/// The health gate failed (a verdict, a timeout, or polls that kept failing).
pub fn deploy_failed(
    cfg: &RolloutConfig,
    started: &Started,
    waited: &Waited,
    evidence: &Evidence,
    rows: &[Row],
) -> Failure {
    let mut f = match (&waited.result, evidence.failed) {
        (Err(polls), _) => {
            let names: Vec<&str> = started.tracked.iter().map(|t| t.service.as_str()).collect();
            Failure::new(Category::DeployFailed, format!("{}: cannot tell whether the rollout is healthy: {polls}", names.join(", ")))
                .hint("this is not a verdict on the new revision: its state could not be read. Check the role's ecs:DescribeServices\nand elasticloadbalancing:DescribeTargetHealth permissions and the account's ECS request rate, then re-run\n(a re-run registers nothing new and checks the health of what is deployed)")
        }
        (Ok(_), Some(i)) => {
            let t = &started.tracked[i];
            let watch = &started.watched[i].watch;
            let verdict = waited.verdict(i).expect("a failure has a verdict");
            failed_service(
                cfg,
                &t.service,
                &watch.our_deployment_id,
                &watch.our_task_definition,
                verdict,
                &evidence.stopped,
                &rows[t.index],
            )
        }
        (Ok(_), None) => Failure::new(Category::DeployFailed, "the rollout did not become healthy"),
    };
    f.details.extend(rows.iter().map(|r| r.stand.clone()));
    f
}

/// The exit-4 report for the service that failed: what failed, the evidence, the fix.
fn failed_service(
    cfg: &RolloutConfig,
    service: &str,
    deployment: &str,
    revision: &str,
    verdict: &Verdict,
    stopped: &[StoppedTask],
    row: &Row,
) -> Failure {
    let previous = short(&row.previous);
    let what = match verdict {
        Verdict::TimedOut { .. } => {
            let minutes = cfg.wait.as_secs() / 60;
            format!(
                "deployment {deployment} was not healthy within {minutes} minute{}",
                if minutes == 1 { "" } else { "s" }
            )
        }
        Verdict::Failed(f) if f.kind == crate::rollout::FailureKind::Superseded => {
            format!("deployment {deployment} was superseded by another deployment")
        }
        _ => format!("deployment {deployment} failed"),
    };
    let fate = match row.ended {
        Ended::RolledBack { by_ecs: true } => format!("ECS rolled it back to {previous}"),
        Ended::RollbackNotSettled { by_ecs: true } => {
            format!("ECS is rolling it back to {previous} (not settled)")
        }
        Ended::RolledBack { by_ecs: false } => format!("rolled back to {previous}"),
        Ended::RollbackNotSettled { by_ecs: false } => {
            format!("the rollback to {previous} did not settle")
        }
        Ended::RollbackFailed => format!("the rollback to {previous} failed"),
        _ if !cfg.rollback => "left as it is (rollback: false)".to_owned(),
        _ => "nothing was rolled back".to_owned(),
    };
    let mut f = Failure::new(Category::DeployFailed, format!("{service}: {what}, {fate}"));
    if !row.updated {
        f.details.push(format!(
            "this run changed nothing: {service} already ran {}, and it is not healthy",
            short(revision)
        ));
    }
    let mut hint = None;
    match verdict {
        Verdict::Failed(failure) => {
            f.details.push(failure.reason.clone());
            if let Some(e) = &failure.evidence {
                f.details.push(format!("ECS said: {e}"));
            }
            hint = failure.hint.clone();
        }
        Verdict::TimedOut { waiting_for } => {
            f.details.push(format!("still waiting for: {waiting_for}"))
        }
        _ => {}
    }
    if !stopped.is_empty() {
        f.details.push(format!(
            "{} stopped task(s) of {}:",
            stopped.len(),
            short(revision)
        ));
        for task in stopped {
            f.details.extend(
                summarise_stopped_task(task, cfg.show_task_logs)
                    .into_iter()
                    .map(|l| format!("  {l}")),
            );
        }
        hint = hint.or_else(|| stopped_hint(stopped, cfg.show_task_logs));
    }
    match hint {
        Some(h) => f.hint(h),
        None => f,
    }
}

/// The fix the stopped tasks point at, when one is known.
fn stopped_hint(stopped: &[StoppedTask], logs_shown: bool) -> Option<String> {
    if let Some(cause) = stopped.iter().find_map(known_cause) {
        return Some(cause.hint.to_owned());
    }
    // ECS stops a task that fails its target group's health checks with SIGTERM (143): that
    // task ran, it did not crash.
    let health_checks = stopped.iter().any(|t| {
        t.stopped_reason
            .as_deref()
            .is_some_and(|r| r.contains("ELB health checks"))
    });
    let exited = stopped
        .iter()
        .flat_map(|t| &t.containers)
        .any(|c| c.exit_code.is_some_and(|e| e != 0 && e != 143));
    if health_checks {
        Some("the tasks run but fail the load balancer's health check: compare the target group's health-check\npath, port and expected codes with what the container serves, and check the security groups".to_owned())
    } else if exited && logs_shown {
        Some("the container exits at start; the log lines above are its last words".to_owned())
    } else if exited {
        Some(
            "the container exits at start; its last words are in the log stream named above"
                .to_owned(),
        )
    } else {
        None
    }
}
