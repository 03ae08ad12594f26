//! A deployment this run did not start, still in progress on a service it is about to deploy
//! (another workflow run, a console click, ECS's own rollback), and what to do about it under
//! the `when-busy` input: wait for it to finish (bounded by `wait-for-minutes`), refuse, or
//! replace it. Pure: the stage describes the services and reads their service deployments,
//! asks [`busy`] and [`next_step`], and sleeps or stops as told.
//!
//! Two deploys racing on one service would each watch the other's deployment and might roll
//! it back; waiting (or refusing) before the first change keeps one deploy on a service at a
//! time. GitHub's `concurrency:` does the same within one repository, before the job starts;
//! this covers what it cannot see (other repositories, the console, a re-run in another
//! workflow).

use std::time::{Duration, SystemTime};

use super::assess::DeploymentView;
use super::deployment_verdict::ServiceDeploymentSnapshot;
use super::ecs_api::ServiceState;

/// The `when-busy` input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenBusy {
    /// Wait for the other deployment to finish, then decide again (the default).
    #[default]
    Wait,
    /// Refuse at once (exit 3), changing nothing.
    Refuse,
    /// Deploy over it, as UpdateService does (a rollback returns to the last completed revision).
    Replace,
}

impl WhenBusy {
    pub const CHOICES: &'static str = "`wait`, `refuse` or `replace`";

    pub fn parse(text: &str) -> Option<WhenBusy> {
        match text.trim() {
            "wait" => Some(WhenBusy::Wait),
            "refuse" => Some(WhenBusy::Refuse),
            "replace" => Some(WhenBusy::Replace),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            WhenBusy::Wait => "wait",
            WhenBusy::Refuse => "refuse",
            WhenBusy::Replace => "replace",
        }
    }
}

/// Service deployment statuses that mean ECS is still at work.
const UNFINISHED: [&str; 5] = [
    "PENDING",
    "IN_PROGRESS",
    "STOP_REQUESTED",
    "ROLLBACK_REQUESTED",
    "ROLLBACK_IN_PROGRESS",
];

/// A deployment in progress on a service, as the plan saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Busy {
    pub service: String,
    /// The ECS deployment (`ecs-svc/...`) rolling out, when deployments[] shows one.
    pub deployment_id: Option<String>,
    /// The revision it rolls out.
    pub task_definition: String,
    pub created_at: Option<SystemTime>,
    /// The service deployment (ARN, status), when ECS records one that is unfinished.
    pub service_deployment: Option<(String, String)>,
    /// `running/desired` of the deployment rolling out.
    pub progress: String,
}

impl Busy {
    /// What identifies it across polls: the deployment and the service deployment's status.
    pub fn key(&self) -> (Option<&str>, Option<&str>) {
        (
            self.deployment_id.as_deref(),
            self.service_deployment.as_ref().map(|(_, s)| s.as_str()),
        )
    }

    /// "deployment ecs-svc/1 of web:7 (1/2 running, started 40 s ago; service deployment
    /// ARN IN_PROGRESS; registered by ARN)": `registered_by` is the revision's `registeredBy`,
    /// the principal (for this action, the workflow run's role session) that registered it.
    pub fn describe(&self, registered_by: Option<&str>, now: SystemTime) -> String {
        let what = match &self.deployment_id {
            Some(id) => format!("deployment {id}"),
            None => "a deployment".to_owned(),
        };
        let mut about = vec![format!("{} running", self.progress)];
        if let Some(age) = self
            .created_at
            .and_then(|t| now.duration_since(t).ok())
            .map(|d| d.as_secs())
        {
            about[0].push_str(&format!(", started {age} s ago"));
        }
        if let Some((arn, status)) = &self.service_deployment {
            about.push(format!("service deployment {arn} {status}"));
        }
        about.push(match registered_by {
            Some(who) => format!("its revision registered by {who}"),
            None => "ECS does not say who started it".to_owned(),
        });
        format!(
            "{what} of {} ({})",
            short(&self.task_definition),
            about.join("; ")
        )
    }
}

fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

fn in_progress(d: &DeploymentView) -> bool {
    d.rollout_state.as_deref() == Some("IN_PROGRESS")
}

/// The deployment in progress on `state`, if any: a deployment whose rollout state is
/// IN_PROGRESS, or (on services that predate rollout states) more than one deployment; or a
/// service deployment (`current`, the service's `currentServiceDeployment`) still unfinished.
/// A FAILED deployment kept beside the old one (circuit breaker without rollback) is finished:
/// ECS does no more with it.
pub fn busy(state: &ServiceState, current: Option<&ServiceDeploymentSnapshot>) -> Option<Busy> {
    let primary = state.deployments.iter().find(|d| d.status == "PRIMARY");
    let legacy =
        state.deployments.len() > 1 && state.deployments.iter().all(|d| d.rollout_state.is_none());
    let rolling = state
        .deployments
        .iter()
        .find(|d| in_progress(d))
        .or(primary.filter(|_| legacy));
    let unfinished = current
        .filter(|sd| UNFINISHED.contains(&sd.status.as_str()))
        .map(|sd| (sd.arn.clone(), sd.status.clone()));
    if rolling.is_none() && unfinished.is_none() {
        return None;
    }
    let shown = rolling.or(primary);
    Some(Busy {
        service: state.name.clone(),
        deployment_id: shown.map(|d| d.id.clone()),
        task_definition: shown.map_or_else(
            || state.task_definition.clone(),
            |d| d.task_definition.clone(),
        ),
        created_at: shown.and_then(|d| d.created_at),
        service_deployment: unfinished,
        progress: shown.map_or_else(
            || format!("{}/{}", state.running_count, state.desired_count),
            |d| format!("{}/{}", d.running, d.desired),
        ),
    })
}

/// What to do about the deployments in progress seen at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing in progress (or `replace`): plan and deploy.
    Go,
    /// Poll again.
    Wait,
    /// Stop, changing nothing: `refuse`, or still busy at the deadline.
    Refuse,
}

/// `wait` polls until nothing is busy or `deadline` passes; `refuse` refuses anything busy;
/// `replace` never waits.
pub fn next_step(when: WhenBusy, busy: &[Busy], now: SystemTime, deadline: SystemTime) -> Step {
    match when {
        _ if busy.is_empty() => Step::Go,
        WhenBusy::Replace => Step::Go,
        WhenBusy::Refuse => Step::Refuse,
        WhenBusy::Wait if now >= deadline => Step::Refuse,
        WhenBusy::Wait => Step::Wait,
    }
}

/// "30 min" or "90 s": the `wait-for-minutes` bound as the user set it.
pub fn bound(limit: Duration) -> String {
    if limit.as_secs().is_multiple_of(60) {
        format!("{} min", limit.as_secs() / 60)
    } else {
        format!("{} s", limit.as_secs())
    }
}

#[cfg(test)]
#[path = "busy_tests.rs"]
mod tests;
