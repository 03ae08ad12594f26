//! How the simulated ECS moves: seeding services (running and healthy on their "good"
//! revision), creating deployments, and the per-poll progression of each service.
//!
//! Time is deterministic: every answered `DescribeServices` call moves the simulated clock by
//! `step` seconds and advances each service it names by exactly one poll, in these phases:
//! 1. live tasks move one step along their deployment's `Behavior` (PENDING -> RUNNING ->
//!    targets initial -> healthy; or the scenario's failure);
//! 2. the circuit breaker trips when enabled and the PRIMARY deployment's failed tasks reach
//!    max(3, min(200, desired/2)); with rollback, a new PRIMARY of the last COMPLETED
//!    deployment's revision is created;
//! 3. the PRIMARY deployment launches the tasks it lacks (or logs why it cannot);
//! 4. once the PRIMARY's tasks all run with healthy targets, the other deployments' tasks are
//!    stopped (targets draining); on the next poll those deployments vanish and the rollout is
//!    COMPLETED ("deployment completed.", "has reached a steady state.").

use serde_json::{Value, json};

use super::state::{
    ApiError, Behavior, Cluster, ClusterSeed, Container, Deployment, LoadBalancer, Scenario,
    SeededService, Service, ServiceSeed, SimState, Target, Task, deployment_id, hex,
};

/// ECS's circuit-breaker reason.
pub const CIRCUIT_BREAKER_REASON: &str = "ECS deployment circuit breaker: tasks failed to start.";
/// The crash-loop stopped reason.
pub const ESSENTIAL_EXITED: &str = "Essential container in task exited";

impl SimState {
    pub fn seed_cluster(&mut self, seed: ClusterSeed) -> String {
        let c = Cluster {
            name: seed.name.clone(),
            status: seed.status,
            container_instances: seed.container_instances,
            capacity_providers: seed.capacity_providers,
        };
        let arn = c.arn();
        self.clusters.insert(seed.name, c);
        arn
    }

    pub fn seed_service(&mut self, seed: ServiceSeed) -> Result<SeededService, ApiError> {
        let ec2 = is_ec2(seed.launch_type.as_deref(), &seed.capacity_providers);
        if !self.clusters.contains_key(&seed.cluster) {
            self.seed_cluster(ClusterSeed {
                name: seed.cluster.clone(),
                container_instances: if ec2 { 2 } else { 0 },
                ..ClusterSeed::default()
            });
        }
        let cluster = self.clusters.get_mut(&seed.cluster).expect("created above");
        if let Some(n) = seed.cluster_container_instances {
            cluster.container_instances = n;
        }
        let cluster_arn = cluster.arn();
        let family = seed.family.clone().unwrap_or_else(|| seed.service.clone());
        let def = seed.task_definition.clone().unwrap_or_else(|| {
            default_task_definition(
                &family,
                &seed.image,
                &seed.container_name,
                seed.container_port,
            )
        });
        let td = self.register(def.clone(), true)?;
        let td_arn = td["taskDefinitionArn"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let first_container = td["containerDefinitions"][0]["name"]
            .as_str()
            .unwrap_or("app")
            .to_owned();
        let mut load_balancers = Vec::new();
        if seed.load_balancer {
            let short: String = seed.service.chars().take(28).collect();
            let tg = format!(
                "arn:aws:elasticloadbalancing:{}:{}:targetgroup/{short}-tg/{}",
                super::SIM_REGION,
                super::SIM_ACCOUNT,
                hex(16)
            );
            self.targets.insert(tg.clone(), Vec::new());
            load_balancers.push(LoadBalancer {
                target_group_arn: tg,
                container_name: first_container,
                container_port: seed.container_port,
            });
        }
        let active = seed.status == "ACTIVE";
        let (cb_enable, cb_rollback) = match seed.scenario {
            Scenario::CircuitBreakerRollback => (true, true),
            _ => (seed.circuit_breaker, seed.circuit_breaker_rollback),
        };
        let mut svc = Service {
            cluster: seed.cluster.clone(),
            name: seed.service.clone(),
            status: seed.status.clone(),
            launch_type: if seed.capacity_providers.is_empty() {
                seed.launch_type.clone()
            } else {
                None
            },
            capacity_providers: seed.capacity_providers.clone(),
            controller: seed.deployment_controller.clone(),
            desired: if active { seed.desired_count } else { 0 },
            deployments: Vec::new(),
            events: Vec::new(),
            load_balancers,
            subnets: seed.subnets.clone(),
            min_healthy: seed.minimum_healthy_percent,
            max_percent: seed.maximum_percent,
            cb_enable,
            cb_rollback,
            scenario: seed.scenario,
            throttle_left: match seed.scenario {
                Scenario::Throttling { first_n } => first_n,
                _ => 0,
            },
            crash_log: seed.crash_log.clone(),
            created_at: self.clock,
            polls: 0,
            failure_visible: None,
        };
        self.new_deployment(&mut svc, td_arn.clone());
        let no_room = svc.deployments[0].behavior == Behavior::NoInstances;
        if active && !no_room {
            let n = svc.desired;
            let ids = self.launch(&mut svc, 0, n);
            for id in ids {
                let i = self
                    .tasks
                    .iter()
                    .position(|t| t.id == id)
                    .expect("launched");
                self.start_task(&svc, i, Behavior::Healthy);
                self.set_targets(i, "initial", "healthy", 0);
            }
        }
        let d = &mut svc.deployments[0];
        d.rollout_state = "COMPLETED".into();
        d.rollout_reason = format!("ECS deployment {} completed.", d.id);
        let now = self.clock;
        if active {
            svc.event(
                now,
                format!("(service {}) has reached a steady state.", svc.name),
            );
        }
        if active && no_room {
            svc.event(now, no_instances_message(&svc.name));
        }
        let mut in_progress = None;
        if seed.scenario == Scenario::DeploymentInProgress && active {
            let td2 = self.register(def, true)?;
            let arn2 = td2["taskDefinitionArn"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            self.new_deployment(&mut svc, arn2.clone());
            in_progress = Some(arn2);
        }
        count(self, &mut svc);
        let out = SeededService {
            cluster_arn,
            service_arn: svc.arn(),
            task_definition_arn: td_arn,
            target_group_arns: svc
                .load_balancers
                .iter()
                .map(|l| l.target_group_arn.clone())
                .collect(),
            in_progress_task_definition_arn: in_progress,
        };
        self.services.insert((seed.cluster, seed.service), svc);
        Ok(out)
    }

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

    /// PENDING -> RUNNING: containers up, targets registered (initial), first log lines.
    fn start_task(&mut self, svc: &Service, i: usize, behavior: Behavior) {
        let now = self.clock;
        let t = &mut self.tasks[i];
        t.last_status = "RUNNING".into();
        t.started_at = Some(now);
        t.version += 1;
        for c in &mut t.containers {
            c.last_status = "RUNNING".into();
        }
        for lb in &svc.load_balancers {
            let (ip, task) = (t.ip.clone(), t.arn());
            self.targets
                .entry(lb.target_group_arn.clone())
                .or_default()
                .push(Target {
                    id: ip,
                    port: lb.container_port,
                    task,
                    state: "initial".into(),
                    drained_at_poll: 0,
                });
        }
        let c = self.culprit(i);
        if behavior == Behavior::CrashLoop {
            let n = svc.crash_log.len().saturating_sub(1);
            self.write_log(i, c, &svc.crash_log[..n]);
        } else {
            let port = svc
                .load_balancers
                .first()
                .map_or(8080, |l| l.container_port);
            self.write_log(i, c, &[format!("Listening on 0.0.0.0:{port}")]);
        }
    }

    /// Moves task `i`'s targets in state `from` to `to`; returns how many moved.
    fn set_targets(&mut self, i: usize, from: &str, to: &str, poll: u32) -> usize {
        let arn = self.tasks[i].arn();
        let mut n = 0;
        for ts in self.targets.values_mut() {
            for t in ts.iter_mut().filter(|t| t.task == arn && t.state == from) {
                t.state = to.into();
                t.drained_at_poll = poll;
                n += 1;
            }
        }
        n
    }

    fn stop(&mut self, svc: &mut Service, i: usize, code: &str, reason: String, failed: bool) {
        let now = self.clock;
        let t = &mut self.tasks[i];
        t.last_status = "STOPPED".into();
        t.desired_status = "STOPPED".into();
        t.stopped_at = Some(now);
        t.stopped_reason = Some(reason);
        t.stop_code = Some(code.into());
        t.version += 1;
        for c in &mut t.containers {
            c.last_status = "STOPPED".into();
        }
        let dep = t.deployment.clone();
        for from in ["initial", "healthy", "unhealthy"] {
            self.set_targets(i, from, "draining", svc.polls);
        }
        if failed {
            if let Some(d) = svc.deployments.iter_mut().find(|d| d.id == dep) {
                d.failed += 1;
                d.updated_at = now;
            }
            SimState::record_failure(svc);
        }
    }

    /// The container that fails: the first whose image no good revision of the family runs,
    /// else the first essential one.
    fn culprit(&self, i: usize) -> usize {
        let t = &self.tasks[i];
        let family = t.task_definition.rsplit_once('/').map_or("", |(_, r)| r);
        let family = family.rsplit_once(':').map_or(family, |(f, _)| f);
        let good: Vec<&str> = self
            .task_defs
            .get(family)
            .into_iter()
            .flatten()
            .filter(|d| d.good)
            .flat_map(|d| {
                d.def["containerDefinitions"]
                    .as_array()
                    .into_iter()
                    .flatten()
            })
            .filter_map(|c| c["image"].as_str())
            .collect();
        if let Some(k) = t
            .containers
            .iter()
            .position(|c| !good.contains(&c.image.as_str()))
        {
            return k;
        }
        let defs = self
            .task_def(&t.task_definition)
            .map(|d| d.def.clone())
            .unwrap_or(Value::Null);
        t.containers
            .iter()
            .position(|c| {
                defs["containerDefinitions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|d| d["name"] == c.name.as_str())
                    .is_none_or(|d| d["essential"] != false)
            })
            .unwrap_or(0)
    }

    /// Appends `lines` to the awslogs stream of container `c` of task `i` (if it logs there).
    fn write_log(&mut self, i: usize, c: usize, lines: &[String]) {
        let t = &self.tasks[i];
        let Some(td) = self.task_def(&t.task_definition) else {
            return;
        };
        let name = &t.containers[c].name;
        let Some(def) = td.def["containerDefinitions"]
            .as_array()
            .and_then(|a| a.iter().find(|d| d["name"] == name.as_str()))
        else {
            return;
        };
        let lc = &def["logConfiguration"];
        if lc["logDriver"] != "awslogs" {
            return;
        }
        let Some(group) = lc["options"]["awslogs-group"].as_str() else {
            return;
        };
        let stream = match lc["options"]["awslogs-stream-prefix"].as_str() {
            Some(p) => format!("{p}/{name}/{}", t.id),
            None => format!("{name}/{}", t.id),
        };
        let base = self.clock * 1000;
        let events = self.logs.entry((group.to_owned(), stream)).or_default();
        for (k, line) in lines.iter().enumerate() {
            events.push(super::state::LogEvent {
                timestamp_ms: base + k as u64,
                message: line.clone(),
            });
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
        let p_id = p.id.clone();
        let live = self
            .tasks
            .iter()
            .filter(|t| t.deployment == p_id && t.live())
            .count() as u32;
        if live >= p.desired {
            return;
        }
        let ids = self.launch(svc, 0, p.desired - live);
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

    /// Creates `n` PENDING tasks of deployment `d`; returns their ids.
    fn launch(&mut self, svc: &mut Service, d: usize, n: u32) -> Vec<String> {
        let now = self.clock;
        let (dep_id, td_arn, behavior) = {
            let d = &svc.deployments[d];
            (d.id.clone(), d.task_definition.clone(), d.behavior)
        };
        let td = self
            .task_def(&td_arn)
            .map(|t| t.def.clone())
            .unwrap_or(Value::Null);
        let mut ids = Vec::new();
        for _ in 0..n {
            let id = hex(32);
            let launched = svc.deployments[d].launched;
            svc.deployments[d].launched += 1;
            let containers = td["containerDefinitions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| Container {
                    name: c["name"].as_str().unwrap_or_default().into(),
                    image: c["image"].as_str().unwrap_or_default().into(),
                    last_status: "PENDING".into(),
                    exit_code: None,
                    reason: None,
                    runtime_id: format!("{id}-{}", 1_000_000_000 + launched),
                    uuid: crate::net::random_uuid(),
                })
                .collect();
            let ip = self.ip();
            let subnet = svc
                .subnets
                .get(self.next_ip as usize % svc.subnets.len().max(1))
                .cloned()
                .unwrap_or_default();
            self.tasks.push(Task {
                id: id.clone(),
                cluster: svc.cluster.clone(),
                service: svc.name.clone(),
                task_definition: td_arn.clone(),
                deployment: dep_id.clone(),
                last_status: "PENDING".into(),
                desired_status: "RUNNING".into(),
                created_at: now,
                started_at: None,
                stopped_at: None,
                stopped_reason: None,
                stop_code: None,
                containers,
                ip,
                eni: format!("eni-0{}", hex(16)),
                subnet,
                stuck: behavior == Behavior::NeverSettles && launched > 0,
                unhealthy_polls: 0,
                version: 1,
                cpu: td["cpu"].as_str().unwrap_or("256").into(),
                memory: td["memory"].as_str().unwrap_or("512").into(),
            });
            ids.push(id);
        }
        ids
    }

    fn settle(&mut self, svc: &mut Service) {
        let now = self.clock;
        let p = &svc.deployments[0];
        if p.rollout_state == "FAILED"
            || matches!(p.behavior, Behavior::SlrMissing | Behavior::NoInstances)
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

fn is_ec2(launch_type: Option<&str>, providers: &[String]) -> bool {
    match launch_type {
        Some(l) => l == "EC2",
        None => providers.is_empty(),
    }
}

fn no_instances_message(service: &str) -> String {
    format!(
        "(service {service}) was unable to place a task because no container instance met all of its requirements. \
         Reason: No Container Instances were found in your cluster. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide."
    )
}

/// The definition a seed registers when it is given none.
pub fn default_task_definition(family: &str, image: &str, container: &str, port: u16) -> Value {
    json!({
        "family": family,
        "executionRoleArn": format!("arn:aws:iam::{}:role/ecsTaskExecutionRole", super::SIM_ACCOUNT),
        "networkMode": "awsvpc",
        "containerDefinitions": [{
            "name": container,
            "image": image,
            "cpu": 0,
            "essential": true,
            "portMappings": [{"containerPort": port, "hostPort": port, "protocol": "tcp"}],
            "environment": [{"name": "PORT", "value": port.to_string()}],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": format!("/ecs/{family}"),
                    "awslogs-region": super::SIM_REGION,
                    "awslogs-stream-prefix": "ecs"
                }
            }
        }],
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512"
    })
}
