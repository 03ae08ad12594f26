//! Task-level moves of the ECS simulator: launching PENDING tasks of a deployment, starting
//! them (containers RUNNING, targets registered `initial`, first log lines), moving targets,
//! stopping them (reason, stop code, failed count), and writing their awslogs streams.

use serde_json::Value;

use super::state::{Behavior, Container, Service, SimState, Target, Task, hex};

impl SimState {
    /// PENDING -> RUNNING: containers up, targets registered (initial), first log lines.
    pub(crate) fn start_task(&mut self, svc: &Service, i: usize, behavior: Behavior) {
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
    pub(crate) fn set_targets(&mut self, i: usize, from: &str, to: &str, poll: u32) -> usize {
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

    pub(crate) fn stop(
        &mut self,
        svc: &mut Service,
        i: usize,
        code: &str,
        reason: String,
        failed: bool,
    ) {
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
    pub(crate) fn culprit(&self, i: usize) -> usize {
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
    pub(crate) fn write_log(&mut self, i: usize, c: usize, lines: &[String]) {
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

    /// Creates `n` PENDING tasks of deployment `d`; returns their ids.
    pub(crate) fn launch(&mut self, svc: &mut Service, d: usize, n: u32) -> Vec<String> {
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
}
