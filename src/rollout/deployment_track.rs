//! One service deployment followed across the polls of the health gate (pure): what changed
//! since the last poll, as log lines (status and lifecycle stage, traffic weights, hooks,
//! triggered alarms, the circuit breaker's count, a pause and the commands that release it),
//! the stages seen (for the summary), and the gate's verdict once `assess`'s view of
//! DescribeServices and `judge`'s view of the service deployment are put together:
//! - ECS rolling back (breaker, alarm, failing hook, ROLLBACK_REQUESTED/IN_PROGRESS): keep
//!   waiting, never roll back over it, bounded by the later of the deadline and
//!   [`ROLLBACK_WAIT`] after the rollback was first seen;
//! - ECS rolled back: failed, [`FailureKind::EcsRolledBack`] (nothing for this action to undo),
//!   with ECS's reason;
//! - ROLLBACK_FAILED or STOPPED: failed, and this action rolls back itself; STOPPED only
//!   once a DescribeServices read after it still shows our deployment PRIMARY (the two reads of
//!   one poll are not atomic: a deployment that replaced ours stops ours first, and is
//!   someone else's, never rolled back);
//! - in progress: `wait-until` may let the gate return early; while ECS will roll back by
//!   itself (`ecs_rolls_back`), a failure `assess` sees (crash loop, failed tasks, an event) is
//!   left to ECS instead of racing it; a timeout stays a timeout.

use std::time::SystemTime;

use super::assess::{Failure, FailureKind, Verdict, Watch};
use super::deployment_verdict::{
    DeploymentVerdict, ServiceDeploymentSnapshot, WaitUntil, judge, wait_satisfied,
};
use super::rollback::ROLLBACK_WAIT;

/// What one poll showed, to print only what changed.
#[derive(Debug, Clone, PartialEq, Default)]
struct Seen {
    status: String,
    stage: Option<String>,
    weights: (Option<f64>, Option<f64>),
    /// (hook id, status) of every hook run.
    hooks: Vec<(String, String)>,
    triggered: Vec<String>,
    breaker_failures: i32,
}

/// One service deployment under watch.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentTrack {
    pub arn: String,
    pub until: WaitUntil,
    /// ECS rolls a failed deployment back by itself (breaker, alarms or strategy with rollback).
    pub ecs_rolls_back: bool,
    /// ROLLING, BLUE_GREEN, LINEAR or CANARY, once read.
    pub strategy: Option<String>,
    /// Lifecycle stages seen, in order.
    pub stages: Vec<String>,
    /// The service deployment's status at the last poll.
    pub status: Option<String>,
    /// The last stage seen while the deployment moved forward (a failed hook is named with it).
    forward_stage: Option<String>,
    last: Option<Seen>,
    rolling_back_since: Option<SystemTime>,
    /// STOPPED was seen at an earlier poll (see the module's doc).
    stopped_seen: bool,
}

impl DeploymentTrack {
    pub fn new(arn: impl Into<String>, until: WaitUntil, ecs_rolls_back: bool) -> Self {
        DeploymentTrack {
            arn: arn.into(),
            until,
            ecs_rolls_back,
            strategy: None,
            stages: Vec::new(),
            status: None,
            forward_stage: None,
            last: None,
            rolling_back_since: None,
            stopped_seen: false,
        }
    }

    /// Whether the service deployment was PENDING or IN_PROGRESS at the last poll (or never
    /// read): ECS can still roll it back on request (StopServiceDeployment).
    pub fn under_way(&self) -> bool {
        matches!(
            self.status.as_deref(),
            None | Some("PENDING" | "IN_PROGRESS")
        )
    }

    /// Takes one poll's snapshot: the lines to print (what changed) and ECS's verdict.
    pub fn follow(
        &mut self,
        service: &str,
        snap: &ServiceDeploymentSnapshot,
    ) -> (Vec<String>, DeploymentVerdict) {
        let verdict = judge(snap, self.forward_stage.as_deref());
        let now = seen(snap);
        let before = self.last.take().unwrap_or_default();
        let mut lines = Vec::new();
        if now.status != before.status || now.stage != before.stage {
            let strategy = snap.strategy.as_deref().unwrap_or("ROLLING");
            lines.push(match &now.stage {
                Some(stage) => format!(
                    "{service}: {strategy} service deployment {}, stage {stage}",
                    now.status
                ),
                None => format!("{service}: {strategy} service deployment {}", now.status),
            });
        }
        if now.weights != before.weights
            && let (Some(production), test) = now.weights
        {
            let mut line = format!(
                "{service}: production traffic {production}% new / {}% old",
                100.0 - production
            );
            if let Some(t) = test {
                line.push_str(&format!(", test traffic {t}% new"));
            }
            lines.push(line);
        }
        for (h, (id, status)) in snap.hooks.iter().zip(&now.hooks) {
            if before.hooks.contains(&(id.clone(), status.clone())) {
                continue;
            }
            let name = h
                .target_arn
                .clone()
                .unwrap_or_else(|| format!("{} {id}", h.target_type));
            let at = now.stage.as_deref().unwrap_or("its stage");
            lines.push(format!(
                "{service}: lifecycle hook {name} at {at}: {status}"
            ));
        }
        for alarm in now
            .triggered
            .iter()
            .filter(|a| !before.triggered.contains(a))
        {
            lines.push(format!("{service}: alarm {alarm} went to ALARM"));
        }
        if now.breaker_failures > before.breaker_failures
            && let Some(b) = &snap.circuit_breaker
        {
            lines.push(format!(
                "{service}: the circuit breaker counted {} failed tasks (threshold {})",
                b.failure_count, b.threshold
            ));
        }
        let changed = self.status.as_deref() != Some(now.status.as_str());
        match &verdict {
            DeploymentVerdict::WaitingForPause(p) if lines.iter().any(|l| l.contains("AWAITING_ACTION")) => {
                let until = p
                    .expires_at
                    .map(|t| format!(" (ECS waits until {}, then {})", epoch(t), p.timeout_action.as_deref().unwrap_or("ROLLBACK")))
                    .unwrap_or_default();
                lines.push(format!(
                    "{service}: the deployment is paused at {} by PAUSE hook {}: it waits for a ContinueServiceDeployment{until}; this run waits for it as long as `wait-for-minutes` allows",
                    p.stage.as_deref().unwrap_or("its stage"),
                    p.hook_id
                ));
                lines.push(format!("{service}: to release it: {}", p.continue_command));
                lines.push(format!("{service}: to roll it back: {}", p.rollback_command));
            }
            DeploymentVerdict::EcsRollingBack(reason) if changed => lines.push(format!(
                "{service}: ECS is rolling the deployment back ({reason}); waiting for ECS's rollback, not rolling back over it"
            )),
            _ => {}
        }
        if matches!(snap.status.as_str(), "PENDING" | "IN_PROGRESS")
            && let Some(stage) = &now.stage
        {
            self.forward_stage = Some(stage.clone());
        }
        if let Some(stage) = &now.stage
            && self.stages.last() != Some(stage)
        {
            self.stages.push(stage.clone());
        }
        self.strategy = snap.strategy.clone().or(self.strategy.take());
        self.status = Some(now.status.clone());
        self.last = Some(now);
        (lines, verdict)
    }

    /// The gate's verdict for `service`, from `assess`'s and ECS's (see the module's doc).
    pub fn verdict(
        &mut self,
        service: &str,
        assessed: Verdict,
        ecs: &DeploymentVerdict,
        watch: &Watch,
        observed_at: SystemTime,
    ) -> Verdict {
        use DeploymentVerdict as D;
        let not_ours = |v: &Verdict| matches!(v, Verdict::Failed(f) if matches!(f.kind, FailureKind::Superseded | FailureKind::ServiceInactive));
        match ecs {
            D::EcsRollingBack(reason) => {
                let since = *self.rolling_back_since.get_or_insert(observed_at);
                if observed_at >= watch.deadline.max(since + ROLLBACK_WAIT) {
                    let minutes = ROLLBACK_WAIT.as_secs() / 60;
                    failed(
                        FailureKind::EcsRolledBack,
                        format!(
                            "ECS is still rolling {service} back after {minutes} minutes ({reason})"
                        ),
                    )
                } else {
                    Verdict::Pending {
                        progress: format!("{service}: waiting for ECS's rollback"),
                    }
                }
            }
            D::EcsRolledBack(reason) => failed(
                FailureKind::EcsRolledBack,
                format!("ECS rolled {service} back: {reason}"),
            ),
            _ if not_ours(&assessed) => assessed,
            D::RollbackFailed(reason) => failed(
                FailureKind::EcsRollbackFailed,
                format!("ECS could not roll {service} back (ROLLBACK_FAILED): {reason}"),
            ),
            D::Stopped(_) if !std::mem::replace(&mut self.stopped_seen, true) => Verdict::Pending {
                progress: format!(
                    "{service}: ECS stopped the service deployment; reading the service once more"
                ),
            },
            D::Stopped(reason) => failed(
                FailureKind::EcsStopped,
                format!(
                    "ECS stopped the deployment of {service} without rolling it back: {reason}"
                ),
            ),
            D::Succeeded => assessed,
            D::Pending | D::InProgress(_) | D::WaitingForPause(_) => match assessed {
                Verdict::TimedOut { mut waiting_for } => {
                    if let D::WaitingForPause(p) = ecs {
                        waiting_for.push_str(&format!(
                            "; the deployment waits at {} for a ContinueServiceDeployment of PAUSE hook {}",
                            p.stage.as_deref().unwrap_or("its stage"),
                            p.hook_id
                        ));
                    }
                    Verdict::TimedOut { waiting_for }
                }
                _ if self.until != WaitUntil::Steady && wait_satisfied(self.until, ecs) => {
                    Verdict::Healthy
                }
                Verdict::Failed(f) if self.ecs_rolls_back => Verdict::Pending {
                    progress: format!(
                        "{service}: left to ECS, which rolls back by itself: {}",
                        f.reason
                    ),
                },
                Verdict::Healthy => Verdict::Pending {
                    progress: format!("{service}: the service deployment is not over yet"),
                },
                other => other,
            },
        }
    }
}

fn failed(kind: FailureKind, reason: String) -> Verdict {
    Verdict::Failed(Failure {
        kind,
        reason,
        hint: None,
        evidence: None,
    })
}

fn seen(snap: &ServiceDeploymentSnapshot) -> Seen {
    Seen {
        status: snap.status.clone(),
        stage: snap.lifecycle_stage.clone(),
        weights: snap
            .target
            .as_ref()
            .map_or((None, None), |t| (t.production_weight, t.test_weight)),
        hooks: snap
            .hooks
            .iter()
            .map(|h| (h.hook_id.clone(), h.status.clone()))
            .collect(),
        triggered: snap
            .alarms
            .as_ref()
            .map(|a| a.triggered.clone())
            .unwrap_or_default(),
        breaker_failures: snap.circuit_breaker.as_ref().map_or(0, |b| b.failure_count),
    }
}

/// Epoch seconds as `2026-11-30T12:00:00Z`.
fn epoch(secs: i64) -> String {
    aws_smithy_types::DateTime::from_secs(secs)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_else(|_| secs.to_string())
}

#[cfg(test)]
#[path = "deployment_track_tests.rs"]
mod tests;
