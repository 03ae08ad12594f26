//! The watch's view of ECS: [`EcsObserver`] turns one poll into a snapshot per service, asking
//! as little as the answer needs. Many deploy jobs of one organisation share an account's ECS
//! and ELB API rate limits, so a poll of services that did not change costs one
//! DescribeServices call per 10 services, and nothing is asked per service per poll:
//! - DescribeServices: batches of 10 (`EcsApi::describe_services`);
//! - ListTasks + DescribeTasks: only for a service whose deployment counts changed since the
//!   last poll: its stopped tasks when the failed count changed (the crash-loop rule,
//!   `crashloop`), its running tasks once all desired tasks run behind a load balancer (their
//!   IPs are the targets); one DescribeTasks batch (100 tasks a call) for every service at once;
//! - DescribeTargetHealth: only once a service runs all its desired tasks, once per target
//!   group however many services share it, and not again while its targets are known healthy
//!   at unchanged counts;
//! - DescribeServiceDeployments: one call per 20 followed service deployments, every poll
//!   (the stage, traffic and hooks move without the service's counts changing).
//!
//! [`TaskMemory`] holds what was learned per service and deployment between polls and decides
//! (pure, tested by tables) which lists are stale.

use std::collections::HashMap;
use std::time::SystemTime;

use super::TargetView;
use super::assess::{ServiceSnapshot, unmet_conditions};
use super::crashloop::{StartExits, TaskExit};
use super::deployment_verdict::ServiceDeploymentSnapshot;
use super::ecs_api::{ApiError, EcsApi, ServiceState, TaskStatus, TaskView};
use super::probe::Probe;
use super::service_deployment::ServiceDeploymentReader;
use super::watch::{Clock, Observe, Watched};

/// Polls ECS frugally (issue: many deploy jobs share an account's API rate limits): per poll
/// one DescribeServices per 10 services; ListTasks and DescribeTasks only for a service whose
/// deployment counts changed since the last poll (DescribeTasks batched across services, 100
/// tasks a call); DescribeTargetHealth only once a service runs all its desired tasks, once per
/// target group (shared by the services in it), and not again while its targets stay healthy
/// and the counts stay put. What it learned is remembered per service and deployment
/// ([`TaskMemory`]), so an unchanged poll costs one DescribeServices call.
pub struct EcsObserver<'a, C: Clock> {
    api: &'a EcsApi,
    clock: &'a C,
    /// `health-check-url`, asked once every other condition of every service holds.
    probe: Option<Probe>,
    memory: HashMap<(String, String), TaskMemory>,
    /// Reads the followed service deployments (`Watched::deployment`).
    deployments: Option<&'a ServiceDeploymentReader>,
    /// Whether a failed DescribeServiceDeployments was reported already.
    warned: bool,
}

impl<'a, C: Clock> EcsObserver<'a, C> {
    pub fn new(api: &'a EcsApi, clock: &'a C, probe: Option<Probe>) -> Self {
        EcsObserver {
            api,
            clock,
            probe,
            memory: HashMap::new(),
            deployments: None,
            warned: false,
        }
    }

    /// Reads the service deployments of the services that follow one, every poll.
    pub fn with_deployments(mut self, reader: &'a ServiceDeploymentReader) -> Self {
        self.deployments = Some(reader);
        self
    }
}

impl<C: Clock> Observe for EcsObserver<'_, C> {
    async fn observe(&mut self, watched: &[&Watched]) -> Result<Vec<ServiceSnapshot>, ApiError> {
        let names: Vec<String> = watched.iter().map(|w| w.service.clone()).collect();
        let (states, _missing) = self.api.describe_services(&names).await?;
        let found: Vec<Option<&ServiceState>> = watched
            .iter()
            .map(|w| states.iter().find(|s| s.name == w.service))
            .collect();
        let mut needs = Vec::new();
        for (w, state) in watched.iter().zip(&found) {
            let Some(s) = state else { continue };
            let memory = self.memory.entry(key(w)).or_default();
            needs.extend(
                memory
                    .update(s, &w.watch.our_deployment_id)
                    .into_iter()
                    .map(|n| (key(w), n)),
            );
        }
        self.refresh_tasks(&needs).await?;
        self.refresh_targets(watched, &found).await?;
        let deployments = self.read_deployments(watched).await;
        let now = self.clock.now();
        let mut snapshots: Vec<ServiceSnapshot> = watched
            .iter()
            .zip(&found)
            .map(|(w, state)| {
                let memory = self.memory.get(&key(w));
                // Targets are looked at only once every task runs; before that, none count.
                let targets = state.filter(|s| !s.load_balancers.is_empty()).map(|_| {
                    memory
                        .filter(|m| m.all_running)
                        .map(|m| m.targets.clone())
                        .unwrap_or_default()
                });
                let mut snap = snapshot(&w.service, *state, targets, now);
                snap.start_exits = memory.and_then(TaskMemory::start_exits);
                snap.service_deployment = w
                    .deployment
                    .as_ref()
                    .and_then(|t| deployments.iter().find(|d| d.arn == t.arn).cloned());
                snap
            })
            .collect();
        if let Some(probe) = &self.probe {
            let ready = watched
                .iter()
                .zip(&snapshots)
                .all(|(w, s)| unmet_conditions(&w.watch, s).is_empty());
            let view = if ready {
                probe.streak(self.clock).await
            } else {
                probe.idle()
            };
            for s in &mut snapshots {
                s.probe = Some(view.clone());
            }
        }
        Ok(snapshots)
    }
}

impl<C: Clock> EcsObserver<'_, C> {
    /// The followed service deployments, in one batch. They are evidence on top of
    /// DescribeServices: when they cannot be read (a role without
    /// ecs:DescribeServiceDeployments), the watch goes on without them, and says so once.
    async fn read_deployments(&mut self, watched: &[&Watched]) -> Vec<ServiceDeploymentSnapshot> {
        let arns: Vec<String> = watched
            .iter()
            .filter_map(|w| w.deployment.as_ref().map(|t| t.arn.clone()))
            .collect();
        let Some(reader) = self.deployments.filter(|_| !arns.is_empty()) else {
            return Vec::new();
        };
        match reader.read_many(&arns).await {
            Ok(found) => found,
            Err(e) => {
                if !self.warned {
                    tracing::warn!(
                        "cannot read the service deployments ({e}); watching the services' deployments only"
                    );
                    self.warned = true;
                }
                Vec::new()
            }
        }
    }

    /// ListTasks for each (service, status) asked, then one DescribeTasks batch for them all.
    async fn refresh_tasks(
        &mut self,
        needs: &[((String, String), TaskStatus)],
    ) -> Result<(), ApiError> {
        if needs.is_empty() {
            return Ok(());
        }
        let mut listed: Vec<(usize, String)> = Vec::new();
        for (i, ((service, _), status)) in needs.iter().enumerate() {
            let arns = self.api.list_tasks(service, *status).await?;
            listed.extend(arns.into_iter().map(|a| (i, a)));
        }
        let arns: Vec<String> = listed.iter().map(|(_, a)| a.clone()).collect();
        let described = if arns.is_empty() {
            Vec::new()
        } else {
            self.api.describe_tasks(&arns).await?
        };
        for (i, (k, status)) in needs.iter().enumerate() {
            let mine: Vec<&TaskView> = described
                .iter()
                .filter(|t| listed.iter().any(|(j, a)| *j == i && *a == t.arn))
                .filter(|t| t.started_by.as_deref() == Some(k.1.as_str()))
                .collect();
            if let Some(memory) = self.memory.get_mut(k) {
                memory.learn(*status, &mine);
            }
        }
        Ok(())
    }

    /// DescribeTargetHealth once per target group of the services that run all their tasks and
    /// whose targets are not known healthy at the current counts.
    async fn refresh_targets(
        &mut self,
        watched: &[&Watched],
        found: &[Option<&ServiceState>],
    ) -> Result<(), ApiError> {
        let mut asking: Vec<(usize, &str)> = Vec::new();
        for (i, (w, state)) in watched.iter().zip(found).enumerate() {
            let Some(s) = state else { continue };
            let memory = self.memory.get(&key(w));
            if memory.is_some_and(TaskMemory::wants_targets) {
                asking.extend(
                    s.load_balancers
                        .iter()
                        .map(|lb| (i, lb.target_group_arn.as_str())),
                );
            }
        }
        let mut groups: Vec<&str> = asking.iter().map(|(_, tg)| *tg).collect();
        groups.sort_unstable();
        groups.dedup();
        let mut health: HashMap<&str, Vec<TargetView>> = HashMap::new();
        for tg in groups {
            health.insert(tg, self.api.target_health(tg, None).await?);
        }
        let services: Vec<usize> = {
            let mut v: Vec<usize> = asking.iter().map(|(i, _)| *i).collect();
            v.dedup();
            v
        };
        for i in services {
            let w = watched[i];
            let Some(memory) = self.memory.get_mut(&key(w)) else {
                continue;
            };
            let mut targets = Vec::new();
            for (_, tg) in asking.iter().filter(|(j, _)| *j == i) {
                targets.extend(ours(&health[tg], &memory.running_ips));
            }
            memory.set_targets(targets);
        }
        Ok(())
    }
}

fn key(w: &Watched) -> (String, String) {
    (w.service.clone(), w.watch.our_deployment_id.clone())
}

/// Targets of our tasks: matched by private IP (awsvpc). Without IPs (bridge or host
/// networking, where targets are instances) every target but the draining ones counts.
fn ours(all: &[TargetView], ips: &[String]) -> Vec<TargetView> {
    all.iter()
        .filter(|t| {
            if ips.is_empty() {
                t.state != "draining"
            } else {
                ips.contains(&t.target_id)
            }
        })
        .cloned()
        .collect()
}

/// What the observer knows of one service's deployment between polls, and what a poll must
/// ask again. Pure: [`TaskMemory::update`] takes DescribeServices' answer and says which task
/// lists are stale.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskMemory {
    /// Our deployment's (running, pending, desired, failed) at the last poll.
    counts: Option<(u32, u32, u32, u32)>,
    /// The failed-task count the stopped tasks were last listed at.
    stopped_listed_at: Option<u32>,
    /// The counts the running tasks were last listed at.
    running_listed_at: Option<(u32, u32, u32, u32)>,
    running_ips: Vec<String>,
    exits: Vec<TaskExit>,
    /// Whether the crash-loop rule applies (ECS will not roll back by itself: no circuit breaker
    /// with rollback, no alarms with rollback, no strategy that shifts traffic).
    judge_exits: bool,
    any_healthy: bool,
    /// Whether every desired task is running (target health is asked only then).
    all_running: bool,
    /// Targets of our running tasks at `targets_at` counts.
    targets: Vec<TargetView>,
    targets_at: Option<(u32, u32, u32, u32)>,
}

impl TaskMemory {
    /// Takes one DescribeServices answer; returns the task lists to fetch again: the stopped
    /// tasks when the failed count changed (for the crash-loop rule), the running ones when all
    /// desired tasks run behind a load balancer and the counts changed (their IPs are the
    /// targets to look for).
    pub fn update(&mut self, s: &ServiceState, deployment: &str) -> Vec<TaskStatus> {
        let Some(d) = s.deployments.iter().find(|d| d.id == deployment) else {
            self.all_running = false;
            return Vec::new();
        };
        let counts = (d.running, d.pending, d.desired, d.failed_tasks);
        self.counts = Some(counts);
        self.judge_exits =
            !(s.circuit_breaker && s.circuit_breaker_rollback) && s.ecs_rolls_back.is_empty();
        self.all_running = d.desired > 0 && d.running >= d.desired;
        let mut stale = Vec::new();
        if self.judge_exits && d.failed_tasks > 0 && self.stopped_listed_at != Some(d.failed_tasks)
        {
            stale.push(TaskStatus::Stopped);
        }
        if self.all_running
            && !s.load_balancers.is_empty()
            && self.running_listed_at != Some(counts)
        {
            stale.push(TaskStatus::Running);
        }
        stale
    }

    /// Takes the described tasks of our deployment from one ListTasks status.
    pub fn learn(&mut self, status: TaskStatus, tasks: &[&TaskView]) {
        self.any_healthy |= tasks
            .iter()
            .any(|t| t.health_status.as_deref() == Some("HEALTHY"));
        match status {
            TaskStatus::Stopped => {
                self.stopped_listed_at = self.counts.map(|c| c.3);
                self.exits = tasks.iter().map(|t| task_exit(t)).collect();
            }
            TaskStatus::Running => {
                self.running_listed_at = self.counts;
                self.running_ips = tasks.iter().flat_map(|t| t.private_ips.clone()).collect();
            }
        }
    }

    /// Whether target health must be asked this poll: all tasks run, and the targets are not
    /// already known healthy at these counts.
    pub fn wants_targets(&self) -> bool {
        let known_healthy = self.targets_at == self.counts
            && !self.targets.is_empty()
            && self.targets.iter().all(|t| t.state == "healthy");
        self.all_running && !known_healthy
    }

    pub fn set_targets(&mut self, targets: Vec<TargetView>) {
        self.any_healthy |= targets.iter().any(|t| t.state == "healthy");
        self.targets = targets;
        self.targets_at = self.counts;
    }

    pub fn start_exits(&self) -> Option<StartExits> {
        self.judge_exits.then(|| StartExits {
            stopped: self.exits.clone(),
            any_healthy: self.any_healthy,
        })
    }
}

fn task_exit(t: &TaskView) -> TaskExit {
    let codes: Vec<i32> = t.containers.iter().filter_map(|c| c.exit_code).collect();
    TaskExit {
        task_id: t.arn.clone(),
        stop_code: t.stop_code.clone(),
        exit_code: codes
            .iter()
            .copied()
            .find(|c| *c != 0)
            .or(codes.first().copied()),
    }
}

/// A service that DescribeServices no longer returns reads as `MISSING` (assess: not ACTIVE).
pub fn snapshot(
    name: &str,
    state: Option<&ServiceState>,
    targets: Option<Vec<TargetView>>,
    observed_at: SystemTime,
) -> ServiceSnapshot {
    match state {
        Some(s) => ServiceSnapshot {
            service_name: s.name.clone(),
            status: s.status.clone(),
            desired_count: s.desired_count,
            running_count: s.running_count,
            deployments: s.deployments.clone(),
            events: s.events.clone(),
            targets,
            probe: None,
            start_exits: None,
            service_deployment: None,
            observed_at,
        },
        None => ServiceSnapshot {
            service_name: name.to_owned(),
            status: "MISSING".into(),
            desired_count: 0,
            running_count: 0,
            deployments: Vec::new(),
            events: Vec::new(),
            targets: None,
            probe: None,
            start_exits: None,
            service_deployment: None,
            observed_at,
        },
    }
}

#[cfg(test)]
#[path = "ecs_observer_tests.rs"]
mod tests;
