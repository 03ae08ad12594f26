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
//! - `GET /_sim/health/{cluster}/{service}`: the service behind its load balancer, for an
//!   HTTP health probe: 200 `ok <task definition ARN>` (the revision of the newest task with a
//!   healthy target) while any target is healthy, else 503; recorded as call `HealthProbe`.

mod elbv2;
mod logs;
mod protocol;
mod render;
mod scenarios;
mod seed;
mod state;
mod tasks;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Result, anyhow};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

pub use elbv2::ELBV2_XMLNS;
pub use scenarios::{CIRCUIT_BREAKER_REASON, ESSENTIAL_EXITED};
pub use seed::{
    ClusterSeed, DeploymentView, Scenario, SeededService, ServiceSeed, ServiceView,
    default_task_definition,
};
pub use state::{ApiError, CallRecord, DEFAULT_STEP_SECONDS, SIM_ACCOUNT, SIM_REGION, ecs_arn};

use crate::net::random_uuid;
use state::{SimState, unix_now_ms};

type Shared = Arc<Mutex<SimState>>;

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
        let app = axum::Router::new()
            .route("/_sim/seed", post(admin_seed))
            .route("/_sim/cluster", post(admin_cluster))
            .route("/_sim/service/{cluster}/{service}", get(admin_service))
            .route("/_sim/calls", get(admin_calls))
            .route("/_sim/calls/log", get(admin_call_log))
            .route("/_sim/scenario", post(admin_scenario))
            .route("/_sim/health/{cluster}/{service}", get(health))
            .route("/_sim/throttle", post(admin_throttle))
            .fallback(aws)
            .with_state(state.clone());
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

    /// Switches service `name` to `scenario` for deployments created from now on (revisions
    /// that already served stay good); false when there is no such service.
    pub fn set_scenario(&self, cluster: &str, name: &str, scenario: Scenario) -> bool {
        self.lock().set_scenario(cluster, name, scenario)
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

/// Records a call; true when it must be throttled (`EcsSimulator::throttle`).
fn record(st: &mut SimState, op: &str) -> bool {
    st.calls.push(CallRecord {
        op: op.to_owned(),
        at: Instant::now(),
        unix_ms: unix_now_ms(),
    });
    match st.throttles.get_mut(op) {
        Some(n) if *n > 0 => {
            *n -= 1;
            true
        }
        _ => false,
    }
}

async fn aws(State(state): State<Shared>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        let (prefix, op) = target.split_once('.').unwrap_or((target, ""));
        if record(&mut st, op) {
            return json_answer(Err(ApiError::client(
                "ThrottlingException",
                "Rate exceeded",
            )));
        }
        let req: Value = if body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            match serde_json::from_slice(&body) {
                Ok(v) => v,
                Err(e) => {
                    let err =
                        ApiError::client("SerializationException", format!("invalid JSON: {e}"));
                    return json_answer(Err(err));
                }
            }
        };
        let result = match prefix {
            "AmazonEC2ContainerServiceV20141113" => protocol::dispatch(&mut st, op, &req),
            "Logs_20140328" => logs::dispatch(&st, op, &req),
            _ => Err(ApiError::client(
                "UnknownOperationException",
                format!("testbed ECS simulator: unknown target {target}"),
            )),
        };
        return json_answer(result);
    }
    let mut form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    if let Some(q) = uri.query() {
        form.extend(serde_urlencoded::from_str::<Vec<(String, String)>>(q).unwrap_or_default());
    }
    let action = form
        .iter()
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let result = if record(&mut st, &action) {
        Err(ApiError::client("Throttling", "Rate exceeded"))
    } else {
        elbv2::dispatch(&st, &form)
    };
    match result {
        Ok(xml) => {
            let id = random_uuid();
            (
                StatusCode::OK,
                [
                    ("content-type", "text/xml".to_owned()),
                    ("x-amzn-RequestId", id),
                ],
                xml,
            )
                .into_response()
        }
        Err(e) => {
            let c = crate::fault::query_error(
                ELBV2_XMLNS,
                e.status,
                e.status < 500,
                &e.kind,
                &e.message,
            );
            let mut r = (
                StatusCode::from_u16(c.status).unwrap_or(StatusCode::BAD_REQUEST),
                c.body,
            )
                .into_response();
            for (k, v) in c.headers {
                if let (Ok(k), Ok(v)) = (
                    axum::http::HeaderName::try_from(k),
                    axum::http::HeaderValue::try_from(v),
                ) {
                    r.headers_mut().insert(k, v);
                }
            }
            r
        }
    }
}

fn json_answer(result: Result<Value, ApiError>) -> Response {
    let id = random_uuid();
    let (status, body) = match result {
        Ok(v) => (StatusCode::OK, v),
        Err(e) => (
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            json!({"__type": e.kind, "message": e.message}),
        ),
    };
    (
        status,
        [
            ("content-type", "application/x-amz-json-1.1".to_owned()),
            ("x-amzn-RequestId", id),
        ],
        body.to_string(),
    )
        .into_response()
}

async fn admin_seed(State(state): State<Shared>, Json(seed): Json<ServiceSeed>) -> Response {
    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
    match st.seed_service(seed) {
        Ok(s) => Json(s).into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": format!("{}: {}", e.kind, e.message)})),
        )
            .into_response(),
    }
}

async fn admin_cluster(State(state): State<Shared>, Json(seed): Json<ClusterSeed>) -> Json<Value> {
    let arn = state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .seed_cluster(seed);
    Json(json!({"clusterArn": arn}))
}

async fn admin_service(
    State(state): State<Shared>,
    Path((cluster, service)): Path<(String, String)>,
) -> Response {
    let st = state.lock().unwrap_or_else(|e| e.into_inner());
    match st.services.get(&(cluster, service)) {
        Some(s) => Json(st.view(s)).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "no such service"})),
        )
            .into_response(),
    }
}

async fn admin_calls(State(state): State<Shared>) -> Json<Value> {
    let st = state.lock().unwrap_or_else(|e| e.into_inner());
    let mut m = serde_json::Map::new();
    for c in &st.calls {
        let n = m.get(&c.op).and_then(Value::as_u64).unwrap_or(0);
        m.insert(c.op.clone(), json!(n + 1));
    }
    Json(Value::Object(m))
}

async fn admin_call_log(State(state): State<Shared>) -> Json<Value> {
    let st = state.lock().unwrap_or_else(|e| e.into_inner());
    Json(Value::Array(
        st.calls
            .iter()
            .map(|c| json!({"op": c.op, "unixMs": c.unix_ms}))
            .collect(),
    ))
}

#[derive(serde::Deserialize)]
struct ScenarioChange {
    cluster: String,
    service: String,
    scenario: Scenario,
}

async fn admin_scenario(State(state): State<Shared>, Json(c): Json<ScenarioChange>) -> StatusCode {
    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
    if st.set_scenario(&c.cluster, &c.service, c.scenario) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}

#[derive(serde::Deserialize)]
struct ThrottleRequest {
    op: String,
    count: u32,
}

async fn admin_throttle(State(state): State<Shared>, Json(t): Json<ThrottleRequest>) -> StatusCode {
    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
    *st.throttles.entry(t.op).or_insert(0) += t.count;
    StatusCode::NO_CONTENT
}

async fn health(
    State(state): State<Shared>,
    Path((cluster, service)): Path<(String, String)>,
) -> Response {
    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
    record(&mut st, "HealthProbe");
    let Some(svc) = st.services.get(&(cluster, service)) else {
        return (StatusCode::NOT_FOUND, "no such service\n").into_response();
    };
    let healthy: Vec<&str> = svc
        .load_balancers
        .iter()
        .filter_map(|lb| st.targets.get(&lb.target_group_arn))
        .flatten()
        .filter(|t| t.state == "healthy")
        .map(|t| t.task.as_str())
        .collect();
    let newest = st
        .tasks
        .iter()
        .rev()
        .find(|t| healthy.contains(&t.arn().as_str()));
    match newest {
        Some(t) => (StatusCode::OK, format!("ok {}\n", t.task_definition)).into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "no healthy targets\n").into_response(),
    }
}
