//! The service-deployment operations of the ECS simulator: ListServiceDeployments,
//! DescribeServiceDeployments, DescribeServiceRevisions, StopServiceDeployment and
//! ContinueServiceDeployment, shaped as the ECS API reference has them (camelCase members,
//! epoch-second timestamps, `failures` with reason MISSING, ConflictException for a deployment
//! that is over, ServiceDeploymentNotFoundException for an unknown ARN).

use serde_json::{Value, json};

use super::service_deployments::{Monitor, Record, Revision};
use super::state::{ApiError, SimState, ecs_arn};

/// Answers the service-deployment operations; None for any other operation.
pub(crate) fn dispatch(
    st: &mut SimState,
    op: &str,
    req: &Value,
) -> Option<Result<Value, ApiError>> {
    Some(match op {
        "ListServiceDeployments" => list(st, req),
        "DescribeServiceDeployments" => describe(st, req),
        "DescribeServiceRevisions" => describe_revisions(st, req),
        "StopServiceDeployment" => stop(st, req),
        "ContinueServiceDeployment" => continue_hook(st, req),
        _ => return None,
    })
}

fn last_segment(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

fn arns(req: &Value, member: &str) -> Result<Vec<String>, ApiError> {
    let list: Vec<String> = req[member]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect();
    if list.is_empty() {
        return Err(ApiError::client(
            "InvalidParameterException",
            format!("{member} cannot be empty."),
        ));
    }
    if list.len() > 20 {
        return Err(ApiError::client(
            "InvalidParameterException",
            format!("{member} can have at most 20 items."),
        ));
    }
    Ok(list)
}

fn list(st: &mut SimState, req: &Value) -> Result<Value, ApiError> {
    let cluster = super::protocol::require_cluster(st, req)?;
    let service = last_segment(req["service"].as_str().unwrap_or_default()).to_owned();
    if !st
        .services
        .contains_key(&(cluster.clone(), service.clone()))
    {
        return Err(ApiError::client(
            "ServiceNotFoundException",
            "Service not found.",
        ));
    }
    let statuses: Vec<&str> = req["status"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let after = req["createdAt"]["after"].as_f64();
    let before = req["createdAt"]["before"].as_f64();
    let briefs: Vec<Value> = st
        .service_deployments
        .records
        .iter()
        .rev()
        .filter(|r| r.cluster == cluster && r.service == service)
        .filter(|r| statuses.is_empty() || statuses.contains(&r.status.as_str()))
        .filter(|r| after.is_none_or(|a| r.created_at as f64 >= a))
        .filter(|r| before.is_none_or(|b| r.created_at as f64 <= b))
        .map(brief_json)
        .collect();
    Ok(super::protocol::page(briefs, req, "serviceDeployments", 20))
}

fn describe(st: &mut SimState, req: &Value) -> Result<Value, ApiError> {
    let wanted = arns(req, "serviceDeploymentArns")?;
    let (mut found, mut failures) = (Vec::new(), Vec::new());
    for arn in wanted {
        match st.service_deployments.records.iter().find(|r| r.arn == arn) {
            Some(r) => found.push(record_json(st, r)),
            None => failures.push(json!({"arn": arn, "reason": "MISSING"})),
        }
    }
    Ok(json!({"serviceDeployments": found, "failures": failures}))
}

fn describe_revisions(st: &mut SimState, req: &Value) -> Result<Value, ApiError> {
    let wanted = arns(req, "serviceRevisionArns")?;
    let (mut found, mut failures) = (Vec::new(), Vec::new());
    for arn in wanted {
        match st
            .service_deployments
            .revisions
            .iter()
            .find(|r| r.arn == arn)
        {
            Some(r) => found.push(revision_json(st, r)),
            None => failures.push(json!({"arn": arn, "reason": "MISSING"})),
        }
    }
    Ok(json!({"serviceRevisions": found, "failures": failures}))
}

fn find_record(st: &SimState, req: &Value) -> Result<usize, ApiError> {
    let arn = req["serviceDeploymentArn"].as_str().unwrap_or_default();
    st.service_deployments
        .records
        .iter()
        .position(|r| r.arn == arn)
        .ok_or_else(|| {
            ApiError::client(
                "ServiceDeploymentNotFoundException",
                format!("Service deployment {arn} not found."),
            )
        })
}

fn stop(st: &mut SimState, req: &Value) -> Result<Value, ApiError> {
    let i = find_record(st, req)?;
    let stop_type = req["stopType"].as_str().unwrap_or("ROLLBACK");
    if !["ROLLBACK", "ABORT"].contains(&stop_type) {
        return Err(ApiError::client(
            "InvalidParameterException",
            format!("Invalid stopType {stop_type}: valid values are ROLLBACK and ABORT."),
        ));
    }
    let rec = &st.service_deployments.records[i];
    let arn = rec.arn.clone();
    match rec.status.as_str() {
        "STOP_REQUESTED" | "ROLLBACK_REQUESTED" | "ROLLBACK_IN_PROGRESS" => {}
        "PENDING" | "IN_PROGRESS" => {
            let key = (rec.cluster.clone(), rec.service.clone());
            let mut svc = st.services.remove(&key).expect("a record's service exists");
            if stop_type == "ROLLBACK" {
                st.begin_rollback(
                    &mut svc,
                    i,
                    "Service deployment rolled back because StopServiceDeployment was called."
                        .into(),
                    "ROLLBACK_REQUESTED",
                );
            } else {
                let rec = &mut st.service_deployments.records[i];
                rec.status = "STOP_REQUESTED".into();
                rec.status_reason = Some(
                    "Service deployment stopped because StopServiceDeployment was called.".into(),
                );
            }
            st.services.insert(key, svc);
        }
        other => {
            return Err(ApiError::client(
                "ConflictException",
                format!("The service deployment is {other} and can no longer be stopped."),
            ));
        }
    }
    Ok(json!({"serviceDeploymentArn": arn}))
}

fn continue_hook(st: &mut SimState, req: &Value) -> Result<Value, ApiError> {
    let i = find_record(st, req)?;
    let hook_id = req["hookId"].as_str().unwrap_or_default().to_owned();
    let action = req["action"].as_str().unwrap_or("CONTINUE").to_owned();
    if !["CONTINUE", "ROLLBACK"].contains(&action.as_str()) {
        return Err(ApiError::client(
            "InvalidParameterException",
            format!("Invalid action {action}: valid values are CONTINUE and ROLLBACK."),
        ));
    }
    let rec = &mut st.service_deployments.records[i];
    let arn = rec.arn.clone();
    let Some(hook) = rec.hooks.iter_mut().find(|h| h.hook_id == hook_id) else {
        return Err(ApiError::client(
            "InvalidParameterException",
            format!("Lifecycle hook {hook_id} not found in service deployment {arn}."),
        ));
    };
    if hook.status != "AWAITING_ACTION" || rec.status != "IN_PROGRESS" {
        return Err(ApiError::client(
            "InvalidParameterException",
            format!(
                "Lifecycle hook {hook_id} is {} and service deployment is {}: only an AWAITING_ACTION pause hook of an IN_PROGRESS deployment can be continued.",
                hook.status, rec.status
            ),
        ));
    }
    if action == "CONTINUE" {
        hook.status = "SUCCEEDED".into();
        return Ok(json!({"serviceDeploymentArn": arn}));
    }
    hook.status = "FAILED".into();
    let stage = hook.stage.clone();
    let key = (rec.cluster.clone(), rec.service.clone());
    let mut svc = st.services.remove(&key).expect("a record's service exists");
    st.begin_rollback(
        &mut svc,
        i,
        format!(
            "Pause hook {hook_id} at {stage} was answered ROLLBACK by ContinueServiceDeployment."
        ),
        "ROLLBACK_REQUESTED",
    );
    st.services.insert(key, svc);
    Ok(json!({"serviceDeploymentArn": arn}))
}

/// `v` with the `serviceArn` and `clusterArn` of service `service` in `cluster`.
fn owned_by(mut v: Value, cluster: &str, service: &str) -> Value {
    v["serviceArn"] = json!(ecs_arn(&format!("service/{cluster}/{service}")));
    v["clusterArn"] = json!(ecs_arn(&format!("cluster/{cluster}")));
    v
}

fn brief_json(r: &Record) -> Value {
    let mut v = json!({
        "serviceDeploymentArn": r.arn,
        "createdAt": r.created_at,
        "targetServiceRevisionArn": r.target_revision,
        "status": r.status,
    });
    v = owned_by(v, &r.cluster, &r.service);
    put_some(&mut v, "startedAt", r.started_at.map(|t| json!(t)));
    put_some(&mut v, "finishedAt", r.finished_at.map(|t| json!(t)));
    put_some(
        &mut v,
        "statusReason",
        r.status_reason.as_ref().map(|s| json!(s)),
    );
    v
}

fn put_some(v: &mut Value, key: &str, val: Option<Value>) {
    if let Some(val) = val {
        v[key] = val;
    }
}

/// A revision summary: its tasks (from its ECS deployment, while the service has it) and its
/// traffic weights.
fn summary(
    st: &SimState,
    r: &Record,
    arn: &str,
    production: Option<f64>,
    test: Option<f64>,
) -> Value {
    let svc = st.services.get(&(r.cluster.clone(), r.service.clone()));
    let dep = st
        .service_deployments
        .revisions
        .iter()
        .find(|x| x.arn == arn)
        .and_then(|x| svc.and_then(|s| s.deployments.iter().find(|d| d.id == x.deployment_id)));
    let mut v = json!({
        "arn": arn,
        "requestedTaskCount": dep.map_or(0, |d| d.desired),
        "runningTaskCount": dep.map_or(0, |d| d.running),
        "pendingTaskCount": dep.map_or(0, |d| d.pending),
    });
    put_some(
        &mut v,
        "requestedProductionTrafficWeight",
        production.map(|w| json!(w)),
    );
    put_some(&mut v, "requestedTestTrafficWeight", test.map(|w| json!(w)));
    v
}

fn monitor_json(m: &Monitor) -> Value {
    json!({"status": m.status, "failureCount": m.failure_count, "threshold": m.threshold})
}

pub(crate) fn record_json(st: &SimState, r: &Record) -> Value {
    let sources: Vec<Value> = r
        .source_revisions
        .iter()
        .map(|a| {
            summary(
                st,
                r,
                a,
                r.production_weight.map(|w| 100.0 - w),
                r.test_weight.map(|w| 100.0 - w),
            )
        })
        .collect();
    let mut alarms = json!({"status": r.alarms.status});
    if let Some(names) = r.config["alarms"]["alarmNames"].as_array() {
        alarms["alarmNames"] = json!(names);
    }
    if !r.alarms.triggered.is_empty() {
        alarms["triggeredAlarmNames"] = json!(r.alarms.triggered);
    }
    let mut v = json!({
        "serviceDeploymentArn": r.arn,
        "createdAt": r.created_at,
        "updatedAt": r.updated_at,
        "sourceServiceRevisions": sources,
        "targetServiceRevision": summary(st, r, &r.target_revision, r.production_weight, r.test_weight),
        "status": r.status,
        "deploymentConfiguration": r.config,
        "deploymentCircuitBreaker": monitor_json(&r.breaker),
        "alarms": alarms,
    });
    v = owned_by(v, &r.cluster, &r.service);
    put_some(&mut v, "startedAt", r.started_at.map(|t| json!(t)));
    put_some(&mut v, "finishedAt", r.finished_at.map(|t| json!(t)));
    put_some(&mut v, "stoppedAt", r.stopped_at.map(|t| json!(t)));
    put_some(
        &mut v,
        "statusReason",
        r.status_reason.as_ref().map(|s| json!(s)),
    );
    put_some(&mut v, "lifecycleStage", r.stage.as_ref().map(|s| json!(s)));
    if let Some((reason, at, revision)) = &r.rollback {
        v["rollback"] = json!({"reason": reason, "startedAt": at, "serviceRevisionArn": revision});
    }
    if !r.hooks.is_empty() {
        v["lifecycleHookDetails"] = Value::Array(
            r.hooks
                .iter()
                .map(|h| {
                    let mut d = json!({
                        "hookId": h.hook_id,
                        "targetType": h.target_type,
                        "status": h.status,
                        "expiresAt": h.expires_at,
                        "timeoutAction": h.timeout_action,
                    });
                    put_some(&mut d, "targetArn", h.target_arn.as_ref().map(|a| json!(a)));
                    d
                })
                .collect(),
        );
    }
    v
}

fn revision_json(st: &SimState, r: &Revision) -> Value {
    let svc = st.services.get(&(r.cluster.clone(), r.service.clone()));
    let mut v = owned_by(
        json!({
            "serviceRevisionArn": r.arn,
            "taskDefinition": r.task_definition,
            "createdAt": r.created_at,
            "guardDutyEnabled": false,
        }),
        &r.cluster,
        &r.service,
    );
    if let Some(svc) = svc {
        let rendered = super::render::service_json(st, svc);
        for k in [
            "launchType",
            "platformVersion",
            "platformFamily",
            "capacityProviderStrategy",
            "loadBalancers",
            "networkConfiguration",
        ] {
            if let Some(val) = rendered.get(k) {
                v[k] = val.clone();
            }
        }
    }
    v
}
