//! CloudWatch Logs (AWS JSON 1.1, `X-Amz-Target: Logs_20140328.<Op>`): `GetLogEvents` and
//! `DescribeLogStreams` over what the simulated containers printed (awslogs driver: group from
//! `awslogs-group`, stream `<awslogs-stream-prefix>/<container>/<task id>`). Timestamps are
//! epoch milliseconds. Tokens are `f/<index>` and `b/<index>` (56 digits, as the real ones).

use serde_json::{Value, json};

use super::state::{ApiError, SimState};

pub(crate) fn dispatch(st: &SimState, op: &str, req: &Value) -> Result<Value, ApiError> {
    let group = req["logGroupName"].as_str().unwrap_or_default();
    let group_exists = st.logs.keys().any(|(g, _)| g == group);
    let not_found = |what: &str| {
        ApiError::client(
            "ResourceNotFoundException",
            format!("The specified log {what} does not exist."),
        )
    };
    match op {
        "GetLogEvents" => {
            let stream = req["logStreamName"].as_str().unwrap_or_default();
            if !group_exists {
                return Err(not_found("group"));
            }
            let events = st
                .logs
                .get(&(group.to_owned(), stream.to_owned()))
                .ok_or_else(|| not_found("stream"))?;
            let n = events.len();
            let limit = req["limit"].as_u64().unwrap_or(10_000).clamp(1, 10_000) as usize;
            let token = req["nextToken"].as_str().unwrap_or_default();
            let index = |t: &str| {
                t.get(2..)
                    .and_then(|d| d.parse::<usize>().ok())
                    .map(|i| i.min(n))
            };
            let (start, end) = if let Some(i) = token.strip_prefix("f/").and(index(token)) {
                (i, (i + limit).min(n))
            } else if let Some(i) = token.strip_prefix("b/").and(index(token)) {
                (i.saturating_sub(limit), i)
            } else if req["startFromHead"].as_bool().unwrap_or(false) {
                (0, limit.min(n))
            } else {
                (n.saturating_sub(limit), n)
            };
            let page: Vec<Value> = events[start..end]
                .iter()
                .map(|e| json!({"timestamp": e.timestamp_ms, "message": e.message, "ingestionTime": e.timestamp_ms + 200}))
                .collect();
            Ok(json!({
                "events": page,
                "nextForwardToken": format!("f/{end:056}"),
                "nextBackwardToken": format!("b/{start:056}"),
            }))
        }
        "DescribeLogStreams" => {
            if !group_exists {
                return Err(not_found("group"));
            }
            let prefix = req["logStreamNamePrefix"].as_str().unwrap_or_default();
            let streams: Vec<Value> = st
                .logs
                .iter()
                .filter(|((g, s), _)| g == group && s.starts_with(prefix))
                .map(|((_, s), ev)| {
                    let first = ev.first().map_or(0, |e| e.timestamp_ms);
                    let last = ev.last().map_or(0, |e| e.timestamp_ms);
                    json!({
                        "logStreamName": s,
                        "creationTime": first,
                        "firstEventTimestamp": first,
                        "lastEventTimestamp": last,
                        "lastIngestionTime": last + 200,
                        "arn": format!("arn:aws:logs:{}:{}:log-group:{group}:log-stream:{s}", super::SIM_REGION, super::SIM_ACCOUNT),
                    })
                })
                .collect();
            Ok(json!({"logStreams": streams}))
        }
        _ => Err(ApiError::client(
            "UnknownOperationException",
            format!("testbed ECS simulator: CloudWatch Logs operation {op} is not simulated"),
        )),
    }
}
