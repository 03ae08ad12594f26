//! The ECS simulator's state: clusters, services with their deployments and events, task
//! definitions, tasks, load-balancer targets, log events and the call log (the seeds that create
//! them are in `seed.rs`).
//!
//! Everything lives in one `SimState` behind one mutex; `scenarios.rs` moves it forward on each
//! `DescribeServices` poll, `protocol.rs`, `elbv2.rs` and `logs.rs` render it as AWS does.

use std::collections::BTreeMap;
use std::time::Instant;

use rand::Rng;

use super::seed::{DeploymentView, Scenario, ServiceView};
use serde_json::{Value, json};

/// The region every ARN names.
pub const SIM_REGION: &str = "us-east-1";
/// The account every ARN names.
pub const SIM_ACCOUNT: &str = "123456789012";
/// Seconds the simulated clock moves on each `DescribeServices` call that is answered.
pub const DEFAULT_STEP_SECONDS: u64 = 15;

/// `arn:aws:ecs:us-east-1:123456789012:<resource>`.
pub fn ecs_arn(resource: &str) -> String {
    format!("arn:aws:ecs:{SIM_REGION}:{SIM_ACCOUNT}:{resource}")
}

/// What one deployment's tasks do (decided when the deployment is created).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Behavior {
    Healthy,
    CrashLoop,
    CannotPull,
    TargetsUnhealthy,
    NeverSettles,
    SlrMissing,
    NoInstances,
}

/// One API call, as received.
#[derive(Debug, Clone)]
pub struct CallRecord {
    /// The operation name (`DescribeServices`, `DescribeTargetHealth`, `GetLogEvents`...).
    pub op: String,
    pub at: Instant,
    pub unix_ms: u64,
    /// The access key id the request was signed with (its `Authorization` header), if any:
    /// which of several clients made the call.
    pub caller: Option<String>,
}

/// An AWS error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub kind: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, kind: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            kind: kind.into(),
            message: message.into(),
        }
    }
    pub fn client(kind: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(400, kind, message)
    }
}

pub(crate) struct Cluster {
    pub name: String,
    pub status: String,
    pub container_instances: u32,
    pub capacity_providers: Vec<String>,
}

impl Cluster {
    pub fn arn(&self) -> String {
        ecs_arn(&format!("cluster/{}", self.name))
    }
}

pub(crate) struct Event {
    pub id: String,
    pub created_at: u64,
    pub message: String,
}

pub(crate) struct LoadBalancer {
    pub target_group_arn: String,
    pub container_name: String,
    pub container_port: u16,
}

pub(crate) struct Deployment {
    pub id: String,
    /// PRIMARY or ACTIVE.
    pub status: String,
    pub task_definition: String,
    pub desired: u32,
    pub running: u32,
    pub pending: u32,
    pub failed: u32,
    pub created_at: u64,
    pub updated_at: u64,
    /// IN_PROGRESS, COMPLETED or FAILED.
    pub rollout_state: String,
    pub rollout_reason: String,
    pub behavior: Behavior,
    /// Tasks launched so far.
    pub launched: u32,
    /// Polls since it was created.
    pub age: u32,
}

pub(crate) struct Service {
    pub cluster: String,
    pub name: String,
    pub status: String,
    pub launch_type: Option<String>,
    pub capacity_providers: Vec<String>,
    pub controller: String,
    pub desired: u32,
    pub deployments: Vec<Deployment>,
    /// Newest first, at most 100.
    pub events: Vec<Event>,
    pub load_balancers: Vec<LoadBalancer>,
    pub subnets: Vec<String>,
    pub min_healthy: u32,
    pub max_percent: u32,
    pub cb_enable: bool,
    pub cb_rollback: bool,
    pub scenario: Scenario,
    pub throttle_left: u32,
    pub crash_log: Vec<String>,
    pub created_at: u64,
    pub polls: u32,
    pub failure_visible: Option<(Instant, u64)>,
}

impl Service {
    pub fn arn(&self) -> String {
        ecs_arn(&format!("service/{}/{}", self.cluster, self.name))
    }
    pub fn event(&mut self, at: u64, message: String) {
        self.events.insert(
            0,
            Event {
                id: crate::net::random_uuid(),
                created_at: at,
                message,
            },
        );
        self.events.truncate(100);
    }
    pub fn task_definition(&self) -> String {
        self.deployments
            .first()
            .map(|d| d.task_definition.clone())
            .unwrap_or_default()
    }
}

pub(crate) struct TaskDef {
    pub def: Value,
    /// Seeded as serving, or has completed a deployment: deploys healthily under any scenario.
    pub good: bool,
    /// The `tags` it was registered with (DescribeTaskDefinition returns them with TAGS).
    pub tags: Value,
}

pub(crate) struct Container {
    pub name: String,
    pub image: String,
    pub last_status: String,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
    pub runtime_id: String,
    pub uuid: String,
}

pub(crate) struct Task {
    pub id: String,
    pub cluster: String,
    pub service: String,
    pub task_definition: String,
    pub deployment: String,
    pub last_status: String,
    pub desired_status: String,
    pub created_at: u64,
    pub started_at: Option<u64>,
    pub stopped_at: Option<u64>,
    pub stopped_reason: Option<String>,
    pub stop_code: Option<String>,
    pub containers: Vec<Container>,
    pub ip: String,
    pub eni: String,
    pub subnet: String,
    pub stuck: bool,
    pub unhealthy_polls: u32,
    pub version: u32,
    pub cpu: String,
    pub memory: String,
}

impl Task {
    pub fn arn(&self) -> String {
        ecs_arn(&format!("task/{}/{}", self.cluster, self.id))
    }
    pub fn live(&self) -> bool {
        self.last_status != "STOPPED"
    }
}

pub(crate) struct Target {
    pub id: String,
    pub port: u16,
    pub task: String,
    /// initial, healthy, unhealthy, draining.
    pub state: String,
    /// The service poll count when it began draining.
    pub drained_at_poll: u32,
}

pub(crate) struct LogEvent {
    pub timestamp_ms: u64,
    pub message: String,
}

/// Everything the simulator knows.
pub(crate) struct SimState {
    /// Simulated seconds since the epoch.
    pub clock: u64,
    pub step: u64,
    pub clusters: BTreeMap<String, Cluster>,
    /// Keyed by (cluster, service).
    pub services: BTreeMap<(String, String), Service>,
    /// Family -> revisions (index = revision - 1).
    pub task_defs: BTreeMap<String, Vec<TaskDef>>,
    pub tasks: Vec<Task>,
    /// Target group ARN -> targets.
    pub targets: BTreeMap<String, Vec<Target>>,
    /// (group, stream) -> events.
    pub logs: BTreeMap<(String, String), Vec<LogEvent>>,
    pub calls: Vec<CallRecord>,
    /// Operation -> how many of its next calls answer a throttling error.
    pub throttles: BTreeMap<String, u32>,
    /// (operation, service name): calls the caller's role may not make (AccessDeniedException).
    pub denied: std::collections::BTreeSet<(String, String)>,
    /// (cluster, service): services whose deployments do not move on a poll (`hold`).
    pub held: std::collections::BTreeSet<(String, String)>,
    /// The access key id of the request being answered (`registeredBy` names it).
    pub caller: Option<String>,
    pub next_ip: u32,
    /// Service deployments and revisions (`service_deployments.rs`).
    pub service_deployments: super::service_deployments::ServiceDeployments,
}

impl SimState {
    pub fn new(start: u64, step: u64) -> SimState {
        SimState {
            clock: start,
            step,
            clusters: BTreeMap::new(),
            services: BTreeMap::new(),
            task_defs: BTreeMap::new(),
            tasks: Vec::new(),
            targets: BTreeMap::new(),
            logs: BTreeMap::new(),
            calls: Vec::new(),
            throttles: BTreeMap::new(),
            denied: std::collections::BTreeSet::new(),
            held: std::collections::BTreeSet::new(),
            caller: None,
            next_ip: 0,
            service_deployments: Default::default(),
        }
    }

    /// Resolves `family`, `family:N` or a task-definition ARN to its stored revision.
    pub fn task_def(&self, name: &str) -> Option<&TaskDef> {
        let name = name
            .rsplit_once(":task-definition/")
            .map_or(name, |(_, r)| r);
        let (family, rev) = match name.split_once(':') {
            Some((f, r)) => (f, Some(r.parse::<usize>().ok()?)),
            None => (name, None),
        };
        let revs = self.task_defs.get(family)?;
        match rev {
            Some(r) => revs.get(r.checked_sub(1)?),
            None => revs.iter().rev().find(|t| t.def["status"] == "ACTIVE"),
        }
    }

    /// A good revision of the same family with exactly this content (read-only fields and
    /// tags aside), so that services seeded from one definition share one revision.
    pub fn identical_revision(&self, def: &Value) -> Option<Value> {
        const ADDED: [&str; 8] = [
            "taskDefinitionArn",
            "revision",
            "status",
            "requiresAttributes",
            "compatibilities",
            "registeredAt",
            "registeredBy",
            "deregisteredAt",
        ];
        let strip = |v: &Value| {
            let mut m = v.as_object().cloned().unwrap_or_default();
            m.remove("tags");
            for k in ADDED {
                m.remove(k);
            }
            m
        };
        let want = strip(def);
        let family = want.get("family")?.as_str()?;
        self.task_defs
            .get(family)?
            .iter()
            .rev()
            .find(|t| t.good && strip(&t.def) == want)
            .map(|t| t.def.clone())
    }

    /// Marks the revision `arn` as good (it has served).
    pub fn mark_good(&mut self, arn: &str) {
        let name = arn.rsplit_once(":task-definition/").map_or(arn, |(_, r)| r);
        if let Some((family, rev)) = name.split_once(':')
            && let Ok(rev) = rev.parse::<usize>()
            && let Some(td) = self
                .task_defs
                .get_mut(family)
                .and_then(|v| v.get_mut(rev.wrapping_sub(1)))
        {
            td.good = true;
        }
    }

    /// Registers a revision, adding the fields ECS adds; returns the stored definition.
    pub fn register(&mut self, mut def: Value, good: bool) -> Result<Value, ApiError> {
        let obj = def.as_object_mut().ok_or_else(|| {
            ApiError::client("ClientException", "Task definition must be a JSON object.")
        })?;
        let tags = obj.remove("tags").unwrap_or_else(|| json!([]));
        for k in [
            "taskDefinitionArn",
            "revision",
            "status",
            "requiresAttributes",
            "compatibilities",
            "registeredAt",
            "registeredBy",
            "deregisteredAt",
        ] {
            obj.remove(k);
        }
        let family = obj
            .get("family")
            .and_then(Value::as_str)
            .filter(|f| !f.is_empty())
            .ok_or_else(|| {
                ApiError::client("ClientException", "Family must not be null or empty.")
            })?
            .to_owned();
        let containers = obj
            .get("containerDefinitions")
            .and_then(Value::as_array)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                ApiError::client("ClientException", "Container list cannot be empty.")
            })?;
        for c in containers {
            if c.get("name")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                return Err(ApiError::client(
                    "ClientException",
                    "Container.name should not be null or empty.",
                ));
            }
            if c.get("image")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                return Err(ApiError::client(
                    "ClientException",
                    "Container.image should not be null or empty.",
                ));
            }
        }
        let fargate = obj
            .get("requiresCompatibilities")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|c| c == "FARGATE"));
        if fargate && obj.get("networkMode").and_then(Value::as_str) != Some("awsvpc") {
            return Err(ApiError::client(
                "ClientException",
                "Fargate only supports network mode 'awsvpc'.",
            ));
        }
        for what in ["cpu", "memory"] {
            if fargate && !obj.contains_key(what) {
                return Err(ApiError::client(
                    "ClientException",
                    format!("Fargate requires that '{what}' be defined at the task level."),
                ));
            }
        }
        let awslogs = containers
            .iter()
            .any(|c| c["logConfiguration"]["logDriver"] == "awslogs");
        let awsvpc = obj.get("networkMode").and_then(Value::as_str) == Some("awsvpc");
        let exec_role = obj.contains_key("executionRoleArn");
        let mut attrs = vec!["com.amazonaws.ecs.capability.docker-remote-api.1.18"];
        if awslogs {
            attrs.push("com.amazonaws.ecs.capability.logging-driver.awslogs");
            if exec_role {
                attrs.push("ecs.capability.execution-role-awslogs");
            }
        }
        if exec_role {
            attrs.push("com.amazonaws.ecs.capability.ecr-auth");
            attrs.push("ecs.capability.execution-role-ecr-pull");
        }
        if awsvpc {
            attrs.push("ecs.capability.task-eni");
        }
        let revision = self.task_defs.get(&family).map_or(0, Vec::len) + 1;
        let arn = ecs_arn(&format!("task-definition/{family}:{revision}"));
        let mut out = serde_json::Map::new();
        out.insert("taskDefinitionArn".into(), json!(arn));
        for (k, v) in obj.iter() {
            out.insert(k.clone(), v.clone());
        }
        out.insert("revision".into(), json!(revision));
        out.insert("status".into(), json!("ACTIVE"));
        out.insert(
            "requiresAttributes".into(),
            Value::Array(attrs.iter().map(|a| json!({"name": a})).collect()),
        );
        out.insert(
            "compatibilities".into(),
            if awsvpc {
                json!(["EC2", "FARGATE"])
            } else {
                json!(["EC2"])
            },
        );
        out.insert("registeredAt".into(), json!(self.clock));
        // The role session names the caller (its access key id), as a workflow run's session
        // name would name the run.
        out.insert(
            "registeredBy".into(),
            json!(format!(
                "arn:aws:sts::{SIM_ACCOUNT}:assumed-role/deploy/{}",
                self.caller.as_deref().unwrap_or("oidc-ecs-deploy")
            )),
        );
        let def = Value::Object(out);
        self.task_defs.entry(family).or_default().push(TaskDef {
            def: def.clone(),
            good,
            tags,
        });
        Ok(def)
    }

    /// A fresh private IP in 10.0.0.0/16.
    pub fn ip(&mut self) -> String {
        self.next_ip += 1;
        format!(
            "10.0.{}.{}",
            1 + self.next_ip / 200,
            10 + self.next_ip % 200
        )
    }

    pub fn record_failure(svc: &mut Service) {
        if svc.failure_visible.is_none() {
            svc.failure_visible = Some((Instant::now(), unix_now_ms()));
        }
    }

    pub fn view(&self, svc: &Service) -> ServiceView {
        ServiceView {
            cluster: svc.cluster.clone(),
            name: svc.name.clone(),
            status: svc.status.clone(),
            task_definition: svc.task_definition(),
            desired_count: svc.desired,
            running_count: svc.deployments.iter().map(|d| d.running).sum(),
            pending_count: svc.deployments.iter().map(|d| d.pending).sum(),
            deployments: svc
                .deployments
                .iter()
                .map(|d| DeploymentView {
                    id: d.id.clone(),
                    status: d.status.clone(),
                    task_definition: d.task_definition.clone(),
                    rollout_state: d.rollout_state.clone(),
                    rollout_state_reason: d.rollout_reason.clone(),
                    desired_count: d.desired,
                    running_count: d.running,
                    pending_count: d.pending,
                    failed_tasks: d.failed,
                })
                .collect(),
            events: svc.events.iter().map(|e| e.message.clone()).collect(),
            polls: svc.polls,
            failure_visible_unix_ms: svc.failure_visible.map(|f| f.1),
        }
    }
}

/// `ecs-svc/` and 19 digits.
pub(crate) fn deployment_id() -> String {
    let mut r = rand::rng();
    let first: u8 = r.random_range(1..10);
    let rest: String = (0..18)
        .map(|_| char::from(b'0' + r.random_range(0..10u8)))
        .collect();
    format!("ecs-svc/{first}{rest}")
}

/// `n` random lowercase hex digits.
pub(crate) fn hex(n: usize) -> String {
    let mut r = rand::rng();
    (0..n)
        .map(|_| char::from_digit(r.random_range(0..16u32), 16).unwrap_or('0'))
        .collect()
}

/// Wall-clock milliseconds since the Unix epoch.
pub fn unix_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
