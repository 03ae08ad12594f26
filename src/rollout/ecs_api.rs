//! The effectful shell over the AWS SDK clients the rollout uses (ECS, ELBv2, CloudWatch Logs):
//! each method is one question or one change, answered in the plain types of `assess` and
//! `stopped`, so nothing above this file sees an SDK type.
//!
//! Task definitions travel as raw JSON through `raw_ecs` (`taskdef` keeps them as
//! `serde_json::Value`; the SDK's typed shapes would drop every member they do not model).
//!
//! Retries are the crate's (`crate::retry`: its loop and the AWS classification), not the
//! SDK's, which are turned off: throttling, 5xx and the network are retried (5 attempts,
//! jittered exponential backoff), and what still fails comes back as [`ApiError`] with the
//! service's error code and the attempts made over how long, as observed.

use std::future::Future;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_sdk_ecs::error::ProvideErrorMetadata;
use aws_sdk_ecs::types::DesiredStatus;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::retry::RetryConfig;
use serde_json::Value;

use crate::retry::{self, RetryPolicy};

use super::assess::{DeploymentView, ServiceEvent, TargetView};
use super::raw_ecs::{RawEcs, RawEcsError};
use super::stopped::{LogRef, StoppedContainer, StoppedTask};

/// One failed call, with the operation, ECS's (or ELB's, or Logs') error code, and the
/// attempts made over how long (observed by `crate::retry`'s loop).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{op} failed: {message}{}{}", .code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default(), self.effort())]
pub struct ApiError {
    pub op: &'static str,
    pub code: Option<String>,
    pub message: String,
    /// Attempts made, the failed last one included (1: not retried).
    pub attempts: u32,
    /// From the first attempt's start to the last one's failure.
    pub elapsed: Duration,
}

impl ApiError {
    fn local(op: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::answered(op, None, message)
    }

    /// An error read from an answer (ECS's `failures[]`), not from a failed call: one attempt.
    pub(crate) fn answered(
        op: &'static str,
        code: Option<String>,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            op,
            code,
            message: message.into(),
            attempts: 1,
            elapsed: Duration::ZERO,
        }
    }

    /// Access refused: the role's permissions policy, not the service.
    pub fn is_access_denied(&self) -> bool {
        self.code
            .as_deref()
            .is_some_and(|c| c.contains("AccessDenied") || c == "UnauthorizedOperation")
    }

    /// `", after 5 attempts over 7.9 s"` when the call was retried, else nothing.
    fn effort(&self) -> String {
        if self.attempts > 1 {
            format!(
                ", after {} over {}",
                retry::attempts(self.attempts),
                retry::seconds(self.elapsed)
            )
        } else {
            String::new()
        }
    }
}

pub(crate) fn call_error<E>(op: &'static str, e: SdkError<E, HttpResponse>) -> ApiError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    ApiError {
        op,
        code: e.code().map(str::to_owned),
        // Without a service message: the network error and its causes, not the SDK's Debug dump.
        message: e
            .message()
            .map(str::to_owned)
            .unwrap_or_else(|| crate::failure::with_causes(&e)),
        attempts: 1,
        elapsed: Duration::ZERO,
    }
}

/// One SDK call under `policy` with the AWS classification (the SDK's own retries are off):
/// the error says how many attempts were made over how long.
pub(crate) async fn retried_call<T, E, F, Fut>(
    policy: &RetryPolicy,
    op: &'static str,
    mut send: F,
) -> Result<T, ApiError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
{
    let classify = |f: &retry::SdkFailure<E>| retry::classify_sdk(&f.0);
    let attempt = || {
        let sent = send();
        async move { sent.await.map_err(retry::SdkFailure) }
    };
    retry::retry_named(op, policy, classify, attempt)
        .await
        .map_err(|r| ApiError {
            attempts: r.attempts,
            elapsed: r.elapsed,
            ..call_error(op, r.error.0)
        })
}

/// A cluster as the plan needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterInfo {
    pub status: String,
}

/// One target group the service registers a container in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancerRef {
    pub target_group_arn: String,
    pub container_name: Option<String>,
    pub container_port: Option<u16>,
}

/// A service as DescribeServices or UpdateService returned it, in the plan's and assess's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceState {
    pub name: String,
    pub arn: String,
    pub status: String,
    pub desired_count: u32,
    pub running_count: u32,
    pub task_definition: String,
    /// `FARGATE`, `EC2`, `EXTERNAL`; `None` with a capacity provider strategy or nothing.
    pub launch_type: Option<String>,
    pub capacity_providers: Vec<String>,
    /// `ECS`, `CODE_DEPLOY`, `EXTERNAL` (ECS when the API did not say).
    pub deployment_controller: String,
    pub minimum_healthy_percent: Option<u32>,
    pub circuit_breaker: bool,
    pub circuit_breaker_rollback: bool,
    pub subnets: Vec<String>,
    pub load_balancers: Vec<LoadBalancerRef>,
    pub deployments: Vec<DeploymentView>,
    pub events: Vec<ServiceEvent>,
    /// `currentServiceDeployment`: the service deployment ECS records for the newest
    /// deployment (UpdateService names the one it started).
    pub current_service_deployment: Option<String>,
    /// Why ECS rolls a failed deployment back by itself (`strategy_plan::ecs_rolls_back`):
    /// empty when only this action would.
    pub ecs_rolls_back: Vec<String>,
}

pub struct EcsApi {
    ecs: aws_sdk_ecs::Client,
    elb: aws_sdk_elasticloadbalancingv2::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    raw: RawEcs,
    cluster: String,
    retry: RetryPolicy,
}

/// ECS's limit on services per DescribeServices call.
pub const DESCRIBE_SERVICES_MAX: usize = 10;

impl EcsApi {
    /// `ecs_endpoint`: the ECS endpoint override the SDK clients read from the environment
    /// (`AWS_ENDPOINT_URL_ECS`, `AWS_ENDPOINT_URL`), which the raw client must be told.
    pub fn new(config: &SdkConfig, cluster: &str, ecs_endpoint: Option<&str>) -> EcsApi {
        let off = RetryConfig::disabled();
        let ecs = aws_sdk_ecs::config::Builder::from(config)
            .retry_config(off.clone())
            .build();
        let elb = aws_sdk_elasticloadbalancingv2::config::Builder::from(config)
            .retry_config(off.clone())
            .build();
        let logs = aws_sdk_cloudwatchlogs::config::Builder::from(config)
            .retry_config(off)
            .build();
        EcsApi {
            ecs: aws_sdk_ecs::Client::from_conf(ecs),
            elb: aws_sdk_elasticloadbalancingv2::Client::from_conf(elb),
            logs: aws_sdk_cloudwatchlogs::Client::from_conf(logs),
            raw: RawEcs::new(config, ecs_endpoint),
            cluster: cluster.to_owned(),
            retry: RetryPolicy::default(),
        }
    }

    /// The same client with another retry budget (tests use short waits).
    pub fn with_retry(mut self, policy: RetryPolicy) -> EcsApi {
        self.raw = self.raw.with_retry(policy);
        self.retry = policy;
        self
    }

    /// One SDK call under the crate's retry loop with the AWS classification.
    async fn call<T, E, F, Fut>(&self, op: &'static str, send: F) -> Result<T, ApiError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    {
        retried_call(&self.retry, op, send).await
    }

    /// `None` when ECS does not know the cluster.
    pub async fn describe_cluster(&self) -> Result<Option<ClusterInfo>, ApiError> {
        let out = self
            .call("DescribeClusters", || {
                self.ecs.describe_clusters().clusters(&self.cluster).send()
            })
            .await?;
        Ok(out.clusters().first().map(|c| ClusterInfo {
            status: c.status().unwrap_or_default().to_owned(),
        }))
    }

    /// Whether at least one container instance is registered (ListContainerInstances, one page).
    pub async fn has_container_instances(&self) -> Result<bool, ApiError> {
        let out = self
            .call("ListContainerInstances", || {
                self.ecs
                    .list_container_instances()
                    .cluster(&self.cluster)
                    .max_results(1)
                    .send()
            })
            .await?;
        Ok(!out.container_instance_arns().is_empty())
    }

    /// The services found (in the order asked) and the names ECS reported missing; at most
    /// [`DESCRIBE_SERVICES_MAX`] names a call.
    pub async fn describe_services(
        &self,
        names: &[String],
    ) -> Result<(Vec<ServiceState>, Vec<String>), ApiError> {
        let (mut found, mut missing) = (Vec::new(), Vec::new());
        for chunk in names.chunks(DESCRIBE_SERVICES_MAX) {
            let out = self
                .call("DescribeServices", || {
                    self.ecs
                        .describe_services()
                        .cluster(&self.cluster)
                        .set_services(Some(chunk.to_vec()))
                        .send()
                })
                .await?;
            found.extend(out.services().iter().map(service_state));
            for f in out.failures() {
                let arn = f.arn().unwrap_or_default();
                missing.push(arn.rsplit('/').next().unwrap_or(arn).to_owned());
            }
        }
        Ok((found, missing))
    }

    /// `{"taskDefinition": {...}, "tags": [...]}` as ECS sent it.
    pub async fn describe_task_definition(&self, arn: &str) -> Result<Value, ApiError> {
        self.raw
            .describe_task_definition(arn)
            .await
            .map_err(|e| raw_error("DescribeTaskDefinition", e))
    }

    /// Registers `request` (a `RegisterTaskDefinition` body) as it is; returns the new ARN.
    pub async fn register_task_definition(&self, request: &Value) -> Result<String, ApiError> {
        let out = self
            .raw
            .register_task_definition(request)
            .await
            .map_err(|e| raw_error("RegisterTaskDefinition", e))?;
        out["taskDefinition"]["taskDefinitionArn"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ApiError::local("RegisterTaskDefinition", "the answer has no ARN"))
    }

    /// Points `service` at `task_definition`; never touches the desired count. Sent once: after
    /// a failure that may have reached ECS, a service already on `task_definition` is taken as
    /// updated (with `force_new_deployment`, which ECS cannot tell apart, it is sent again).
    pub async fn update_service(
        &self,
        service: &str,
        task_definition: &str,
        force_new_deployment: bool,
    ) -> Result<ServiceState, ApiError> {
        const OP: &str = "UpdateService";
        let send = || async {
            let out = self
                .ecs
                .update_service()
                .cluster(&self.cluster)
                .service(service)
                .task_definition(task_definition)
                .force_new_deployment(force_new_deployment)
                .send()
                .await?;
            Ok(out.service().map(service_state))
        };
        let applied = || async {
            if force_new_deployment {
                return None;
            }
            let (found, _) = self.describe_services(&[service.to_owned()]).await.ok()?;
            let state = found.into_iter().next()?;
            (state.task_definition == task_definition).then_some(Some(state))
        };
        retry::retry_unrepeated(
            OP,
            &self.retry,
            retry::classify_sdk,
            retry::delivery_sdk,
            send,
            applied,
        )
        .await
        .map_err(|r| ApiError {
            attempts: r.attempts,
            elapsed: r.elapsed,
            ..call_error(OP, r.error)
        })?
        .ok_or_else(|| ApiError::local(OP, "the answer has no service"))
    }

    /// Target health in one target group; only the targets in `ids` when it is given.
    pub async fn target_health(
        &self,
        target_group_arn: &str,
        ids: Option<&[String]>,
    ) -> Result<Vec<TargetView>, ApiError> {
        let out = self
            .call("DescribeTargetHealth", || {
                self.elb
                    .describe_target_health()
                    .target_group_arn(target_group_arn)
                    .send()
            })
            .await?;
        Ok(out
            .target_health_descriptions()
            .iter()
            .filter_map(|d| {
                let target = d.target()?;
                let id = target.id()?.to_owned();
                if ids.is_some_and(|ids| !ids.contains(&id)) {
                    return None;
                }
                let health = d.target_health();
                Some(TargetView {
                    target_id: id,
                    port: target.port().and_then(|p| u16::try_from(p).ok()),
                    state: health
                        .and_then(|h| h.state())
                        .map_or("unavailable", |s| s.as_str())
                        .to_owned(),
                    reason: health
                        .and_then(|h| h.reason())
                        .map(|r| r.as_str().to_owned()),
                    description: health.and_then(|h| h.description()).map(str::to_owned),
                })
            })
            .collect())
    }

    /// Up to `limit` stopped tasks of one deployment, with each container's exit
    /// code and reason and, for awslogs containers of `task_definition`, the last `log_lines`
    /// (none, and no CloudWatch Logs call, when it is 0).
    pub async fn stopped_tasks(
        &self,
        service: &str,
        deployment_id: &str,
        task_definition: &Value,
        limit: usize,
        log_lines: i32,
    ) -> Result<Vec<StoppedTask>, ApiError> {
        let arns = self.list_tasks(service, TaskStatus::Stopped).await?;
        let mut tasks = self.describe_tasks(&arns).await?;
        tasks.retain(|t| t.started_by.as_deref() == Some(deployment_id));
        tasks.truncate(limit);
        let mut stopped = Vec::new();
        for t in tasks {
            let task_id = t.arn.rsplit('/').next().unwrap_or(&t.arn).to_owned();
            let mut containers = Vec::new();
            for c in t.containers {
                let log = awslogs_ref(task_definition, &c.name, &task_id);
                let last_log_lines = match &log {
                    Some(l) if log_lines > 0 => self.last_log_lines(l, log_lines).await,
                    _ => Vec::new(),
                };
                containers.push(StoppedContainer {
                    name: c.name,
                    exit_code: c.exit_code,
                    reason: c.reason,
                    log,
                    last_log_lines,
                });
            }
            stopped.push(StoppedTask {
                task_id: t.arn,
                task_definition: t.task_definition,
                stopped_reason: t.stopped_reason,
                stop_code: t.stop_code,
                containers,
            });
        }
        Ok(stopped)
    }

    /// The last lines of a log stream, oldest first; none when it cannot be read (a missing
    /// stream is ordinary for a task that never started, and logs are evidence, not the verdict).
    async fn last_log_lines(&self, log: &LogRef, n: i32) -> Vec<String> {
        let answer = self
            .call("GetLogEvents", || {
                self.logs
                    .get_log_events()
                    .log_group_name(&log.group)
                    .log_stream_name(&log.stream)
                    .limit(n)
                    .start_from_head(false)
                    .send()
            })
            .await;
        match answer {
            Ok(out) => out
                .events()
                .iter()
                .filter_map(|e| e.message().map(str::to_owned))
                .collect(),
            Err(e) => {
                tracing::debug!("GetLogEvents {}/{}: {e}", log.group, log.stream);
                Vec::new()
            }
        }
    }

    /// The ARNs of a service's tasks in one desired status (ListTasks, one page of 100: more
    /// than a deployment's evidence needs). ECS refuses `startedBy` combined with any other
    /// ListTasks filter, so the caller matches the deployment in the described tasks.
    pub async fn list_tasks(
        &self,
        service: &str,
        status: TaskStatus,
    ) -> Result<Vec<String>, ApiError> {
        let out = self
            .ecs
            .list_tasks()
            .cluster(&self.cluster)
            .service_name(service)
            .desired_status(match status {
                TaskStatus::Running => DesiredStatus::Running,
                TaskStatus::Stopped => DesiredStatus::Stopped,
            })
            .send()
            .await
            .map_err(|e| call_error("ListTasks", e))?;
        Ok(out.task_arns().to_vec())
    }

    /// DescribeTasks for any tasks of the cluster (of one service or several), at most
    /// [`DESCRIBE_TASKS_MAX`] a call.
    pub async fn describe_tasks(&self, arns: &[String]) -> Result<Vec<TaskView>, ApiError> {
        let mut tasks = Vec::new();
        for chunk in arns.chunks(DESCRIBE_TASKS_MAX) {
            let out = self
                .call("DescribeTasks", || {
                    self.ecs
                        .describe_tasks()
                        .cluster(&self.cluster)
                        .set_tasks(Some(chunk.to_vec()))
                        .send()
                })
                .await?;
            tasks.extend(out.tasks().iter().map(task_view));
        }
        Ok(tasks)
    }
}

/// Which tasks ListTasks is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskStatus {
    Running,
    Stopped,
}

/// ECS's limit on tasks per DescribeTasks call.
pub const DESCRIBE_TASKS_MAX: usize = 100;

/// One task as DescribeTasks returned it, in the watch's and the evidence's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskView {
    pub arn: String,
    pub task_definition: String,
    /// The deployment that started it (`ecs-svc/...`) for a service's tasks.
    pub started_by: Option<String>,
    /// `HEALTHY`, `UNHEALTHY`, `UNKNOWN` (container health checks).
    pub health_status: Option<String>,
    /// Private IPs of its network interfaces (awsvpc): its load-balancer targets.
    pub private_ips: Vec<String>,
    pub stopped_reason: Option<String>,
    /// e.g. `EssentialContainerExited`, `TaskFailedToStart`, `ServiceSchedulerInitiated`.
    pub stop_code: Option<String>,
    pub containers: Vec<ContainerView>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerView {
    pub name: String,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
}

fn task_view(t: &aws_sdk_ecs::types::Task) -> TaskView {
    TaskView {
        arn: t.task_arn().unwrap_or_default().to_owned(),
        task_definition: t.task_definition_arn().unwrap_or_default().to_owned(),
        started_by: t.started_by().map(str::to_owned),
        health_status: t.health_status().map(|h| h.as_str().to_owned()),
        private_ips: t
            .containers()
            .iter()
            .flat_map(|c| c.network_interfaces())
            .filter_map(|n| n.private_ipv4_address().map(str::to_owned))
            .collect(),
        stopped_reason: t.stopped_reason().map(str::to_owned),
        stop_code: t.stop_code().map(|c| c.as_str().to_owned()),
        containers: t
            .containers()
            .iter()
            .map(|c| ContainerView {
                name: c.name().unwrap_or_default().to_owned(),
                exit_code: c.exit_code(),
                reason: c.reason().map(str::to_owned),
            })
            .collect(),
    }
}

/// Where an awslogs container of `def` logs for task `task_id`: stream
/// `<awslogs-stream-prefix>/<container>/<task id>` (no prefix, no predictable stream).
pub fn awslogs_ref(def: &Value, container: &str, task_id: &str) -> Option<LogRef> {
    let c = super::taskdef::containers(def)
        .into_iter()
        .find(|c| c.get("name").and_then(Value::as_str) == Some(container))?;
    let config = c.get("logConfiguration")?;
    if config.get("logDriver").and_then(Value::as_str) != Some("awslogs") {
        return None;
    }
    let option = |k: &str| config.get("options")?.get(k)?.as_str().map(str::to_owned);
    Some(LogRef {
        group: option("awslogs-group")?,
        stream: format!("{}/{container}/{task_id}", option("awslogs-stream-prefix")?),
    })
}

fn raw_error(op: &'static str, e: RawEcsError) -> ApiError {
    let (attempts, elapsed, last) = match e {
        RawEcsError::GaveUp {
            attempts,
            elapsed,
            last,
        } => (attempts, elapsed, *last),
        other => (1, Duration::ZERO, other),
    };
    ApiError {
        op,
        code: last.code().map(str::to_owned),
        message: match last {
            RawEcsError::Service { message, .. } => message,
            other => other.to_string(),
        },
        attempts,
        elapsed,
    }
}

fn time(t: Option<&aws_smithy_types::DateTime>) -> Option<SystemTime> {
    t.and_then(|t| SystemTime::try_from(*t).ok())
}

fn count(n: i32) -> u32 {
    n.max(0) as u32
}

fn service_state(s: &aws_sdk_ecs::types::Service) -> ServiceState {
    let dc = s.deployment_configuration();
    let cb = dc.and_then(|d| d.deployment_circuit_breaker());
    ServiceState {
        name: s.service_name().unwrap_or_default().to_owned(),
        arn: s.service_arn().unwrap_or_default().to_owned(),
        status: s.status().unwrap_or_default().to_owned(),
        desired_count: count(s.desired_count()),
        running_count: count(s.running_count()),
        task_definition: s.task_definition().unwrap_or_default().to_owned(),
        launch_type: s.launch_type().map(|l| l.as_str().to_owned()),
        capacity_providers: s
            .capacity_provider_strategy()
            .iter()
            .map(|c| c.capacity_provider().to_owned())
            .collect(),
        deployment_controller: s
            .deployment_controller()
            .map_or("ECS", |c| c.r#type().as_str())
            .to_owned(),
        minimum_healthy_percent: dc
            .and_then(|d| d.minimum_healthy_percent())
            .map(|p| p.max(0) as u32),
        circuit_breaker: cb.is_some_and(|c| c.enable()),
        circuit_breaker_rollback: cb.is_some_and(|c| c.rollback()),
        subnets: s
            .network_configuration()
            .and_then(|n| n.awsvpc_configuration())
            .map(|a| a.subnets().to_vec())
            .unwrap_or_default(),
        load_balancers: s
            .load_balancers()
            .iter()
            .filter_map(|l| {
                Some(LoadBalancerRef {
                    target_group_arn: l.target_group_arn()?.to_owned(),
                    container_name: l.container_name().map(str::to_owned),
                    container_port: l.container_port().and_then(|p| u16::try_from(p).ok()),
                })
            })
            .collect(),
        deployments: s
            .deployments()
            .iter()
            .map(|d| DeploymentView {
                id: d.id().unwrap_or_default().to_owned(),
                status: d.status().unwrap_or_default().to_owned(),
                task_definition: d.task_definition().unwrap_or_default().to_owned(),
                desired: count(d.desired_count()),
                running: count(d.running_count()),
                pending: count(d.pending_count()),
                failed_tasks: count(d.failed_tasks()),
                rollout_state: d.rollout_state().map(|r| r.as_str().to_owned()),
                rollout_state_reason: d.rollout_state_reason().map(str::to_owned),
                created_at: time(d.created_at()),
            })
            .collect(),
        events: s
            .events()
            .iter()
            .map(|e| ServiceEvent {
                id: e.id().unwrap_or_default().to_owned(),
                created_at: time(e.created_at()).unwrap_or(SystemTime::UNIX_EPOCH),
                message: e.message().unwrap_or_default().to_owned(),
            })
            .collect(),
        current_service_deployment: s.current_service_deployment().map(str::to_owned),
        ecs_rolls_back: super::strategy_plan::ecs_rolls_back(&super::service_deployment::settings(
            s,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn awslogs_stream_is_prefix_container_task() {
        let def = json!({"family": "f", "containerDefinitions": [
            {"name": "api", "image": "x", "logConfiguration": {"logDriver": "awslogs",
              "options": {"awslogs-group": "/ecs/f", "awslogs-stream-prefix": "ecs"}}},
            {"name": "side", "image": "y", "logConfiguration": {"logDriver": "json-file"}}]});
        assert_eq!(
            awslogs_ref(&def, "api", "abc"),
            Some(LogRef {
                group: "/ecs/f".into(),
                stream: "ecs/api/abc".into()
            })
        );
        assert_eq!(awslogs_ref(&def, "side", "abc"), None);
        assert_eq!(awslogs_ref(&def, "nope", "abc"), None);
    }
}
