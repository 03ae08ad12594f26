//! The health gate's acceptor: from what one poll observed to a verdict. Pure: the poller
//! (`watch`) fills a [`ServiceSnapshot`] from DescribeServices, DescribeTargetHealth
//! and the HTTP probe, and calls [`assess`] with the [`Watch`] it recorded when it started the
//! deployment. No SDK types, no clock: the snapshot says when it was observed.
//!
//! Order of judgement (each step is tested):
//! 1. the service is not ACTIVE -> failed (it was deleted under us);
//! 2. our deployment is no longer PRIMARY and a deployment created since we started is: the
//!    previous task definition -> ECS's circuit breaker rolled back (the caller must not roll
//!    back again); any other -> someone else deployed over us. A PRIMARY deployment older than
//!    our start means DescribeServices has not caught up yet (eventual consistency): pending;
//! 3. our rollout state is FAILED -> failed with ECS's reason (a reason saying "rolling back"
//!    is the circuit breaker's, as in 2);
//! 4. every health condition met -> healthy (see [`unmet_conditions`]);
//! 5. a recognised event since we started (`events::KNOWN_CAUSES`), past its grace period while
//!    our deployment is still short of tasks -> failed with the cause in plain words;
//!    every stopped task of ours exited non-zero before any was healthy, at least two of them
//!    (`crashloop`) -> failed; our deployment's failed tasks reached the threshold -> failed;
//! 6. observed at or after the deadline -> timed out, saying what it was still waiting for;
//! 7. otherwise pending, with a one-line progress summary.

use std::collections::HashSet;
use std::time::SystemTime;

use super::crashloop::{StartExits, crash_loop};
use super::deployment_verdict::ServiceDeploymentSnapshot;
use super::events::classify;

/// One DescribeServices service, its deployments and events, plus target health and probe.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSnapshot {
    pub service_name: String,
    /// `ACTIVE`, `DRAINING` or `INACTIVE`.
    pub status: String,
    pub desired_count: u32,
    pub running_count: u32,
    pub deployments: Vec<DeploymentView>,
    /// As DescribeServices returns them (newest first, at most 100).
    pub events: Vec<ServiceEvent>,
    /// Targets of the new tasks only (the poller matches them to our tasks' IPs/ports), across
    /// all the service's target groups; `None` when the service has no load balancer.
    pub targets: Option<Vec<TargetView>>,
    /// The `health-check-url` probe; `None` when none was asked for.
    pub probe: Option<ProbeView>,
    /// Our deployment's stopped tasks, for the crash-loop rule (`crashloop`); `None` when the
    /// rule does not apply (ECS's circuit breaker will roll back by itself).
    pub start_exits: Option<StartExits>,
    /// The service deployment under watch, as DescribeServiceDeployments showed it at this
    /// poll; `None` when none is watched or it could not be read.
    pub service_deployment: Option<ServiceDeploymentSnapshot>,
    /// When this was observed (the poller's clock, the same clock as [`Watch::deadline`]).
    pub observed_at: SystemTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentView {
    pub id: String,
    /// `PRIMARY`, `ACTIVE` or `INACTIVE`.
    pub status: String,
    pub task_definition: String,
    pub desired: u32,
    pub running: u32,
    pub pending: u32,
    pub failed_tasks: u32,
    /// `IN_PROGRESS`, `COMPLETED`, `FAILED`; absent on services that predate rollout states.
    pub rollout_state: Option<String>,
    pub rollout_state_reason: Option<String>,
    /// Absent only when the API did not say; then the deployment counts as new (step 2).
    pub created_at: Option<SystemTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEvent {
    pub id: String,
    pub created_at: SystemTime,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetView {
    pub target_id: String,
    pub port: Option<u16>,
    /// `initial`, `healthy`, `unhealthy`, `unused`, `draining`, `unavailable`.
    pub state: String,
    pub reason: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeView {
    pub consecutive_successes: u32,
    pub required: u32,
    pub last_error: Option<String>,
}

/// What the poller recorded when it started our deployment; constant for the whole wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    /// The PRIMARY deployment's id in the UpdateService response.
    pub our_deployment_id: String,
    pub our_task_definition: String,
    /// The task definition that was serving before (the rollback target); `None` on a first
    /// deployment.
    pub previous_task_definition: Option<String>,
    /// Our deployment's `createdAt` as ECS reported it (AWS's clock, the clock events are
    /// stamped with): events before it are about earlier deployments.
    pub started_at: SystemTime,
    pub deadline: SystemTime,
    /// Failed tasks of our deployment that fail the rollout (at least 1).
    pub failed_task_threshold: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pending {
        progress: String,
    },
    Healthy,
    Failed(Failure),
    /// The deadline passed; `waiting_for` lists the conditions still unmet.
    TimedOut {
        waiting_for: String,
    },
}

impl Verdict {
    pub fn is_final(&self) -> bool {
        !matches!(self, Verdict::Pending { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    /// The cause in plain words, with ECS's own text where it said one.
    pub reason: String,
    /// The fix, when the cause has a known one.
    pub hint: Option<String>,
    /// The ECS event or reason text this came from, verbatim (outside text: escape it).
    pub evidence: Option<String>,
}

/// Why a rollout failed, named for the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// The service left ACTIVE during the rollout (deleted).
    ServiceInactive,
    /// ECS's deployment circuit breaker failed our deployment and rolled back by itself.
    CircuitBreakerRolledBack,
    /// ECS rolled the service deployment back by itself (breaker, alarm, hook), or is still
    /// rolling it back: nothing for this action to undo (`deployment_track`).
    EcsRolledBack,
    /// ECS's own rollback failed (ROLLBACK_FAILED): this action rolls back.
    EcsRollbackFailed,
    /// ECS stopped the service deployment without rolling back: this action rolls back.
    EcsStopped,
    /// Another deployment (not a rollback) replaced ours.
    Superseded,
    /// Our deployment's rollout state is FAILED (circuit breaker without rollback).
    RolloutFailed,
    /// Tasks of the new revision keep failing (failedTasks reached the threshold).
    TasksFailing,
    ServiceLinkedRoleMissing,
    TaskRoleNotAssumable,
    SecretsOrRegistryAuth,
    ImagePull,
    NoFreeNetworkInterfaces,
    NoFreeIpAddresses,
    NoContainerInstances,
    InsufficientCapacity,
    QuotaReached,
    TasksCannotStart,
}

impl FailureKind {
    /// Whether the caller should roll back: not when ECS already did, not over someone else's
    /// deployment, not on a deleted service.
    pub fn needs_rollback(self) -> bool {
        !matches!(
            self,
            FailureKind::CircuitBreakerRolledBack
                | FailureKind::EcsRolledBack
                | FailureKind::Superseded
                | FailureKind::ServiceInactive
        )
    }
}

pub fn assess(watch: &Watch, snapshot: &ServiceSnapshot) -> Verdict {
    let service = &snapshot.service_name;
    if snapshot.status != "ACTIVE" {
        return failed(
            FailureKind::ServiceInactive,
            format!(
                "the service {service} is {} (it was deleted during the rollout)",
                snapshot.status
            ),
            None,
        );
    }
    let ours = snapshot
        .deployments
        .iter()
        .find(|d| d.id == watch.our_deployment_id);
    let primary = snapshot.deployments.iter().find(|d| d.status == "PRIMARY");

    if ours.is_none_or(|d| d.status != "PRIMARY") {
        let new_primary = primary.filter(|p| {
            p.id != watch.our_deployment_id && p.created_at.is_none_or(|t| t >= watch.started_at)
        });
        if let Some(p) = new_primary {
            let our_reason = ours.and_then(|d| d.rollout_state_reason.clone());
            let rolled_back = watch.previous_task_definition.as_deref() == Some(&p.task_definition)
                || our_reason.as_deref().is_some_and(says_rolling_back);
            return if rolled_back {
                failed(
                    FailureKind::CircuitBreakerRolledBack,
                    format!(
                        "ECS's deployment circuit breaker failed deployment {} and rolled {service} \
                         back to {}",
                        watch.our_deployment_id, p.task_definition
                    ),
                    our_reason,
                )
            } else {
                Verdict::Failed(Failure {
                    kind: FailureKind::Superseded,
                    reason: format!(
                        "another deployment ({}, {}) replaced ours on {service}: someone else \
                         deployed during the rollout; theirs is left as it is (this action never \
                         rolls back a deployment it did not start)",
                        p.id, p.task_definition
                    ),
                    hint: Some(
                        "keep one deploy per service at a time: GitHub's `concurrency:` (a group \
                         per cluster and service, `cancel-in-progress: false`), and `when-busy: \
                         wait` (the default) for deploys from elsewhere"
                            .to_owned(),
                    ),
                    evidence: None,
                })
            };
        }
    }

    if let Some(d) = ours.filter(|d| d.status == "PRIMARY")
        && d.rollout_state.as_deref() == Some("FAILED")
    {
        let reason = d.rollout_state_reason.clone();
        if reason.as_deref().is_some_and(says_rolling_back) {
            let text = format!(
                "ECS's deployment circuit breaker failed deployment {} and is rolling {service} back",
                d.id
            );
            return failed(FailureKind::CircuitBreakerRolledBack, text, reason);
        }
        let text = format!(
            "ECS marked deployment {} of {} FAILED: {}",
            d.id,
            d.task_definition,
            reason.as_deref().unwrap_or("no reason given")
        );
        return failed(FailureKind::RolloutFailed, text, reason);
    }

    let unmet = unmet_conditions(watch, snapshot);
    if unmet.is_empty() {
        return Verdict::Healthy;
    }

    if let Some(d) = ours.filter(|d| d.running < d.desired) {
        let mut recent: Vec<&ServiceEvent> = snapshot
            .events
            .iter()
            .filter(|e| e.created_at >= watch.started_at)
            .collect();
        recent.sort_by_key(|e| e.created_at);
        for e in recent {
            let Some(cause) = classify(&e.message) else {
                continue;
            };
            let stood = snapshot
                .observed_at
                .duration_since(e.created_at)
                .unwrap_or_default();
            if stood >= cause.grace {
                return Verdict::Failed(Failure {
                    kind: cause.kind,
                    reason: format!("{}: {}", d.task_definition, cause.cause),
                    hint: Some(cause.hint.to_string()),
                    evidence: Some(e.message.clone()),
                });
            }
        }
    }
    if let Some(d) = ours
        && let Some(crash) = snapshot.start_exits.as_ref().and_then(crash_loop)
    {
        let codes: Vec<String> = crash.exit_codes.iter().map(i32::to_string).collect();
        let text = format!(
            "every task of {} that stopped ({}) exited with code {} before any became healthy",
            d.task_definition,
            crash.exits,
            codes.join(" or ")
        );
        return failed(FailureKind::TasksFailing, text, None);
    }
    if let Some(d) = ours
        && d.failed_tasks >= watch.failed_task_threshold.max(1)
    {
        let text = format!(
            "{} tasks of {} failed to start or to stay running (the limit is {})",
            d.failed_tasks,
            d.task_definition,
            watch.failed_task_threshold.max(1)
        );
        return failed(FailureKind::TasksFailing, text, None);
    }

    if snapshot.observed_at >= watch.deadline {
        return Verdict::TimedOut {
            waiting_for: unmet.join("; "),
        };
    }
    Verdict::Pending {
        progress: progress(watch, snapshot),
    }
}

fn failed(kind: FailureKind, reason: String, evidence: Option<String>) -> Verdict {
    Verdict::Failed(Failure {
        kind,
        reason,
        hint: None,
        evidence,
    })
}

/// ECS's reason when the circuit breaker rolls back: "ECS deployment circuit breaker: rolling
/// back to deploymentId ecs-svc/...".
fn says_rolling_back(reason: &str) -> bool {
    let lower = reason.to_ascii_lowercase();
    lower.contains("rolling back") || lower.contains("rolled back")
}

/// What stands between this snapshot and healthy, one phrase each; empty means healthy.
/// - rollout: our deployment PRIMARY and COMPLETED; without a rollout state (older services),
///   running == desired, nothing pending, and no other deployment still running tasks;
/// - targets (when the service has a load balancer): at least one, and every one `healthy`;
/// - probe (when asked for): the required consecutive successes.
pub fn unmet_conditions(watch: &Watch, snapshot: &ServiceSnapshot) -> Vec<String> {
    let mut unmet = Vec::new();
    let ours = snapshot
        .deployments
        .iter()
        .find(|d| d.id == watch.our_deployment_id);
    match ours {
        None => unmet.push(format!(
            "deployment {} ({}) is not visible yet",
            watch.our_deployment_id, watch.our_task_definition
        )),
        Some(d) if d.status != "PRIMARY" => {
            unmet.push(format!("deployment {} is {}, not PRIMARY", d.id, d.status))
        }
        Some(d) => match d.rollout_state.as_deref() {
            Some("COMPLETED") => {}
            Some(state) => unmet.push(format!(
                "rollout {state} ({}/{} tasks of {} running)",
                d.running, d.desired, d.task_definition
            )),
            None => {
                if d.running != d.desired || d.pending > 0 {
                    unmet.push(format!(
                        "{}/{} tasks of {} running, {} pending",
                        d.running, d.desired, d.task_definition, d.pending
                    ));
                }
                let old: u32 = snapshot
                    .deployments
                    .iter()
                    .filter(|o| o.id != d.id)
                    .map(|o| o.running)
                    .sum();
                if old > 0 {
                    unmet.push(format!("{old} tasks of earlier revisions still running"));
                }
            }
        },
    }
    if let Some(targets) = &snapshot.targets {
        let wanted = ours.map_or(0, |d| d.desired);
        if targets.is_empty() && wanted > 0 {
            unmet.push("no load-balancer target registered for the new tasks yet".into());
        }
        let not_healthy: Vec<String> = targets
            .iter()
            .filter(|t| t.state != "healthy")
            .map(|t| {
                let at = t
                    .port
                    .map_or(t.target_id.clone(), |p| format!("{}:{p}", t.target_id));
                let why = [t.reason.as_deref(), t.description.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(": ");
                if why.is_empty() {
                    format!("{at} {}", t.state)
                } else {
                    format!("{at} {} ({why})", t.state)
                }
            })
            .collect();
        if !not_healthy.is_empty() {
            let healthy = targets.len() - not_healthy.len();
            unmet.push(format!(
                "targets {healthy}/{} healthy: {}",
                targets.len(),
                not_healthy.join(", ")
            ));
        }
    }
    if let Some(p) = &snapshot.probe
        && p.consecutive_successes < p.required
    {
        let mut text = format!(
            "probe {}/{} consecutive successes",
            p.consecutive_successes, p.required
        );
        if let Some(e) = &p.last_error {
            text.push_str(&format!(" (last: {e})"));
        }
        unmet.push(text);
    }
    unmet
}

/// One line on our deployment, e.g. `payments-api: 1/2 running, 1 pending, rollout
/// IN_PROGRESS; targets 1/1 healthy`. The poller prints it only when it changes, so it holds
/// counts and states, never times.
pub fn progress(watch: &Watch, snapshot: &ServiceSnapshot) -> String {
    let service = &snapshot.service_name;
    let Some(d) = snapshot
        .deployments
        .iter()
        .find(|d| d.id == watch.our_deployment_id)
    else {
        return format!(
            "{service}: waiting for deployment {} ({}) to appear",
            watch.our_deployment_id, watch.our_task_definition
        );
    };
    let mut line = format!(
        "{service}: {}/{} running, {} pending",
        d.running, d.desired, d.pending
    );
    if d.failed_tasks > 0 {
        line.push_str(&format!(", {} failed", d.failed_tasks));
    }
    match d.rollout_state.as_deref() {
        Some(state) => line.push_str(&format!(", rollout {state}")),
        None => line.push_str(&format!(", deployment {}", d.status)),
    }
    if let Some(targets) = &snapshot.targets {
        let healthy = targets.iter().filter(|t| t.state == "healthy").count();
        line.push_str(&format!("; targets {healthy}/{} healthy", targets.len()));
    }
    if let Some(p) = &snapshot.probe {
        line.push_str(&format!(
            "; probe {}/{}",
            p.consecutive_successes, p.required
        ));
    }
    line
}

/// Events not printed yet, oldest first. Seed `seen` with the ids present before UpdateService
/// so the first poll does not replay the service's history.
pub fn new_events<'a>(
    seen: &HashSet<String>,
    snapshot: &'a ServiceSnapshot,
) -> Vec<&'a ServiceEvent> {
    let mut fresh: Vec<&ServiceEvent> = snapshot
        .events
        .iter()
        // DescribeServices lists newest first: reversed, a stable sort keeps events stamped in
        // the same millisecond in the order they happened.
        .rev()
        .filter(|e| !seen.contains(&e.id))
        .collect();
    fresh.sort_by_key(|e| e.created_at);
    fresh
}

#[cfg(test)]
#[path = "assess_tests.rs"]
mod tests;
