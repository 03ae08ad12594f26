//! Seeding the ECS simulator: the public seed types (`Scenario`, `ClusterSeed`, `ServiceSeed`),
//! what a seed returns (`SeededService`), the read-only `ServiceView`, and the code that creates
//! a cluster or a service running its serving ("good") revision, healthy, under a scenario.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::scenarios::count;
use super::state::{ApiError, Behavior, Cluster, LoadBalancer, Service, SimState, hex};
use super::{SIM_ACCOUNT, SIM_REGION};

/// How a service's new task-definition revisions behave once deployed. "Good" revisions (the
/// seeded serving one, and any that completed a deployment) always deploy like
/// `HealthyRolling`, so a rollback heals under every scenario. Poll N below is the N-th
/// answered DescribeServices naming the service after UpdateService (desired count 1; see
/// `tests/ecs_sim_timeline.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Scenario {
    /// 1: task PENDING, "has started 1 tasks: (task ID)."; 2: RUNNING, target `initial`;
    /// 3: target `healthy`, old tasks stopped ("has stopped 1 running tasks: ...",
    /// "deregistered 1 targets in (target-group ARN)"), old target `draining`; 4: old
    /// deployment gone, COMPLETED, "(deployment ID) deployment completed.", "has reached a
    /// steady state.".
    #[default]
    HealthyRolling,
    /// 1: PENDING; 2: RUNNING (log lines but the last); 3: STOPPED "Essential container in task
    /// exited", stopCode EssentialContainerExited, exit code 1, last log line written,
    /// failedTasks 1, a replacement PENDING; repeats every 2 polls; stays IN_PROGRESS unless
    /// the service's circuit breaker is on.
    CrashLoop,
    /// 1: PENDING; 2: STOPPED, stopCode TaskFailedToStart, "CannotPullContainerError: pull
    /// image manifest has been retried 5 time(s): failed to resolve ref IMAGE: IMAGE: not
    /// found" (also the container's reason, no exit code), failedTasks 1, a replacement; every
    /// poll after that another failure.
    CannotPull,
    /// 1: PENDING; 2: RUNNING, `initial`; 3: `unhealthy` (Target.ResponseCodeMismatch, "Health
    /// checks failed with these codes: [500]") and the event "(task ID) (port P) is unhealthy
    /// in (target-group ARN) due to (reason Health checks failed with these codes: [500]).";
    /// 5: STOPPED "Task failed ELB health checks in (target-group ARN)", stopCode
    /// ServiceSchedulerInitiated, exit code 143, failedTasks 1, a replacement; and so on.
    TargetsUnhealthy,
    /// `CrashLoop` with the circuit breaker (enable + rollback) forced on. 7: the third failure:
    /// our deployment FAILED ("ECS deployment circuit breaker: tasks failed to start."), events
    /// "(deployment ID) deployment failed: tasks failed to start." and "rolling back to
    /// deployment OLD_ID.", a new PRIMARY of the serving revision ("ECS deployment circuit
    /// breaker: rolling back to deploymentId OLD_ID.") starts a task; 10: COMPLETED, our
    /// deployment gone.
    CircuitBreakerRollback,
    /// The first task of the deployment runs healthy, every other one stays PENDING forever:
    /// IN_PROGRESS with 1 of 2 running (desired 2), no failure.
    NeverSettles,
    /// Seeded with a second deployment (PRIMARY, IN_PROGRESS, a second good revision) over
    /// the serving one; it progresses like `HealthyRolling` when polled. New revisions deploy
    /// healthily.
    DeploymentInProgress,
    /// No task starts; on polls 1, 6, 11, ... the event "was unable to assume the service
    /// linked role. Please verify that the ECS service linked role exists."; IN_PROGRESS.
    ServiceLinkedRoleMissing,
    /// The first `first_n` DescribeServices calls naming the service answer 400
    /// ThrottlingException "Rate exceeded" (the clock does not move); then healthy.
    Throttling {
        #[serde(rename = "firstN", alias = "first_n")]
        first_n: u32,
    },
}

/// A cluster to create (or replace the settings of).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClusterSeed {
    pub name: String,
    /// `ACTIVE` or `INACTIVE`.
    pub status: String,
    /// Registered EC2 container instances (0 for a Fargate-only cluster).
    pub container_instances: u32,
    pub capacity_providers: Vec<String>,
}

impl Default for ClusterSeed {
    fn default() -> Self {
        ClusterSeed {
            name: "default".into(),
            status: "ACTIVE".into(),
            container_instances: 0,
            capacity_providers: vec!["FARGATE".into(), "FARGATE_SPOT".into()],
        }
    }
}

/// A service to create, with its serving task definition (registered as a "good" revision),
/// running and healthy at seed time. JSON field names are the camelCase of these.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceSeed {
    /// Created (ACTIVE, Fargate providers, 0 instances unless EC2) when missing.
    pub cluster: String,
    pub service: String,
    /// `ACTIVE`, `DRAINING` or `INACTIVE`.
    pub status: String,
    /// The full serving definition as `register-task-definition` takes it; when absent one is
    /// built from `family`, `image`, `container_name`, `container_port` (awsvpc, Fargate,
    /// awslogs group `/ecs/<family>`, stream prefix `ecs`).
    pub task_definition: Option<Value>,
    /// Defaults to the service name.
    pub family: Option<String>,
    pub image: String,
    pub container_name: String,
    pub container_port: u16,
    pub desired_count: u32,
    /// `FARGATE` (default), `EC2`, `EXTERNAL`, or none.
    pub launch_type: Option<String>,
    /// Capacity provider names (weight 1 each); when set, `launch_type` is dropped.
    pub capacity_providers: Vec<String>,
    /// `ECS`, `CODE_DEPLOY` or `EXTERNAL`.
    pub deployment_controller: String,
    /// One target group per service when true.
    pub load_balancer: bool,
    pub subnets: Vec<String>,
    pub minimum_healthy_percent: u32,
    pub maximum_percent: u32,
    pub circuit_breaker: bool,
    pub circuit_breaker_rollback: bool,
    /// Sets the cluster's container-instance count (e.g. 0 with `launch_type` EC2).
    pub cluster_container_instances: Option<u32>,
    /// What a crashing container prints before it exits 1.
    pub crash_log: Vec<String>,
    pub scenario: Scenario,
}

impl Default for ServiceSeed {
    fn default() -> Self {
        ServiceSeed {
            cluster: "default".into(),
            service: "web".into(),
            status: "ACTIVE".into(),
            task_definition: None,
            family: None,
            image: format!("{SIM_ACCOUNT}.dkr.ecr.{SIM_REGION}.amazonaws.com/app:v1"),
            container_name: "app".into(),
            container_port: 8080,
            desired_count: 1,
            launch_type: Some("FARGATE".into()),
            capacity_providers: Vec::new(),
            deployment_controller: "ECS".into(),
            load_balancer: true,
            subnets: vec![
                "subnet-0a1b2c3d4e5f60001".into(),
                "subnet-0a1b2c3d4e5f60002".into(),
            ],
            minimum_healthy_percent: 100,
            maximum_percent: 200,
            circuit_breaker: false,
            circuit_breaker_rollback: false,
            cluster_container_instances: None,
            crash_log: vec![
                "Starting server (pid 1)".into(),
                "Loading configuration from the environment".into(),
                "Error: DATABASE_URL is not set".into(),
            ],
            scenario: Scenario::HealthyRolling,
        }
    }
}

/// What `seed_service` created.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SeededService {
    pub cluster_arn: String,
    pub service_arn: String,
    /// The serving (good) revision.
    pub task_definition_arn: String,
    pub target_group_arns: Vec<String>,
    /// For `DeploymentInProgress`: the revision of the deployment already in progress.
    pub in_progress_task_definition_arn: Option<String>,
}

/// A snapshot of one service for assertions (`EcsSimulator::service`, `GET /_sim/service`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServiceView {
    pub cluster: String,
    pub name: String,
    pub status: String,
    /// The service's task definition ARN (that of the PRIMARY deployment).
    pub task_definition: String,
    pub desired_count: u32,
    pub running_count: u32,
    pub pending_count: u32,
    /// PRIMARY first.
    pub deployments: Vec<DeploymentView>,
    /// Messages, newest first.
    pub events: Vec<String>,
    /// DescribeServices polls that moved this service.
    pub polls: u32,
    /// Unix milliseconds of the poll whose answer first showed a failure (a failed task, an
    /// unhealthy target, a FAILED rollout, a cannot-start event); None while all is well.
    pub failure_visible_unix_ms: Option<u64>,
}

/// One deployment in a `ServiceView`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentView {
    pub id: String,
    pub status: String,
    pub task_definition: String,
    pub rollout_state: String,
    pub rollout_state_reason: String,
    pub desired_count: u32,
    pub running_count: u32,
    pub pending_count: u32,
    pub failed_tasks: u32,
}

impl SimState {
    /// Switches an existing service to `scenario` for the deployments created from now on.
    pub fn set_scenario(&mut self, cluster: &str, service: &str, scenario: Scenario) -> bool {
        let Some(svc) = self
            .services
            .get_mut(&(cluster.to_owned(), service.to_owned()))
        else {
            return false;
        };
        svc.scenario = scenario;
        match scenario {
            Scenario::Throttling { first_n } => svc.throttle_left = first_n,
            Scenario::CircuitBreakerRollback => {
                svc.cb_enable = true;
                svc.cb_rollback = true;
            }
            _ => {}
        }
        true
    }

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
        // Re-seeding replaces the service: its old tasks and targets go too.
        if let Some(old) = self
            .services
            .remove(&(seed.cluster.clone(), seed.service.clone()))
        {
            self.tasks
                .retain(|t| !(t.cluster == old.cluster && t.service == old.name));
            for lb in &old.load_balancers {
                self.targets.remove(&lb.target_group_arn);
            }
        }
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
        let td = match self.identical_revision(&def) {
            Some(existing) => existing,
            None => self.register(def.clone(), true)?,
        };
        let td_arn = td["taskDefinitionArn"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        // The load-balanced container: the one mapping the port, else the first essential one.
        let containers = td["containerDefinitions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let maps_port = |c: &&Value| {
            c["portMappings"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|m| m["containerPort"].as_u64() == Some(u64::from(seed.container_port)))
        };
        let lb_container = containers
            .iter()
            .find(maps_port)
            .or_else(|| containers.iter().find(|c| c["essential"] != false))
            .and_then(|c| c["name"].as_str())
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
                container_name: lb_container,
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
        self.seed_service_deployments(&svc);
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
}

pub(crate) fn is_ec2(launch_type: Option<&str>, providers: &[String]) -> bool {
    match launch_type {
        Some(l) => l == "EC2",
        None => providers.is_empty(),
    }
}

pub(crate) fn no_instances_message(service: &str) -> String {
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
