//! How a service deployment moves on each poll, per `deploymentConfiguration.strategy`.
//!
//! After the tasks have moved (`scenarios.rs`), the service's newest service deployment takes
//! one step:
//! - PENDING -> IN_PROGRESS on the first poll after UpdateService.
//! - ROLLING mirrors the ECS deployment: SCALE_UP while the new tasks start, CLEAN_UP once they
//!   all run, SUCCESSFUL when the old deployment is gone.
//! - BLUE_GREEN, LINEAR and CANARY walk PRE_SCALE_UP, SCALE_UP, POST_SCALE_UP,
//!   TEST_TRAFFIC_SHIFT, POST_TEST_TRAFFIC_SHIFT, PRE_PRODUCTION_TRAFFIC_SHIFT,
//!   PRODUCTION_TRAFFIC_SHIFT, POST_PRODUCTION_TRAFFIC_SHIFT, BAKE_TIME, CLEAN_UP, at least one
//!   poll each; the source revision's tasks keep running until CLEAN_UP. SCALE_UP lasts until
//!   the target's tasks all run with healthy targets; TEST_TRAFFIC_SHIFT moves test traffic to
//!   100; PRODUCTION_TRAFFIC_SHIFT moves production traffic at once (BLUE_GREEN), by
//!   `stepPercent` every `stepBakeTimeInMinutes` (LINEAR: defaults 10 and 6) or to
//!   `canaryPercent`, then 100 after `canaryBakeTimeInMinutes` (CANARY: defaults 5 and 10);
//!   BAKE_TIME lasts `bakeTimeInMinutes` of simulated time. (The target's tasks start on the
//!   first poll, whatever the stage.)
//! - Lifecycle hooks (`lifecycleHooks`) run when their stage is entered and the stage waits for
//!   them: an AWS_LAMBDA hook is IN_PROGRESS for `inProgressPolls` polls, then SUCCEEDED or
//!   FAILED (its `LambdaScript`); a PAUSE hook is AWAITING_ACTION until ContinueServiceDeployment
//!   or its `timeoutInMinutes` (default 1440), then TIMED_OUT with its `action` (default
//!   ROLLBACK).
//! - A scripted alarm (`AlarmScript`) triggers when its stage is reached, if `alarms.enable`.
//! - Failures: a FAILED hook, a TIMED_OUT hook whose action is ROLLBACK, a triggered alarm with
//!   `rollback`, or the circuit breaker with rollback: ROLLBACK_IN_PROGRESS with `rollback`
//!   (reason, revision), traffic back on the source; BLUE_GREEN-family services make the source
//!   deployment PRIMARY again, ROLLING ones start a deployment of the source revision (the
//!   circuit breaker's, in `scenarios.rs`); ROLLBACK_SUCCESSFUL once that deployment alone
//!   remains, COMPLETED. With `Script::rollback_fails`, the rollback deployment fails and the
//!   next poll says ROLLBACK_FAILED. Without rollback (breaker or alarms): STOPPED, the target
//!   deployment FAILED, everything left where it was.

use super::scenarios::CIRCUIT_BREAKER_REASON;
use super::service_deployments::{HookRun, monitor_done};
use super::state::{Service, SimState};

/// The stages of BLUE_GREEN, LINEAR and CANARY, in order.
pub const STAGED_LIFECYCLE: [&str; 10] = [
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
];

/// What a stage's hooks say.
enum Hooks {
    Waiting,
    Passed,
    RollBack(String),
}

fn one_decimal(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

impl SimState {
    /// Whether the source revision's tasks must keep running: a BLUE_GREEN-family deployment
    /// that has not reached CLEAN_UP and is not being rolled back.
    pub(crate) fn holds_source(&self, svc: &Service) -> bool {
        let sd = &self.service_deployments;
        sd.latest(&svc.cluster, &svc.name).is_some_and(|i| {
            let r = &sd.records[i];
            r.strategy() != "ROLLING"
                && matches!(
                    r.status.as_str(),
                    "PENDING" | "IN_PROGRESS" | "STOP_REQUESTED" | "STOPPED" | "ROLLBACK_FAILED"
                )
                && r.stage.as_deref() != Some("CLEAN_UP")
        })
    }

    /// One poll's step of the service's newest service deployment.
    pub(crate) fn advance_service_deployment(&mut self, svc: &mut Service) {
        let Some(i) = self.service_deployments.latest(&svc.cluster, &svc.name) else {
            return;
        };
        let now = self.clock;
        let rec = &mut self.service_deployments.records[i];
        if rec.terminal() {
            return;
        }
        rec.updated_at = now;
        if self.breaker_step(svc, i) {
            return;
        }
        let rec = &mut self.service_deployments.records[i];
        match rec.status.as_str() {
            "PENDING" => {
                rec.status = "IN_PROGRESS".into();
                rec.started_at = Some(now);
                if rec.strategy() == "ROLLING" {
                    rec.stage = Some("SCALE_UP".into());
                } else {
                    self.enter_stage(i, STAGED_LIFECYCLE[0]);
                }
            }
            "STOP_REQUESTED" => {
                rec.status = "STOPPED".into();
                rec.stopped_at = Some(now);
                rec.finished_at = Some(now);
            }
            "ROLLBACK_REQUESTED" => rec.status = "ROLLBACK_IN_PROGRESS".into(),
            "ROLLBACK_IN_PROGRESS" => self.rollback_step(svc, i),
            "IN_PROGRESS" if rec.strategy() == "ROLLING" => self.rolling_step(svc, i),
            "IN_PROGRESS" => self.staged_step(svc, i),
            _ => {}
        }
    }

    /// The circuit breaker's count, and its verdict once `scenarios.rs` tripped it; true when
    /// it decided this poll.
    fn breaker_step(&mut self, svc: &mut Service, i: usize) -> bool {
        let now = self.clock;
        let rec = &mut self.service_deployments.records[i];
        let Some(d) = svc
            .deployments
            .iter_mut()
            .find(|d| d.id == rec.target_deployment)
        else {
            return false;
        };
        if rec.breaker.status == "MONITORING" {
            rec.breaker.failure_count = d.failed;
        }
        let tripped = d.rollout_state == "FAILED" && d.rollout_reason == CIRCUIT_BREAKER_REASON;
        if !tripped || !matches!(rec.status.as_str(), "PENDING" | "IN_PROGRESS") {
            return false;
        }
        rec.breaker.status = "TRIGGERED".into();
        let reason = format!(
            "Service deployment rolled back because the circuit breaker threshold was exceeded: {} tasks failed (threshold {}).",
            rec.breaker.failure_count, rec.breaker.threshold
        );
        let rollback_started = svc.cb_rollback && svc.deployments[0].id != rec.target_deployment;
        if !rollback_started {
            rec.status = "STOPPED".into();
            rec.status_reason = Some(CIRCUIT_BREAKER_REASON.into());
            rec.stopped_at = Some(now);
            rec.finished_at = Some(now);
            return true;
        }
        rec.status = "ROLLBACK_IN_PROGRESS".into();
        rec.status_reason = Some(reason.clone());
        let back_to = rec.source_revisions.first().cloned().unwrap_or_default();
        rec.rollback = Some((reason, now, back_to));
        rec.production_weight = rec.production_weight.map(|_| 0.0);
        rec.test_weight = rec.test_weight.map(|_| 0.0);
        rec.rollback_deployment = Some(svc.deployments[0].id.clone());
        if rec.rollback_fails {
            fail_deployment(svc, 0, "ECS deployment circuit breaker: rollback failed.", now);
        }
        true
    }

    /// A rollback under way: ROLLBACK_FAILED when scripted, ROLLBACK_SUCCESSFUL once the
    /// rollback deployment alone remains, COMPLETED.
    fn rollback_step(&mut self, svc: &Service, i: usize) {
        let now = self.clock;
        let rec = &mut self.service_deployments.records[i];
        if rec.rollback_fails {
            rec.status = "ROLLBACK_FAILED".into();
            rec.status_reason = Some(format!(
                "ECS could not roll back to {}: the rollback deployment failed.",
                rec.rollback.as_ref().map_or("", |r| r.2.as_str())
            ));
            rec.finished_at = Some(now);
            return;
        }
        let done = svc.deployments.len() == 1
            && Some(&svc.deployments[0].id) == rec.rollback_deployment.as_ref()
            && svc.deployments[0].rollout_state == "COMPLETED";
        if done {
            rec.status = "ROLLBACK_SUCCESSFUL".into();
            rec.finished_at = Some(now);
        }
    }

    /// Starts ECS's own rollback of service deployment `i` (a failed hook or alarm,
    /// StopServiceDeployment, ContinueServiceDeployment ROLLBACK), in state `status`.
    pub(crate) fn begin_rollback(&mut self, svc: &mut Service, i: usize, reason: String, status: &str) {
        let now = self.clock;
        let rec = &mut self.service_deployments.records[i];
        rec.status = status.into();
        rec.status_reason = Some(reason.clone());
        rec.updated_at = now;
        let back_to = rec.source_revisions.first().cloned().unwrap_or_default();
        rec.rollback = Some((reason.clone(), now, back_to.clone()));
        rec.production_weight = rec.production_weight.map(|_| 0.0);
        rec.test_weight = rec.test_weight.map(|_| 0.0);
        let staged = rec.strategy() != "ROLLING";
        let (target_id, source_id, fails) = (
            rec.target_deployment.clone(),
            rec.source_deployments.first().cloned(),
            rec.rollback_fails,
        );
        if let Some(k) = svc.deployments.iter().position(|d| d.id == target_id) {
            fail_deployment(svc, k, &reason, now);
        }
        if fails {
            return;
        }
        let source_at = source_id.and_then(|s| svc.deployments.iter().position(|d| d.id == s));
        let back = match source_at {
            Some(k) if staged => {
                let d = svc.deployments.remove(k);
                svc.deployments.insert(0, d);
                for (n, d) in svc.deployments.iter_mut().enumerate() {
                    d.status = if n == 0 { "PRIMARY" } else { "ACTIVE" }.into();
                }
                svc.deployments[0].updated_at = now;
                svc.deployments[0].id.clone()
            }
            _ => {
                let td = self
                    .service_deployments
                    .revisions
                    .iter()
                    .find(|r| r.arn == back_to)
                    .map(|r| r.task_definition.clone())
                    .unwrap_or_else(|| svc.task_definition());
                self.new_deployment(svc, td)
            }
        };
        self.service_deployments.records[i].rollback_deployment = Some(back.clone());
        svc.event(
            now,
            format!("(service {}) rolling back to deployment {back}.", svc.name),
        );
    }

    fn rolling_step(&mut self, svc: &mut Service, i: usize) {
        let now = self.clock;
        let rec = &mut self.service_deployments.records[i];
        let Some(d) = svc
            .deployments
            .iter()
            .find(|d| d.id == rec.target_deployment)
        else {
            rec.status = "STOPPED".into();
            rec.status_reason = Some("Its deployment is no longer on the service.".into());
            rec.stopped_at = Some(now);
            return;
        };
        if d.rollout_state == "COMPLETED" && svc.deployments.len() == 1 {
            rec.status = "SUCCESSFUL".into();
            rec.finished_at = Some(now);
            rec.breaker.status = monitor_done(&rec.breaker.status);
            rec.alarms.status = monitor_done(&rec.alarms.status);
            return;
        }
        if d.rollout_state == "FAILED" {
            rec.status = "STOPPED".into();
            rec.status_reason = Some(d.rollout_reason.clone());
            rec.stopped_at = Some(now);
            return;
        }
        let stage = if d.desired > 0 && d.running >= d.desired {
            "CLEAN_UP"
        } else {
            "SCALE_UP"
        };
        rec.stage = Some(stage.into());
        self.alarm_step(svc, i, stage);
    }

    fn staged_step(&mut self, svc: &mut Service, i: usize) {
        let stage = self.service_deployments.records[i]
            .stage
            .clone()
            .unwrap_or_default();
        match self.hooks_step(i, &stage) {
            Hooks::Waiting => return,
            Hooks::RollBack(reason) => {
                return self.begin_rollback(svc, i, reason, "ROLLBACK_IN_PROGRESS");
            }
            Hooks::Passed => {}
        }
        if self.alarm_step(svc, i, &stage) || !self.stage_done(svc, i, &stage) {
            return;
        }
        let next = STAGED_LIFECYCLE
            .iter()
            .position(|s| *s == stage)
            .map_or(0, |p| p + 1);
        match STAGED_LIFECYCLE.get(next) {
            Some(s) => self.enter_stage(i, s),
            None => {
                let now = self.clock;
                let rec = &mut self.service_deployments.records[i];
                rec.status = "SUCCESSFUL".into();
                rec.finished_at = Some(now);
                rec.breaker.status = monitor_done(&rec.breaker.status);
                rec.alarms.status = monitor_done(&rec.alarms.status);
            }
        }
    }

    /// Enters `stage`: its hooks start.
    fn enter_stage(&mut self, i: usize, stage: &str) {
        let now = self.clock;
        let rec = &mut self.service_deployments.records[i];
        rec.stage = Some(stage.into());
        rec.stage_entered = now;
        let hooks = rec.config["lifecycleHooks"].as_array().cloned().unwrap_or_default();
        for h in hooks {
            let at_stage = h["lifecycleStages"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s == stage));
            if !at_stage {
                continue;
            }
            let target_type = h["targetType"].as_str().unwrap_or("AWS_LAMBDA").to_owned();
            let pause = target_type == "PAUSE";
            let timeout = &h["timeoutConfiguration"];
            rec.hooks.push(HookRun {
                hook_id: format!(
                    "ecs-{}-{}",
                    if pause { "pause" } else { "hook" },
                    super::state::hex(32)
                ),
                target_arn: h["hookTargetArn"].as_str().map(str::to_owned),
                status: if pause { "AWAITING_ACTION" } else { "IN_PROGRESS" }.into(),
                expires_at: now + 60 * timeout["timeoutInMinutes"].as_u64().unwrap_or(1440),
                timeout_action: timeout["action"].as_str().unwrap_or("ROLLBACK").into(),
                target_type,
                stage: stage.into(),
                polls: 0,
            });
        }
    }

    /// The hooks of the current stage answer (Lambda scripts, pause timeouts).
    fn hooks_step(&mut self, i: usize, stage: &str) -> Hooks {
        let now = self.clock;
        let rec = &self.service_deployments.records[i];
        let script = self
            .service_deployments
            .setup(&rec.cluster, &rec.service)
            .script;
        let rec = &mut self.service_deployments.records[i];
        let mut outcome = Hooks::Passed;
        for h in rec.hooks.iter_mut().filter(|h| h.stage == stage) {
            match (h.target_type.as_str(), h.status.as_str()) {
                ("PAUSE", "AWAITING_ACTION") if now >= h.expires_at => {
                    h.status = "TIMED_OUT".into();
                    if h.timeout_action == "ROLLBACK" {
                        outcome = Hooks::RollBack(format!(
                            "Pause hook {} timed out at lifecycle stage {stage}; its timeout action is ROLLBACK.",
                            h.hook_id
                        ));
                    }
                }
                ("PAUSE", "AWAITING_ACTION") => {
                    if matches!(outcome, Hooks::Passed) {
                        outcome = Hooks::Waiting;
                    }
                }
                (_, "IN_PROGRESS") => {
                    h.polls += 1;
                    let arn = h.target_arn.clone().unwrap_or_default();
                    let answer = script.lambda.get(&arn).cloned().unwrap_or_default();
                    if h.polls <= answer.in_progress_polls {
                        if matches!(outcome, Hooks::Passed) {
                            outcome = Hooks::Waiting;
                        }
                    } else if answer.fails_at.as_deref() == Some(stage) {
                        h.status = "FAILED".into();
                        outcome = Hooks::RollBack(format!(
                            "Lifecycle hook {arn} returned FAILED at lifecycle stage {stage}."
                        ));
                    } else {
                        h.status = "SUCCEEDED".into();
                    }
                }
                _ => {}
            }
        }
        outcome
    }

    /// The scripted alarm, if it fires at `stage`: rolls back or stops; true when it fired.
    fn alarm_step(&mut self, svc: &mut Service, i: usize, stage: &str) -> bool {
        let now = self.clock;
        let rec = &self.service_deployments.records[i];
        let script = self
            .service_deployments
            .setup(&rec.cluster, &rec.service)
            .script;
        let Some(alarm) = script.alarm.filter(|a| a.stage == stage) else {
            return false;
        };
        let rec = &mut self.service_deployments.records[i];
        if rec.alarms.status != "MONITORING" {
            return false;
        }
        rec.alarms.status = "TRIGGERED".into();
        rec.alarms.triggered = vec![alarm.name.clone()];
        let reason = format!(
            "Service deployment failed because CloudWatch alarm {} went to ALARM at lifecycle stage {stage}.",
            alarm.name
        );
        if rec.config["alarms"]["rollback"].as_bool().unwrap_or(false) {
            self.begin_rollback(svc, i, reason, "ROLLBACK_IN_PROGRESS");
            return true;
        }
        rec.status = "STOPPED".into();
        rec.status_reason = Some(reason.clone());
        rec.stopped_at = Some(now);
        rec.finished_at = Some(now);
        let target = rec.target_deployment.clone();
        if let Some(k) = svc.deployments.iter().position(|d| d.id == target) {
            fail_deployment(svc, k, &reason, now);
        }
        true
    }

    /// Whether the work of `stage` is done this poll (moving traffic as it goes).
    fn stage_done(&mut self, svc: &Service, i: usize, stage: &str) -> bool {
        let now = self.clock;
        let ready = {
            let target = &self.service_deployments.records[i].target_deployment;
            self.deployment_ready(svc, target)
        };
        let rec = &mut self.service_deployments.records[i];
        let config = &rec.config;
        let minutes = |v: &serde_json::Value, default: u64| 60 * v.as_u64().unwrap_or(default);
        match stage {
            "SCALE_UP" => ready,
            "TEST_TRAFFIC_SHIFT" => {
                rec.test_weight = Some(100.0);
                true
            }
            "PRODUCTION_TRAFFIC_SHIFT" => {
                let w = rec.production_weight.unwrap_or(0.0);
                let (step, wait) = match rec.strategy() {
                    "LINEAR" => (
                        config["linearConfiguration"]["stepPercent"].as_f64().unwrap_or(10.0),
                        minutes(&config["linearConfiguration"]["stepBakeTimeInMinutes"], 6),
                    ),
                    "CANARY" if w == 0.0 => (
                        config["canaryConfiguration"]["canaryPercent"].as_f64().unwrap_or(5.0),
                        0,
                    ),
                    "CANARY" => (
                        100.0,
                        minutes(&config["canaryConfiguration"]["canaryBakeTimeInMinutes"], 10),
                    ),
                    _ => (100.0, 0),
                };
                if w == 0.0 || now >= rec.step_entered + wait {
                    rec.production_weight = Some(one_decimal((w + step).min(100.0)));
                    rec.step_entered = now;
                }
                rec.production_weight == Some(100.0)
            }
            "BAKE_TIME" => now >= rec.stage_entered + minutes(&config["bakeTimeInMinutes"], 0),
            "CLEAN_UP" => {
                svc.deployments.len() == 1
                    && svc.deployments[0].id == rec.target_deployment
                    && svc.deployments[0].rollout_state == "COMPLETED"
            }
            _ => true,
        }
    }

    /// All of a deployment's tasks run and every target they registered is healthy.
    fn deployment_ready(&self, svc: &Service, id: &str) -> bool {
        let Some(d) = svc.deployments.iter().find(|d| d.id == id) else {
            return false;
        };
        let arns: Vec<String> = self
            .tasks
            .iter()
            .filter(|t| t.deployment == id && t.live())
            .map(super::state::Task::arn)
            .collect();
        d.desired > 0
            && d.running >= d.desired
            && self
                .targets
                .values()
                .flatten()
                .filter(|t| arns.contains(&t.task))
                .all(|t| t.state == "healthy")
    }
}

/// Marks deployment `k` FAILED with `reason` (it launches and settles no more).
fn fail_deployment(svc: &mut Service, k: usize, reason: &str, now: u64) {
    let d = &mut svc.deployments[k];
    d.rollout_state = "FAILED".into();
    d.rollout_reason = reason.into();
    d.updated_at = now;
}
