//! The acceptor for ECS service deployments (pure): a snapshot of one service deployment, as
//! DescribeServiceDeployments shows it, becomes what the rollout must do next: keep waiting (at
//! a lifecycle stage, with traffic weights), release or roll back a paused deployment, commit,
//! wait for ECS's own rollback, or roll back itself because ECS did not (STOPPED) or could not
//! (ROLLBACK_FAILED). `wait_satisfied` decides when the `wait-until` input lets the action return.
//!
//! ECS's reasons are reported from its structured fields (the circuit breaker's failure count
//! and threshold, the alarms that triggered, the hook that failed and at which stage), with
//! `rollback.reason` / `statusReason` quoted as ECS wrote them.

use std::fmt;
use std::str::FromStr;

/// One service revision in a deployment: its tasks and its share of traffic (percent; ECS sets
/// weights for BLUE_GREEN, LINEAR and CANARY, not for ROLLING).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RevisionShare {
    pub arn: String,
    pub requested: i32,
    pub running: i32,
    pub pending: i32,
    pub production_weight: Option<f64>,
    pub test_weight: Option<f64>,
}

/// ECS's record of its rollback.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EcsRollback {
    pub reason: Option<String>,
    pub revision_arn: Option<String>,
}

/// The circuit breaker as the service deployment reports it (status DISABLED, MONITORING,
/// TRIGGERED or MONITORING_COMPLETE).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BreakerView {
    pub status: String,
    pub failure_count: i32,
    pub threshold: i32,
}

/// The CloudWatch alarms watching the deployment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlarmsView {
    pub status: String,
    pub names: Vec<String>,
    pub triggered: Vec<String>,
}

/// One lifecycle hook run (`lifecycleHookDetails`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HookView {
    pub hook_id: String,
    /// AWS_LAMBDA or PAUSE.
    pub target_type: String,
    pub target_arn: Option<String>,
    /// IN_PROGRESS, AWAITING_ACTION, SUCCEEDED, FAILED or TIMED_OUT.
    pub status: String,
    /// CONTINUE or ROLLBACK.
    pub timeout_action: Option<String>,
    /// Epoch seconds.
    pub expires_at: Option<i64>,
}

/// One service deployment, in plain terms (`service_deployment.rs` reads it).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServiceDeploymentSnapshot {
    pub arn: String,
    /// As ECS spells it: PENDING, IN_PROGRESS, SUCCESSFUL, STOPPED, STOP_REQUESTED,
    /// ROLLBACK_REQUESTED, ROLLBACK_IN_PROGRESS, ROLLBACK_SUCCESSFUL, ROLLBACK_FAILED.
    pub status: String,
    pub status_reason: Option<String>,
    pub lifecycle_stage: Option<String>,
    /// ROLLING, BLUE_GREEN, LINEAR or CANARY.
    pub strategy: Option<String>,
    pub target: Option<RevisionShare>,
    pub sources: Vec<RevisionShare>,
    pub rollback: Option<EcsRollback>,
    pub circuit_breaker: Option<BreakerView>,
    pub alarms: Option<AlarmsView>,
    pub hooks: Vec<HookView>,
}

/// Where a deployment in progress is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Progress {
    pub stage: Option<String>,
    /// Percent of production traffic on the new revision (None for ROLLING).
    pub production_weight: Option<f64>,
    pub test_weight: Option<f64>,
    pub running: i32,
    pub requested: i32,
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.stage.as_deref().unwrap_or("starting"))?;
        write!(f, ", {}/{} new tasks running", self.running, self.requested)?;
        if let Some(w) = self.production_weight {
            write!(f, ", production traffic {w}% new / {}% old", 100.0 - w)?;
        }
        if let Some(t) = self.test_weight.filter(|t| *t > 0.0) {
            write!(f, ", test traffic {t}% new")?;
        }
        Ok(())
    }
}

/// A deployment paused by a PAUSE hook, and the two commands that release it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PauseWait {
    pub hook_id: String,
    pub stage: Option<String>,
    pub expires_at: Option<i64>,
    pub timeout_action: Option<String>,
    pub continue_command: String,
    pub rollback_command: String,
}

/// The hook whose answer ended the deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedHook {
    /// The Lambda function ARN, or `PAUSE hook <id>`.
    pub hook: String,
    /// FAILED or TIMED_OUT.
    pub status: String,
    pub stage: Option<String>,
}

/// Why ECS failed a deployment, from its structured fields, with its own words.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EcsReason {
    /// (failed tasks, threshold) when the circuit breaker triggered.
    pub circuit_breaker: Option<(i32, i32)>,
    /// The alarms that went to ALARM.
    pub alarms: Vec<String>,
    pub hook: Option<FailedHook>,
    /// `rollback.reason`, else `statusReason`.
    pub text: Option<String>,
}

impl fmt::Display for EcsReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some((failed, threshold)) = self.circuit_breaker {
            parts.push(format!(
                "the circuit breaker counted {failed} failed tasks (threshold {threshold})"
            ));
        }
        if !self.alarms.is_empty() {
            parts.push(format!("alarm {} went to ALARM", self.alarms.join(", ")));
        }
        if let Some(h) = &self.hook {
            let verb = if h.status == "TIMED_OUT" { "timed out" } else { "answered FAILED" };
            match &h.stage {
                Some(stage) => parts.push(format!("lifecycle hook {} {verb} at {stage}", h.hook)),
                None => parts.push(format!("lifecycle hook {} {verb}", h.hook)),
            }
        }
        if let Some(t) = &self.text {
            parts.push(format!("ECS says: {t}"));
        }
        if parts.is_empty() {
            parts.push("ECS gave no reason".into());
        }
        f.write_str(&parts.join("; "))
    }
}

/// What one service-deployment snapshot means for the rollout.
#[derive(Debug, Clone, PartialEq)]
pub enum DeploymentVerdict {
    /// Created, not started.
    Pending,
    InProgress(Progress),
    /// A PAUSE hook waits for ContinueServiceDeployment.
    WaitingForPause(PauseWait),
    /// SUCCESSFUL: the new revision serves.
    Succeeded,
    /// ECS is rolling back by itself: wait for it, never race it.
    EcsRollingBack(EcsReason),
    /// ECS rolled back: the previous revision serves again.
    EcsRolledBack(EcsReason),
    /// ECS's rollback failed: the action must roll back itself.
    RollbackFailed(EcsReason),
    /// ECS stopped the deployment without rolling back (rollback off, or stopped): the action
    /// must roll back itself.
    Stopped(EcsReason),
}

impl DeploymentVerdict {
    /// Nothing will change it any more.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            DeploymentVerdict::Succeeded
                | DeploymentVerdict::EcsRolledBack(_)
                | DeploymentVerdict::RollbackFailed(_)
                | DeploymentVerdict::Stopped(_)
        )
    }

    /// ECS left the failed revision in place: the action rolls back itself.
    pub fn we_must_roll_back(&self) -> bool {
        matches!(
            self,
            DeploymentVerdict::RollbackFailed(_) | DeploymentVerdict::Stopped(_)
        )
    }

    /// The deployment failed, whoever rolls it back.
    pub fn failed(&self) -> bool {
        matches!(
            self,
            DeploymentVerdict::EcsRollingBack(_)
                | DeploymentVerdict::EcsRolledBack(_)
                | DeploymentVerdict::RollbackFailed(_)
                | DeploymentVerdict::Stopped(_)
        )
    }
}

fn reason(snap: &ServiceDeploymentSnapshot, last_stage: Option<&str>) -> EcsReason {
    let circuit_breaker = snap
        .circuit_breaker
        .as_ref()
        .filter(|b| b.status == "TRIGGERED")
        .map(|b| (b.failure_count, b.threshold));
    let alarms = snap
        .alarms
        .as_ref()
        .map(|a| a.triggered.clone())
        .unwrap_or_default();
    let hook = snap
        .hooks
        .iter()
        .rev()
        .find(|h| h.status == "FAILED" || h.status == "TIMED_OUT")
        .map(|h| FailedHook {
            hook: match (&h.target_arn, h.target_type.as_str()) {
                (Some(arn), _) => arn.clone(),
                (None, t) => format!("{t} hook {}", h.hook_id),
            },
            status: h.status.clone(),
            stage: last_stage
                .map(str::to_owned)
                .or_else(|| snap.lifecycle_stage.clone()),
        });
    let text = snap
        .rollback
        .as_ref()
        .and_then(|r| r.reason.clone())
        .or_else(|| snap.status_reason.clone());
    EcsReason {
        circuit_breaker,
        alarms,
        hook,
        text,
    }
}

fn progress(snap: &ServiceDeploymentSnapshot) -> Progress {
    let target = snap.target.clone().unwrap_or_default();
    Progress {
        stage: snap.lifecycle_stage.clone(),
        production_weight: target.production_weight,
        test_weight: target.test_weight,
        running: target.running,
        requested: target.requested,
    }
}

fn pause(snap: &ServiceDeploymentSnapshot) -> Option<PauseWait> {
    let h = snap
        .hooks
        .iter()
        .find(|h| h.target_type == "PAUSE" && h.status == "AWAITING_ACTION")?;
    let command = |action: &str| {
        format!(
            "aws ecs continue-service-deployment --service-deployment-arn {} --hook-id {} --action {action}",
            snap.arn, h.hook_id
        )
    };
    Some(PauseWait {
        hook_id: h.hook_id.clone(),
        stage: snap.lifecycle_stage.clone(),
        expires_at: h.expires_at,
        timeout_action: h.timeout_action.clone(),
        continue_command: command("CONTINUE"),
        rollback_command: command("ROLLBACK"),
    })
}

/// What `snap` means. `last_stage`: the last lifecycle stage the watch saw while the
/// deployment moved forward (ECS may report the rollback's own stages once it rolls back), so
/// that a failed hook is named with the stage it failed at.
pub fn judge(snap: &ServiceDeploymentSnapshot, last_stage: Option<&str>) -> DeploymentVerdict {
    match snap.status.as_str() {
        "PENDING" => DeploymentVerdict::Pending,
        "SUCCESSFUL" => DeploymentVerdict::Succeeded,
        "ROLLBACK_REQUESTED" | "ROLLBACK_IN_PROGRESS" => {
            DeploymentVerdict::EcsRollingBack(reason(snap, last_stage))
        }
        "ROLLBACK_SUCCESSFUL" => DeploymentVerdict::EcsRolledBack(reason(snap, last_stage)),
        "ROLLBACK_FAILED" => DeploymentVerdict::RollbackFailed(reason(snap, last_stage)),
        "STOPPED" | "STOP_REQUESTED" => DeploymentVerdict::Stopped(reason(snap, last_stage)),
        // IN_PROGRESS, and any status newer than this code: keep watching.
        _ => match pause(snap) {
            Some(p) => DeploymentVerdict::WaitingForPause(p),
            None => DeploymentVerdict::InProgress(progress(snap)),
        },
    }
}

/// The `wait-until` input: when the action may return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WaitUntil {
    /// The service deployment is SUCCESSFUL (the stage also requires the service steady).
    #[default]
    Steady,
    /// Production traffic is on the new revision: BAKE_TIME or CLEAN_UP reached (the bake time
    /// is left to ECS).
    TrafficShifted,
    /// ECS holds the deployment (any status but a failure).
    Started,
}

/// A `wait-until` value that is none of the three.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`wait-until` must be `steady`, `traffic-shifted` or `started`, not {0:?}")]
pub struct WaitUntilError(pub String);

impl FromStr for WaitUntil {
    type Err = WaitUntilError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "" | "steady" => Ok(WaitUntil::Steady),
            "traffic-shifted" => Ok(WaitUntil::TrafficShifted),
            "started" => Ok(WaitUntil::Started),
            other => Err(WaitUntilError(other.to_owned())),
        }
    }
}

/// Whether the action may stop waiting with success. A failed deployment never satisfies
/// it (the verdict decides what then).
pub fn wait_satisfied(until: WaitUntil, verdict: &DeploymentVerdict) -> bool {
    use DeploymentVerdict as V;
    match (until, verdict) {
        (_, V::Succeeded) => true,
        (WaitUntil::Started, V::Pending | V::InProgress(_) | V::WaitingForPause(_)) => true,
        (WaitUntil::TrafficShifted, V::InProgress(p)) => {
            matches!(p.stage.as_deref(), Some("BAKE_TIME" | "CLEAN_UP"))
        }
        _ => false,
    }
}

#[cfg(test)]
#[path = "deployment_verdict_tests.rs"]
mod tests;
