//! The ECS operations (AWS JSON 1.1, `X-Amz-Target: AmazonEC2ContainerServiceV20141113.<Op>`):
//! DescribeClusters, ListContainerInstances, DescribeServices, ListServices, UpdateService,
//! DescribeTaskDefinition, RegisterTaskDefinition, ListTaskDefinitions, ListTasks, DescribeTasks. Request and
//! response members are the ECS API's camelCase names; timestamps are epoch seconds (numbers).
//!
//! Errors as ECS sends them (status 400, `{"__type": ..., "message": ...}`):
//! `ClusterNotFoundException` "Cluster not found.", `ServiceNotFoundException` "Service not
//! found.", `ServiceNotActiveException` "Service was not ACTIVE.", `InvalidParameterException`,
//! `ClientException`, and `ThrottlingException` "Rate exceeded" for the Throttling scenario.
//! RegisterTaskDefinition refuses the read-only members (`READ_ONLY`) with a ClientException
//! (seeds may carry them; they are dropped there).

use serde_json::{Value, json};

use super::render::{service_json, task_json};
use super::state::{ApiError, Service, SimState, Task, ecs_arn};

/// The members ECS adds to a task definition, which RegisterTaskDefinition does not take.
pub const READ_ONLY: [&str; 8] = [
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
];

/// Answers one ECS operation.
pub(crate) fn dispatch(st: &mut SimState, op: &str, req: &Value) -> Result<Value, ApiError> {
    match op {
        "DescribeClusters" => describe_clusters(st, req),
        "ListContainerInstances" => list_container_instances(st, req),
        "DescribeServices" => describe_services(st, req),
        "ListServices" => list_services(st, req),
        "UpdateService" => update_service(st, req),
        "DescribeTaskDefinition" => describe_task_definition(st, req),
        "RegisterTaskDefinition" => register_task_definition(st, req),
        "ListTaskDefinitions" => list_task_definitions(st, req),
        "ListTasks" => list_tasks(st, req),
        "DescribeTasks" => describe_tasks(st, req),
        _ => super::deployment_api::dispatch(st, op, req).unwrap_or_else(|| {
            Err(ApiError::client(
                "UnknownOperationException",
                format!("testbed ECS simulator: operation {op} is not simulated"),
            ))
        }),
    }
}

fn last_segment(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

fn cluster_name(req: &Value) -> String {
    last_segment(req["cluster"].as_str().unwrap_or("default")).to_owned()
}

pub(crate) fn require_cluster(st: &SimState, req: &Value) -> Result<String, ApiError> {
    let name = cluster_name(req);
    match st.clusters.get(&name) {
        Some(c) if c.status == "ACTIVE" => Ok(name),
        _ => Err(ApiError::client(
            "ClusterNotFoundException",
            "Cluster not found.",
        )),
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

fn describe_clusters(st: &mut SimState, req: &Value) -> Result<Value, ApiError> {
    let mut names = strings(&req["clusters"]);
    if names.is_empty() {
        names.push("default".into());
    }
    let (mut clusters, mut failures) = (Vec::new(), Vec::new());
    for n in names {
        let name = last_segment(&n);
        match st.clusters.get(name) {
            Some(c) => {
                let services: Vec<&Service> = st
                    .services
                    .values()
                    .filter(|s| s.cluster == c.name)
                    .collect();
                let active = services.iter().filter(|s| s.status == "ACTIVE").count();
                let tasks = st.tasks.iter().filter(|t| t.cluster == c.name && t.live());
                let (running, pending) = tasks.fold((0, 0), |(r, p), t| {
                    if t.last_status == "RUNNING" {
                        (r + 1, p)
                    } else {
                        (r, p + 1)
                    }
                });
                clusters.push(json!({
                    "clusterArn": c.arn(),
                    "clusterName": c.name,
                    "status": c.status,
                    "registeredContainerInstancesCount": c.container_instances,
                    "runningTasksCount": running,
                    "pendingTasksCount": pending,
                    "activeServicesCount": active,
                    "statistics": [],
                    "tags": [],
                    "settings": [{"name": "containerInsights", "value": "disabled"}],
                    "capacityProviders": c.capacity_providers,
                    "defaultCapacityProviderStrategy": [],
                }));
            }
            None => failures
                .push(json!({"arn": ecs_arn(&format!("cluster/{name}")), "reason": "MISSING"})),
        }
    }
    Ok(json!({"clusters": clusters, "failures": failures}))
}

fn list_container_instances(st: &mut SimState, req: &Value) -> Result<Value, ApiError> {
    let name = require_cluster(st, req)?;
    let n = st.clusters[&name].container_instances;
    let arns: Vec<String> = (0..n)
        .map(|k| {
            ecs_arn(&format!(
                "container-instance/{name}/{:032x}",
                0xc0ffee_u128 * 1000 + k as u128
            ))
        })
        .collect();
    Ok(json!({"containerInstanceArns": arns}))
}

fn describe_services(st: &mut SimState, req: &Value) -> Result<Value, ApiError> {
    let cluster = require_cluster(st, req)?;
    let names: Vec<String> = strings(&req["services"])
        .iter()
        .map(|s| last_segment(s).to_owned())
        .collect();
    if names.is_empty() {
        return Err(ApiError::client(
            "InvalidParameterException",
            "Services cannot be empty.",
        ));
    }
    if names.len() > 10 {
        return Err(ApiError::client(
            "InvalidParameterException",
            "service names can have at most 10 items.",
        ));
    }
    let mut throttled = false;
    for n in &names {
        if let Some(s) = st.services.get_mut(&(cluster.clone(), n.clone()))
            && s.throttle_left > 0
        {
            s.throttle_left -= 1;
            throttled = true;
        }
    }
    if throttled {
        return Err(ApiError::client("ThrottlingException", "Rate exceeded"));
    }
    st.clock += st.step;
    for n in &names {
        st.poll(&cluster, n);
    }
    let (mut services, mut failures) = (Vec::new(), Vec::new());
    for n in &names {
        match st.services.get(&(cluster.clone(), n.clone())) {
            Some(s) => services.push(service_json(st, s)),
            None => failures.push(
                json!({"arn": ecs_arn(&format!("service/{cluster}/{n}")), "reason": "MISSING"}),
            ),
        }
    }
    Ok(json!({"services": services, "failures": failures}))
}

fn list_services(st: &mut SimState, req: &Value) -> Result<Value, ApiError> {
    let cluster = require_cluster(st, req)?;
    let arns: Vec<String> = st
        .services
        .values()
        .filter(|s| s.cluster == cluster && s.status == "ACTIVE")
        .map(Service::arn)
        .collect();
    Ok(json!({"serviceArns": arns}))
}

fn update_service(st: &mut SimState, req: &Value) -> Result<Value, ApiError> {
    let cluster = require_cluster(st, req)?;
    let name = last_segment(req["service"].as_str().unwrap_or_default()).to_owned();
    let key = (cluster.clone(), name.clone());
    let svc = st
        .services
        .get(&key)
        .ok_or_else(|| ApiError::client("ServiceNotFoundException", "Service not found."))?;
    if svc.status != "ACTIVE" {
        return Err(ApiError::client(
            "ServiceNotActiveException",
            "Service was not ACTIVE.",
        ));
    }
    let new_td = match req["taskDefinition"].as_str() {
        Some(td) => {
            if svc.controller != "ECS" {
                return Err(ApiError::client(
                    "InvalidParameterException",
                    format!(
                        "Unable to update task definition on services with a {} deployment controller. {}",
                        svc.controller,
                        if svc.controller == "CODE_DEPLOY" {
                            "Use AWS CodeDeploy to trigger a new deployment."
                        } else {
                            "Use a task set to deploy a new task definition."
                        }
                    ),
                ));
            }
            let def = st.task_def(td).ok_or_else(|| {
                ApiError::client("InvalidParameterException", "TaskDefinition not found.")
            })?;
            Some(
                def.def["taskDefinitionArn"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        }
        None => None,
    };
    let mut svc = st.services.remove(&key).expect("checked above");
    if let Some(n) = req["desiredCount"].as_u64() {
        svc.desired = n as u32;
        svc.deployments[0].desired = n as u32;
    }
    let dc = &req["deploymentConfiguration"];
    if let Some(v) = dc["minimumHealthyPercent"].as_u64() {
        svc.min_healthy = v as u32;
    }
    if let Some(v) = dc["maximumPercent"].as_u64() {
        svc.max_percent = v as u32;
    }
    if let Some(v) = dc["deploymentCircuitBreaker"]["enable"].as_bool() {
        svc.cb_enable = v;
    }
    if let Some(v) = dc["deploymentCircuitBreaker"]["rollback"].as_bool() {
        svc.cb_rollback = v;
    }
    st.configure_strategy(&cluster, &name, dc);
    // A mutating call takes a second of simulated time, so what it starts is newer than
    // anything already shown.
    st.clock += 1;
    let force = req["forceNewDeployment"].as_bool().unwrap_or(false);
    let current = svc.task_definition();
    let target = new_td.unwrap_or_else(|| current.clone());
    if force || target != current {
        st.new_deployment(&mut svc, target);
        st.start_service_deployment(&svc);
    }
    let out = json!({"service": service_json(st, &svc)});
    st.services.insert(key, svc);
    Ok(out)
}

fn describe_task_definition(st: &mut SimState, req: &Value) -> Result<Value, ApiError> {
    let name = req["taskDefinition"].as_str().unwrap_or_default();
    let td = st.task_def(name).ok_or_else(|| {
        ApiError::client("ClientException", "Unable to describe task definition.")
    })?;
    let with_tags = strings(&req["include"]).iter().any(|i| i == "TAGS");
    let tags = if with_tags {
        td.tags.clone()
    } else {
        json!([])
    };
    Ok(json!({"taskDefinition": td.def, "tags": tags}))
}

fn register_task_definition(st: &mut SimState, req: &Value) -> Result<Value, ApiError> {
    // Stricter than needed on purpose: a caller that forgets to strip what
    // DescribeTaskDefinition added is told so.
    for k in READ_ONLY {
        if req.get(k).is_some() {
            return Err(ApiError::client(
                "ClientException",
                format!(
                    "testbed: RegisterTaskDefinition got the read-only field {k}; strip what DescribeTaskDefinition adds"
                ),
            ));
        }
    }
    let tags = req.get("tags").cloned().unwrap_or_else(|| json!([]));
    let def = st.register(req.clone(), false)?;
    Ok(json!({"taskDefinition": def, "tags": tags}))
}

/// `familyPrefix`, `status` (ACTIVE by default), `sort` (ASC by default), `maxResults` (100);
/// one page, no `nextToken`.
fn list_task_definitions(st: &mut SimState, req: &Value) -> Result<Value, ApiError> {
    let prefix = req["familyPrefix"].as_str().unwrap_or("");
    let status = req["status"].as_str().unwrap_or("ACTIVE");
    let max = req["maxResults"].as_u64().unwrap_or(100) as usize;
    let mut arns: Vec<String> = st
        .task_defs
        .iter()
        .filter(|(family, _)| family.starts_with(prefix))
        .flat_map(|(_, revs)| revs.iter())
        .filter(|t| t.def["status"] == status)
        .filter_map(|t| t.def["taskDefinitionArn"].as_str().map(str::to_owned))
        .collect();
    if req["sort"].as_str() == Some("DESC") {
        arns.reverse();
    }
    arns.truncate(max);
    Ok(json!({"taskDefinitionArns": arns}))
}

fn list_tasks(st: &mut SimState, req: &Value) -> Result<Value, ApiError> {
    let cluster = require_cluster(st, req)?;
    let service = req["serviceName"].as_str().map(last_segment);
    if let Some(s) = service
        && !st.services.contains_key(&(cluster.clone(), s.to_owned()))
    {
        return Err(ApiError::client(
            "ServiceNotFoundException",
            "Service not found.",
        ));
    }
    let desired = req["desiredStatus"].as_str().unwrap_or("RUNNING");
    let family = req["family"].as_str();
    let started_by = req["startedBy"].as_str();
    let arns: Vec<String> = st
        .tasks
        .iter()
        .rev()
        .filter(|t| t.cluster == cluster)
        .filter(|t| service.is_none_or(|s| t.service == s))
        .filter(|t| started_by.is_none_or(|b| t.deployment == b))
        .filter(|t| {
            family.is_none_or(|f| t.task_definition.contains(&format!("task-definition/{f}:")))
        })
        .filter(|t| match desired {
            "STOPPED" => t.desired_status == "STOPPED",
            "PENDING" => t.last_status == "PENDING" && t.desired_status == "RUNNING",
            _ => t.desired_status == "RUNNING",
        })
        .map(Task::arn)
        .collect();
    Ok(page(
        arns.into_iter().map(Value::from).collect(),
        req,
        "taskArns",
        100,
    ))
}

/// One page of `items` under `member`, from the request's `nextToken` (an index) and
/// `maxResults` (1 to 100, `default_max` when absent), with the next page's `nextToken`.
pub(crate) fn page(mut items: Vec<Value>, req: &Value, member: &str, default_max: u64) -> Value {
    let start: usize = req["nextToken"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let max = req["maxResults"]
        .as_u64()
        .unwrap_or(default_max)
        .clamp(1, 100) as usize;
    let rest = items.split_off(start.min(items.len()));
    let mut out = serde_json::Map::new();
    out.insert(member.to_owned(), rest.iter().take(max).cloned().collect());
    if rest.len() > max {
        out.insert("nextToken".into(), json!((start + max).to_string()));
    }
    Value::Object(out)
}

fn describe_tasks(st: &mut SimState, req: &Value) -> Result<Value, ApiError> {
    let cluster = require_cluster(st, req)?;
    let wanted = strings(&req["tasks"]);
    if wanted.is_empty() {
        return Err(ApiError::client(
            "InvalidParameterException",
            "Tasks cannot be empty.",
        ));
    }
    if wanted.len() > 100 {
        return Err(ApiError::client(
            "InvalidParameterException",
            "Tasks can have at most 100 items.",
        ));
    }
    let (mut tasks, mut failures) = (Vec::new(), Vec::new());
    for w in wanted {
        let id = last_segment(&w);
        match st.tasks.iter().find(|t| t.cluster == cluster && t.id == id) {
            Some(t) => tasks.push(task_json(st, t)),
            None => failures.push(json!({"arn": w, "reason": "MISSING"})),
        }
    }
    Ok(json!({"tasks": tasks, "failures": failures}))
}
