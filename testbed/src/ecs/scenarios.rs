//! How the simulated ECS moves: creating deployments (with the `Behavior` a scenario gives
//! them), and the per-poll progression of each service.
//!
//! Time is deterministic: every answered `DescribeServices` call moves the simulated clock by
//! `step` seconds and advances each service it names by exactly one poll, in these phases:
//! 1. live tasks move one step along their deployment's `Behavior` (PENDING -> RUNNING ->
//!    targets initial -> healthy; or the scenario's failure);
//! 2. the circuit breaker trips when enabled and the PRIMARY deployment's failed tasks reach
//!    max(3, min(200, desired/2)): that deployment becomes FAILED ("ECS deployment circuit
//!    breaker: tasks failed to start."); with rollback, a new PRIMARY of the last COMPLETED
//!    deployment's revision is created (reason "ECS deployment circuit breaker: rolling back
//!    to deploymentId <that id>.");
//! 3. the PRIMARY deployment launches the tasks it lacks (or logs why it cannot);
//! 4. once the PRIMARY's tasks all run with healthy targets, the other deployments' tasks are
//!    stopped (targets draining); on the next poll those deployments vanish and the rollout is
//!    COMPLETED ("deployment completed.", "has reached a steady state.").

use super::seed::{Scenario, is_ec2, no_instances_message};
use super::state::{Behavior, Deployment, Service, SimState, Task, deployment_id};

/// ECS's circuit-breaker reason.
pub const CIRCUIT_BREAKER_REASON: &str = "ECS deployment circuit breaker: tasks failed to start.";
/// The crash-loop stopped reason.
pub const ESSENTIAL_EXITED: &str = "Essential container in task exited";

impl SimState {
    /// What a deployment of `task_def` does in `svc`.
    pub fn behavior_for(&self, svc: &Service, task_def: &str) -> Behavior {
        let no_instances = self
            .clusters
            .get(&svc.cluster)
            .is_some_and(|c| c.container_instances == 0);
        if no_instances && is_ec2(svc.launch_type.as_deref(), &svc.capacity_providers) {
            return Behavior::NoInstances;
        }
        if self.task_def(task_def).is_some_and(|t| t.good) {
            return Behavior::Healthy;
        }
        match svc.scenario {
            Scenario::HealthyRolling
            | Scenario::DeploymentInProgress
            | Scenario::Throttling { .. } => Behavior::Healthy,
            Scenario::CrashLoop | Scenario::CircuitBreakerRollback => Behavior::CrashLoop,
            Scenario::CannotPull => Behavior::CannotPull,
            Scenario::TargetsUnhealthy => Behavior::TargetsUnhealthy,
            Scenario::NeverSettles => Behavior::NeverSettles,
            Scenario::ServiceLinkedRoleMissing => Behavior::SlrMissing,
        }
    }

    /// A new PRIMARY deployment of `task_def`; the others become ACTIVE.
    pub fn new_deployment(&mut self, svc: &mut Service, task_def: String) -> String {
        let behavior = self.behavior_for(svc, &task_def);
        for d in &mut svc.deployments {
            d.status = "ACTIVE".into();
        }
        let id = deployment_id();
        svc.deployments.insert(
            0,
            Deployment {
                id: id.clone(),
                status: "PRIMARY".into(),
                task_definition: task_def,
                desired: svc.desired,
                running: 0,
                pending: 0,
                failed: 0,
                created_at: self.clock,
                updated_at: self.clock,
                rollout_state: "IN_PROGRESS".into(),
                rollout_reason: format!("ECS deployment {id} in progress."),
                behavior,
                launched: 0,
                age: 0,
            },
        );
        id
    }

    /// One poll of the service `(cluster, name)` (no-op unless it is ACTIVE).
    pub fn poll(&mut self, cluster: &str, name: &str) {
        let key = (cluster.to_owned(), name.to_owned());
        if self.held.contains(&key) {
            return;
        }
        let Some(mut svc) = self.services.remove(&key) else {
            return;
        };
        if svc.status == "ACTIVE" && !svc.deployments.is_empty() {
            self.advance(&mut svc);
        }
        self.services.insert(key, svc);
    }

    fn advance(&mut self, svc: &mut Service) {
        svc.polls += 1;
        for lb in &svc.load_balancers {
            if let Some(ts) = self.targets.get_mut(&lb.target_group_arn) {
                ts.retain(|t| !(t.state == "draining" && t.drained_at_poll < svc.polls));
            }
        }
        for d in &mut svc.deployments {
            d.age += 1;
        }
        let live: Vec<usize> = self
            .service_tasks(svc)
            .into_iter()
            .filter(|&i| self.tasks[i].live())
            .collect();
        for i in live {
            self.progress(svc, i);
        }
        self.circuit_breaker(svc);
        self.launch_primary(svc);
        self.settle(svc);
        count(self, svc);
        self.advance_service_deployment(svc);
    }

    fn service_tasks(&self, svc: &Service) -> Vec<usize> {
        (0..self.tasks.len())
            .filter(|&i| self.tasks[i].cluster == svc.cluster && self.tasks[i].service == svc.name)
            .collect()
    }

    fn progress(&mut self, svc: &mut Service, i: usize) {
        let dep = self.tasks[i].deployment.clone();
        let behavior = svc
            .deployments
            .iter()
            .find(|d| d.id == dep)
            .map_or(Behavior::Healthy, |d| d.behavior);
        let now = self.clock;
        match self.tasks[i].last_status.as_str() {
            "PENDING" if self.tasks[i].stuck => {}
            "PENDING" if behavior == Behavior::CannotPull => {
                let c = self.culprit(i);
                let image = self.tasks[i].containers[c].image.clone();
                let reason = format!(
                    "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref {image}: {image}: not found"
                );
                self.tasks[i].containers[c].reason = Some(reason.clone());
                self.stop(svc, i, "TaskFailedToStart", reason, true);
            }
            "PENDING" => self.start_task(svc, i, behavior),
            "RUNNING" => match behavior {
                Behavior::CrashLoop => {
                    let c = self.culprit(i);
                    if let Some(last) = svc.crash_log.last().cloned() {
                        self.write_log(i, c, &[last]);
                    }
                    for (k, ctr) in self.tasks[i].containers.iter_mut().enumerate() {
                        ctr.exit_code = Some(if k == c { 1 } else { 0 });
                    }
                    self.stop(
                        svc,
                        i,
                        "EssentialContainerExited",
                        ESSENTIAL_EXITED.into(),
                        true,
                    );
                }
                Behavior::TargetsUnhealthy if !svc.load_balancers.is_empty() => {
                    let newly = self.set_targets(i, "initial", "unhealthy", svc.polls);
                    if newly > 0 {
                        SimState::record_failure(svc);
                        let msgs: Vec<String> = svc
                            .load_balancers
                            .iter()
                            .map(|lb| {
                                format!(
                                    "(service {}) (task {}) (port {}) is unhealthy in (target-group {}) due to (reason Health checks failed with these codes: [500]).",
                                    svc.name, self.tasks[i].id, lb.container_port, lb.target_group_arn
                                )
                            })
                            .collect();
                        for m in msgs {
                            svc.event(now, m);
                        }
                        return;
                    }
                    self.tasks[i].unhealthy_polls += 1;
                    if self.tasks[i].unhealthy_polls >= 2 {
                        let tg = svc.load_balancers[0].target_group_arn.clone();
                        for ctr in &mut self.tasks[i].containers {
                            ctr.exit_code = Some(143);
                        }
                        self.stop(
                            svc,
                            i,
                            "ServiceSchedulerInitiated",
                            format!("Task failed ELB health checks in (target-group {tg})"),
                            true,
                        );
                    }
                }
                _ => {
                    self.set_targets(i, "initial", "healthy", svc.polls);
                }
            },
            _ => {}
        }
    }

    fn circuit_breaker(&mut self, svc: &mut Service) {
        let now = self.clock;
        let p = &svc.deployments[0];
        let threshold = (p.desired.div_ceil(2)).clamp(3, 200);
        if !svc.cb_enable || p.rollout_state != "IN_PROGRESS" || p.failed < threshold {
            return;
        }
        let failed_id = p.id.clone();
        let d = &mut svc.deployments[0];
        d.rollout_state = "FAILED".into();
        d.rollout_reason = CIRCUIT_BREAKER_REASON.into();
        d.updated_at = now;
        svc.event(
            now,
            format!(
                "(service {}) (deployment {failed_id}) deployment failed: tasks failed to start.",
                svc.name
            ),
        );
        SimState::record_failure(svc);
        if !svc.cb_rollback {
            return;
        }
        let back = svc.deployments[1..]
            .iter()
            .find(|d| d.rollout_state == "COMPLETED")
            .or_else(|| svc.deployments.get(1))
            .map(|d| (d.id.clone(), d.task_definition.clone()));
        let Some((back_id, back_td)) = back else {
            return;
        };
        svc.deployments[0].desired = 0;
        self.new_deployment(svc, back_td);
        svc.deployments[0].rollout_reason =
            format!("ECS deployment circuit breaker: rolling back to deploymentId {back_id}.");
        svc.event(
            now,
            format!(
                "(service {}) rolling back to deployment {back_id}.",
                svc.name
            ),
        );
    }

    fn launch_primary(&mut self, svc: &mut Service) {
        let now = self.clock;
        let p = &svc.deployments[0];
        if p.rollout_state == "FAILED" {
            return;
        }
        let message = match p.behavior {
            Behavior::SlrMissing => Some(format!(
                "(service {}) was unable to assume the service linked role. Please verify that the ECS service linked role exists.",
                svc.name
            )),
            Behavior::NoInstances => Some(no_instances_message(&svc.name)),
            _ => None,
        };
        if let Some(m) = message {
            if p.age % 5 == 1 {
                svc.event(now, m);
                SimState::record_failure(svc);
            }
            return;
        }
        let (p_id, desired) = (p.id.clone(), p.desired);
        let live: Vec<usize> = (0..self.tasks.len())
            .filter(|&i| self.tasks[i].deployment == p_id && self.tasks[i].live())
            .collect();
        if live.len() as u32 > desired {
            // Scaled in (UpdateService desiredCount): stop the newest extra tasks.
            let extra: Vec<usize> = live
                .iter()
                .rev()
                .take(live.len() - desired as usize)
                .copied()
                .collect();
            let names: Vec<String> = extra
                .iter()
                .map(|&i| format!("(task {})", self.tasks[i].id))
                .collect();
            for &i in &extra {
                for c in &mut self.tasks[i].containers {
                    c.exit_code.get_or_insert(0);
                }
                let reason = format!("Scaling activity initiated by (deployment {p_id})");
                self.stop(svc, i, "ServiceSchedulerInitiated", reason, false);
            }
            let m = format!(
                "(service {}) has stopped {} running tasks: {}.",
                svc.name,
                extra.len(),
                names.join(" ")
            );
            svc.event(now, m);
            return;
        }
        if live.len() as u32 == desired {
            return;
        }
        let ids = self.launch(svc, 0, desired - live.len() as u32);
        let names: Vec<String> = ids.iter().map(|id| format!("(task {id})")).collect();
        svc.event(
            now,
            format!(
                "(service {}) has started {} tasks: {}.",
                svc.name,
                ids.len(),
                names.join(" ")
            ),
        );
    }

    fn settle(&mut self, svc: &mut Service) {
        let now = self.clock;
        let p = &svc.deployments[0];
        if p.rollout_state == "FAILED"
            || matches!(p.behavior, Behavior::SlrMissing | Behavior::NoInstances)
            || self.holds_source(svc)
        {
            return;
        }
        let p_id = p.id.clone();
        let mine: Vec<&Task> = self
            .tasks
            .iter()
            .filter(|t| t.deployment == p_id && t.live())
            .collect();
        let arns: Vec<String> = mine.iter().map(|t| t.arn()).collect();
        let running = mine.iter().filter(|t| t.last_status == "RUNNING").count() as u32;
        let targets_ok = self
            .targets
            .values()
            .flatten()
            .filter(|t| arns.contains(&t.task))
            .all(|t| t.state == "healthy");
        if running != p.desired || mine.len() as u32 != p.desired || !targets_ok {
            return;
        }
        let others: Vec<usize> = self
            .service_tasks(svc)
            .into_iter()
            .filter(|&i| self.tasks[i].live() && self.tasks[i].deployment != p_id)
            .collect();
        if !others.is_empty() {
            let names: Vec<String> = others
                .iter()
                .map(|&i| format!("(task {})", self.tasks[i].id))
                .collect();
            for &i in &others {
                for c in &mut self.tasks[i].containers {
                    c.exit_code.get_or_insert(0);
                }
                self.stop(
                    svc,
                    i,
                    "ServiceSchedulerInitiated",
                    format!("Scaling activity initiated by (deployment {p_id})"),
                    false,
                );
            }
            svc.event(
                now,
                format!(
                    "(service {}) has stopped {} running tasks: {}.",
                    svc.name,
                    others.len(),
                    names.join(" ")
                ),
            );
            let mut msgs = Vec::new();
            for lb in &svc.load_balancers {
                let n = self
                    .targets
                    .get(&lb.target_group_arn)
                    .map_or(0, |ts| ts.iter().filter(|t| t.state == "draining").count());
                if n > 0 {
                    msgs.push(format!(
                        "(service {}) deregistered {n} targets in (target-group {})",
                        svc.name, lb.target_group_arn
                    ));
                }
            }
            for m in msgs {
                svc.event(now, m);
            }
            for d in &mut svc.deployments[1..] {
                d.desired = 0;
            }
            return;
        }
        if svc.deployments.len() > 1 || svc.deployments[0].rollout_state != "COMPLETED" {
            svc.deployments.truncate(1);
            let d = &mut svc.deployments[0];
            d.rollout_state = "COMPLETED".into();
            d.rollout_reason = format!("ECS deployment {p_id} completed.");
            let td = d.task_definition.clone();
            self.mark_good(&td);
            d.updated_at = now;
            svc.event(
                now,
                format!(
                    "(service {}) (deployment {p_id}) deployment completed.",
                    svc.name
                ),
            );
            svc.event(
                now,
                format!("(service {}) has reached a steady state.", svc.name),
            );
        }
    }
}

/// Recomputes each deployment's running and pending counts.
pub(crate) fn count(st: &SimState, svc: &mut Service) {
    for d in &mut svc.deployments {
        let mine = st.tasks.iter().filter(|t| t.deployment == d.id && t.live());
        let (mut running, mut pending) = (0, 0);
        for t in mine {
            if t.last_status == "RUNNING" {
                running += 1;
            } else {
                pending += 1;
            }
        }
        if (running, pending) != (d.running, d.pending) {
            d.updated_at = st.clock;
        }
        d.running = running;
        d.pending = pending;
    }
}
