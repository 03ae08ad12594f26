//! The simulator's HTTP front: the router (AWS protocols on every path but `/_sim/...`),
//! protocol dispatch by `X-Amz-Target` or form `Action`, AWS-shaped JSON and XML answers with
//! `x-amzn-RequestId`, the call log and injected throttling, and the admin endpoints listed in
//! the module docs of `ecs`.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::elbv2::{self, ELBV2_XMLNS};
use super::seed::{ClusterSeed, Scenario, ServiceSeed};
use super::state::{ApiError, CallRecord, SIM_ACCOUNT, SimState, unix_now_ms};
use super::{logs, protocol};
use crate::net::random_uuid;

pub(crate) type Shared = Arc<Mutex<SimState>>;

/// The whole app: admin routes, then every other request as an AWS call.
pub(crate) fn router(state: Shared) -> axum::Router {
    axum::Router::new()
        .route("/_sim/seed", post(admin_seed))
        .route("/_sim/cluster", post(admin_cluster))
        .route("/_sim/service/{cluster}/{service}", get(admin_service))
        .route("/_sim/calls", get(admin_calls))
        .route("/_sim/calls/log", get(admin_call_log))
        .route("/_sim/scenario", post(admin_scenario))
        .route("/_sim/throttle", post(admin_throttle))
        .route("/_sim/health/{cluster}/{service}", get(health))
        .fallback(aws)
        .with_state(state)
}

/// Records a call and who made it; true when it must be throttled (`EcsSimulator::throttle`).
fn record(st: &mut SimState, op: &str, headers: &HeaderMap) -> bool {
    st.caller = access_key_id(headers);
    st.calls.push(CallRecord {
        op: op.to_owned(),
        at: Instant::now(),
        unix_ms: unix_now_ms(),
        caller: st.caller.clone(),
    });
    match st.throttles.get_mut(op) {
        Some(n) if *n > 0 => {
            *n -= 1;
            true
        }
        _ => false,
    }
}

/// `AKID` from SigV4's `Authorization: AWS4-HMAC-SHA256 Credential=AKID/date/region/...`.
fn access_key_id(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let credential = auth.split("Credential=").nth(1)?;
    Some(credential.split('/').next()?.to_owned())
}

async fn aws(State(state): State<Shared>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        let (prefix, op) = target.split_once('.').unwrap_or((target, ""));
        if record(&mut st, op, &headers) {
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
        let service = req["service"].as_str().unwrap_or_default();
        let service = service.rsplit('/').next().unwrap_or(service);
        if st.denied.contains(&(op.to_owned(), service.to_owned())) {
            let message = format!(
                "User: arn:aws:sts::{SIM_ACCOUNT}:assumed-role/deploy/oidc-ecs-deploy is not authorized to perform: ecs:{op} on resource: {} because no identity-based policy allows the ecs:{op} action",
                super::ecs_arn(&format!("service/{}/{service}", last(&req["cluster"])))
            );
            return json_answer(Err(ApiError::client("AccessDeniedException", message)));
        }
        let result = match prefix {
            "AmazonEC2ContainerServiceV20141113" => protocol::dispatch(&mut st, op, &req),
            "Logs_20140328" => logs::dispatch(&st, op, &req),
            _ => Err(ApiError::client(
                "UnknownOperationException",
                format!("testbed ECS simulator: unknown target {target}"),
            )),
        };
        st.caller = None;
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
    let result = if record(&mut st, &action, &headers) {
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

/// The last `/` segment of a string value (a name or an ARN); `default` when absent.
fn last(v: &Value) -> &str {
    let s = v.as_str().unwrap_or("default");
    s.rsplit('/').next().unwrap_or(s)
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
    record(&mut st, "HealthProbe", &HeaderMap::new());
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
