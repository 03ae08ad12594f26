//! `EcsSimulator`: an in-process HTTP server (axum, free loopback port) that speaks what the
//! action's rollout calls, and progresses ECS deployments through scripted scenarios, which
//! moto cannot do. Point the real SDK clients at `endpoint()` with `AWS_ENDPOINT_URL_ECS`,
//! `AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2` and `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS` (see
//! `env()`); one endpoint serves all three:
//! - `X-Amz-Target: AmazonEC2ContainerServiceV20141113.<Op>` -> ECS (`protocol.rs`);
//! - `X-Amz-Target: Logs_20140328.<Op>` -> CloudWatch Logs (`logs.rs`);
//! - otherwise a form body with `Action=` -> ELBv2 query protocol (`elbv2.rs`).
//!
//! Requests are not authenticated. Time is simulated and deterministic (`scenarios.rs`): each
//! answered `DescribeServices` call moves the clock by `step` seconds (15 by default) and the
//! services it names by one poll; no other call changes anything over time.
//!
//! Whatever the scenario: a service with launch type EC2 (or neither launch type nor capacity
//! providers) on a cluster with no container instances starts no task and logs "(service S)
//! was unable to place a task because no container instance met all of its requirements.
//! Reason: No Container Instances were found in your cluster. ..." at seed and on polls 1, 6,
//! ...; UpdateService with the same revision and no `forceNewDeployment` starts nothing;
//! CODE_DEPLOY / EXTERNAL services refuse a new task definition (InvalidParameterException);
//! INACTIVE services answer ServiceNotActiveException; missing ones are DescribeServices
//! `failures` (MISSING) and ServiceNotFoundException; a `desiredCount` change scales the
//! PRIMARY deployment on the next poll.
//!
//! Admin API (JSON), for the demo and scripts:
//! - `POST /_sim/seed` with a `ServiceSeed` -> `SeededService`;
//! - `POST /_sim/cluster` with a `ClusterSeed` -> `{"clusterArn": ...}`;
//! - `GET /_sim/service/{cluster}/{service}` -> `ServiceView` (404 when missing);
//! - `GET /_sim/calls` -> `{"DescribeServices": 12, ...}`;
//! - `GET /_sim/calls/log` -> `[{"op": ..., "unixMs": ...}, ...]`;
//! - `POST /_sim/scenario` with `{"cluster", "service", "scenario"}` -> 204 (404 when missing);
//! - `POST /_sim/throttle` with `{"op": "DescribeServices", "count": 3}` -> 204;
//! - (in process only) `deny(op, service)`: that operation on that service answers
//!   AccessDeniedException, as IAM does;
//! - (in process only) `hold(cluster, service, true)`: its deployments stand still on every
//!   poll (the clock still moves) until `hold(.., false)`: a deployment held in progress;
//! - `GET /_sim/health/{cluster}/{service}`: the service behind its load balancer, for an
//!   HTTP health probe: 200 `ok <task definition ARN>` (the revision of the newest task with a
//!   healthy target) while any target is healthy, else 503; recorded as call `HealthProbe`.

mod deployment_api;
mod elbv2;
mod http;
mod logs;
mod protocol;
mod render;
mod scenarios;
mod seed;
mod service_deployments;
mod state;
mod strategies;
mod tasks;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Result, anyhow};
use serde_json::Value;

pub use elbv2::ELBV2_XMLNS;
pub use scenarios::{CIRCUIT_BREAKER_REASON, ESSENTIAL_EXITED};
pub use seed::{
    ClusterSeed, DeploymentView, Scenario, SeededService, ServiceSeed, ServiceView,
    default_task_definition,
};
pub use service_deployments::{AlarmScript, DeploymentsSetup, LambdaScript, Script};
pub use state::{ApiError, CallRecord, DEFAULT_STEP_SECONDS, SIM_ACCOUNT, SIM_REGION, ecs_arn};
pub use strategies::STAGED_LIFECYCLE;

use http::Shared;
use state::SimState;

/// The simulator; dropping it stops the server.
pub struct EcsSimulator {
    endpoint: String,
    state: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for EcsSimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcsSimulator")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl Drop for EcsSimulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl EcsSimulator {
    /// Starts with a 15-second step per DescribeServices call.
    pub async fn start() -> Result<EcsSimulator> {
        EcsSimulator::start_with_step(DEFAULT_STEP_SECONDS).await
    }

    /// Starts with the simulated clock at the current wall-clock second, moving `step_seconds`
    /// on each answered DescribeServices call.
    pub async fn start_with_step(step_seconds: u64) -> Result<EcsSimulator> {
        let state: Shared = Arc::new(Mutex::new(SimState::new(
            crate::net::unix_now(),
            step_seconds,
        )));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let app = http::router(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(EcsSimulator {
            endpoint,
            state,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The per-service endpoint variables that send ECS, ELBv2 and CloudWatch Logs here.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            "AWS_ENDPOINT_URL_ECS",
            "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2",
            "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
        ]
        .iter()
        .map(|k| (k.to_string(), self.endpoint.clone()))
        .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates or replaces a cluster; returns its ARN.
    pub fn seed_cluster(&self, seed: ClusterSeed) -> String {
        self.lock().seed_cluster(seed)
    }

    /// Creates a service running its serving revision, healthy, under `seed.scenario`.
    pub fn seed_service(&self, seed: ServiceSeed) -> Result<SeededService> {
        self.lock()
            .seed_service(seed)
            .map_err(|e| anyhow!("{}: {}", e.kind, e.message))
    }

    /// Registers a revision directly; `good` revisions deploy healthily under any scenario.
    /// Returns its ARN.
    pub fn register_task_definition(&self, def: Value, good: bool) -> Result<String> {
        let td = self
            .lock()
            .register(def, good)
            .map_err(|e| anyhow!("{}: {}", e.kind, e.message))?;
        Ok(td["taskDefinitionArn"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// The next `n` calls of operation `op` (any of ECS, ELBv2, Logs) answer 400 "Rate
    /// exceeded": `ThrottlingException` (JSON) or `Throttling` (ELBv2 XML).
    pub fn throttle(&self, op: &str, n: u32) {
        *self.lock().throttles.entry(op.to_owned()).or_insert(0) += n;
    }

    /// From now on, ECS operation `op` (e.g. `UpdateService`) naming service `service` answers
    /// 400 AccessDeniedException, as IAM does for a role whose policy does not allow it.
    pub fn deny(&self, op: &str, service: &str) {
        self.lock()
            .denied
            .insert((op.to_owned(), service.to_owned()));
    }

    /// The stored task definition `name` (family, family:N or ARN), as DescribeTaskDefinition
    /// returns it under `taskDefinition`.
    pub fn task_definition(&self, name: &str) -> Option<Value> {
        self.lock().task_def(name).map(|td| td.def.clone())
    }

    /// Switches service `name` to `scenario` for deployments created from now on (revisions
    /// that already served stay good); false when there is no such service.
    pub fn set_scenario(&self, cluster: &str, name: &str, scenario: Scenario) -> bool {
        self.lock().set_scenario(cluster, name, scenario)
    }

    /// Holds service `name`'s deployments where they are (`true`) or lets them move again.
    pub fn hold(&self, cluster: &str, name: &str, held: bool) {
        let key = (cluster.to_owned(), name.to_owned());
        let mut st = self.lock();
        if held {
            st.held.insert(key);
        } else {
            st.held.remove(&key);
        }
    }

    /// How many calls of operation `op` signed with access key `caller` arrived.
    pub fn calls_by(&self, op: &str, caller: &str) -> usize {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.op == op && c.caller.as_deref() == Some(caller))
            .count()
    }

    /// How many calls of operation `op` arrived (throttled and failed ones included).
    pub fn calls(&self, op: &str) -> usize {
        self.lock().calls.iter().filter(|c| c.op == op).count()
    }

    /// Calls per operation.
    pub fn call_counts(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for c in &self.lock().calls {
            *m.entry(c.op.clone()).or_insert(0) += 1;
        }
        m
    }

    /// Every call with its wall-clock instant, in arrival order.
    pub fn call_log(&self) -> Vec<CallRecord> {
        self.lock().calls.clone()
    }

    /// Calls of `op` (every operation when None) that arrived in `[from, to]`, per minute of
    /// that window.
    pub fn calls_per_minute(&self, op: Option<&str>, from: Instant, to: Instant) -> f64 {
        let n = self
            .lock()
            .calls
            .iter()
            .filter(|c| op.is_none_or(|o| c.op == o) && c.at >= from && c.at <= to)
            .count();
        let minutes = to.saturating_duration_since(from).as_secs_f64() / 60.0;
        if minutes > 0.0 {
            n as f64 / minutes
        } else {
            0.0
        }
    }

    /// A snapshot of service `name` in `cluster`.
    pub fn service(&self, cluster: &str, name: &str) -> Option<ServiceView> {
        let st = self.lock();
        st.services
            .get(&(cluster.to_owned(), name.to_owned()))
            .map(|s| st.view(s))
    }

    /// The wall-clock instant of the poll whose answer first showed this service failing.
    pub fn failure_visible_at(&self, cluster: &str, name: &str) -> Option<Instant> {
        let st = self.lock();
        st.services
            .get(&(cluster.to_owned(), name.to_owned()))
            .and_then(|s| s.failure_visible.map(|f| f.0))
    }

    /// The simulated clock, in epoch seconds.
    pub fn clock(&self) -> u64 {
        self.lock().clock
    }

    /// The messages logged to `stream` of `group`.
    pub fn log_messages(&self, group: &str, stream: &str) -> Vec<String> {
        self.lock()
            .logs
            .get(&(group.to_owned(), stream.to_owned()))
            .map(|ev| ev.iter().map(|e| e.message.clone()).collect())
            .unwrap_or_default()
    }

    /// The states of a target group's targets (`initial`, `healthy`, ...), in registration order.
    pub fn target_states(&self, target_group_arn: &str) -> Vec<String> {
        self.lock()
            .targets
            .get(target_group_arn)
            .map(|ts| ts.iter().map(|t| t.state.clone()).collect())
            .unwrap_or_default()
    }
}
