//! The plan, decided before any change: which services may be deployed at all (refusals),
//! what would hurt (warnings), whether a revision must be registered or one already serving is
//! the same, and what each service would do. Pure: the stage gathers the cluster, the services
//! and their serving definitions, and prints or carries out what this returns.

use std::time::SystemTime;

use serde_json::Value;

use super::assess::Watch;
use super::canonical::{diff, is_identical};
use super::ecs_api::{ClusterInfo, ServiceState};
use super::strategy_plan::StrategyRefusal;

/// Why a service cannot be deployed by this action. Every one is the user's configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the cluster {0} does not exist (in this account and region)")]
    ClusterMissing(String),
    #[error("the cluster {cluster} is {status}, not ACTIVE")]
    ClusterInactive { cluster: String, status: String },
    #[error("the service {service} does not exist in the cluster {cluster}")]
    ServiceMissing { cluster: String, service: String },
    #[error("the service {service} is {status}, not ACTIVE")]
    ServiceInactive { service: String, status: String },
    #[error(
        "the service {service} uses the {controller} deployment controller: its deployments are \
         made by {by}, not UpdateService; nothing was changed (deploying the other services alone \
         would half-deploy)"
    )]
    DeploymentController {
        service: String,
        controller: String,
        by: &'static str,
    },
    #[error(
        "the service {service} runs on EC2 container instances and the cluster {cluster} has none: \
         ECS would report \"No Container Instances were found in your cluster\""
    )]
    NoContainerInstances { cluster: String, service: String },
    /// The service's deployment strategy cannot work as it is configured.
    #[error(transparent)]
    Strategy(#[from] StrategyRefusal),
}

impl Refusal {
    pub fn hint(&self) -> &'static str {
        match self {
            Refusal::ClusterMissing(_) | Refusal::ClusterInactive { .. } => {
                "check `cluster` and `aws-region` (a cluster name is per region)"
            }
            Refusal::ServiceMissing { .. } | Refusal::ServiceInactive { .. } => {
                "check `service` and `cluster`; create the service first (this action deploys to existing services)"
            }
            Refusal::DeploymentController { .. } => {
                "deploy CODE_DEPLOY services with CodeDeploy (aws deploy create-deployment) and EXTERNAL ones with task sets"
            }
            Refusal::NoContainerInstances { .. } => {
                "register container instances (scale the cluster's Auto Scaling group) or use launch type FARGATE"
            }
            Refusal::Strategy(s) => s.hint(),
        }
    }
}

/// Whether a service places tasks on the cluster's container instances: launch type EC2, or no
/// launch type and no capacity provider strategy (the classic EC2 service).
pub fn needs_container_instances(s: &ServiceState) -> bool {
    match s.launch_type.as_deref() {
        Some(l) => l == "EC2",
        None => s.capacity_providers.is_empty(),
    }
}

/// Refusals for the cluster and each service; empty means every service can be deployed.
/// `has_instances` answers for the cluster (asked only when some service needs instances).
pub fn refusals(
    cluster_name: &str,
    cluster: Option<&ClusterInfo>,
    services: &[ServiceState],
    missing: &[String],
    has_instances: bool,
) -> Vec<Refusal> {
    match cluster {
        None => return vec![Refusal::ClusterMissing(cluster_name.to_owned())],
        Some(c) if c.status != "ACTIVE" => {
            return vec![Refusal::ClusterInactive {
                cluster: cluster_name.to_owned(),
                status: c.status.clone(),
            }];
        }
        Some(_) => {}
    }
    let mut out: Vec<Refusal> = missing
        .iter()
        .map(|s| Refusal::ServiceMissing {
            cluster: cluster_name.to_owned(),
            service: s.clone(),
        })
        .collect();
    for s in services {
        if s.status != "ACTIVE" {
            out.push(Refusal::ServiceInactive {
                service: s.name.clone(),
                status: s.status.clone(),
            });
            continue;
        }
        let by = match s.deployment_controller.as_str() {
            "CODE_DEPLOY" => Some("AWS CodeDeploy"),
            "EXTERNAL" => Some("task sets (an external controller)"),
            _ => None,
        };
        if let Some(by) = by {
            out.push(Refusal::DeploymentController {
                service: s.name.clone(),
                controller: s.deployment_controller.clone(),
                by,
            });
        }
        if needs_container_instances(s) && !has_instances {
            out.push(Refusal::NoContainerInstances {
                cluster: cluster_name.to_owned(),
                service: s.name.clone(),
            });
        }
    }
    out
}

/// What would cause downtime or fragility; warnings, not refusals.
pub fn warnings(s: &ServiceState) -> Vec<String> {
    let mut out = Vec::new();
    if s.desired_count == 1 && s.minimum_healthy_percent.is_some_and(|p| p < 100) {
        out.push(format!(
            "{}: minimumHealthyPercent is {} with one task: ECS may stop the running task before \
             its replacement is healthy (downtime); set it to 100",
            s.name,
            s.minimum_healthy_percent.unwrap_or_default()
        ));
    }
    if let Some(d) = s
        .deployments
        .iter()
        .find(|d| d.status == "PRIMARY" && d.rollout_state.as_deref() == Some("IN_PROGRESS"))
    {
        out.push(format!(
            "{}: deployment {} of {} is still in progress; this rollout replaces it, and a \
             rollback returns to {}",
            s.name,
            d.id,
            d.task_definition
                .rsplit('/')
                .next()
                .unwrap_or(&d.task_definition),
            rollback_target(s).rsplit('/').next().unwrap_or_default()
        ));
    }
    if s.subnets.len() == 1 {
        out.push(format!(
            "{}: its tasks run in one subnet ({}), so in one Availability Zone",
            s.name, s.subnets[0]
        ));
    }
    out
}

/// The revision to return to on failure: the last deployment ECS completed (what the running
/// tasks are), which differs from the service's task definition while another deployment is
/// still in progress; the service's task definition when none says COMPLETED.
pub fn rollback_target(s: &ServiceState) -> String {
    s.deployments
        .iter()
        .find(|d| d.rollout_state.as_deref() == Some("COMPLETED"))
        .map_or_else(|| s.task_definition.clone(), |d| d.task_definition.clone())
}

/// Failed tasks of our deployment that fail the rollout: ECS's own circuit-breaker threshold
/// (half the desired count, 3 to 200). When the service's circuit breaker rolls back by
/// itself, two more, so ECS acts first and the report says so instead of racing it.
pub fn failed_task_threshold(s: &ServiceState) -> u32 {
    let ecs = s.desired_count.div_ceil(2).clamp(3, 200);
    if s.circuit_breaker && s.circuit_breaker_rollback {
        ecs + 2
    } else {
        ecs
    }
}

/// The watch over a service's PRIMARY deployment as `state` shows it: the one UpdateService
/// just started, or, when nothing was changed, the one already there (a re-run still proves
/// health). `previous` is where a rollback would return; `None` when there is nowhere to go.
pub fn primary_watch(
    state: &ServiceState,
    task_definition: &str,
    previous: Option<String>,
    now: SystemTime,
    deadline: SystemTime,
) -> Watch {
    let primary = state.deployments.iter().find(|d| d.status == "PRIMARY");
    Watch {
        our_deployment_id: primary.map(|d| d.id.clone()).unwrap_or_default(),
        our_task_definition: task_definition.to_owned(),
        previous_task_definition: previous,
        started_at: primary.and_then(|d| d.created_at).unwrap_or(now),
        deadline,
        failed_task_threshold: failed_task_threshold(state),
    }
}

/// One revision the services will run.
#[derive(Debug, Clone, PartialEq)]
pub enum Registration {
    /// A definition identical to the rendered one is already registered (a service serves
    /// it, or it is the family's latest revision, as after a re-run): reuse its ARN.
    Reuse(String),
    /// Register the rendered request (once, whatever the number of services that run it).
    Register(Value),
}

impl Registration {
    /// The family the revision belongs to (from the rendered request, or the reused ARN).
    pub fn family(&self) -> &str {
        match self {
            Registration::Reuse(arn) => family_of_arn(arn),
            Registration::Register(request) => request["family"].as_str().unwrap_or_default(),
        }
    }
}

/// `family` from `arn:...:task-definition/family:7` (or `family:7`).
pub fn family_of_arn(arn: &str) -> &str {
    let short = arn.rsplit('/').next().unwrap_or(arn);
    short.rsplit_once(':').map_or(short, |(family, _)| family)
}

/// One service's part of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePlan {
    pub service: String,
    /// The family of the revision it gets (its own, or the `task-definition` file's).
    pub family: String,
    /// The service's task definition now (what the diff starts from).
    pub serving: String,
    /// Where a rollback returns: see [`rollback_target`].
    pub rollback_to: String,
    /// Index into [`Plan::registrations`]: the revision this service gets.
    pub registration: usize,
    /// Whether this service gets an UpdateService call.
    pub update: bool,
    /// The dry-run diff from its serving revision to the rendered one.
    pub diff: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// One per distinct rendered definition (normally one per family), in service order.
    pub registrations: Vec<Registration>,
    pub services: Vec<ServicePlan>,
}

impl Plan {
    pub fn nothing_to_do(&self) -> bool {
        self.services.iter().all(|s| !s.update)
    }

    /// Whether anything would be registered.
    pub fn registers(&self) -> bool {
        self.registrations
            .iter()
            .any(|r| matches!(r, Registration::Register(_)))
    }
}

/// One service as the stage observed it, with the definition it serves (as described, with
/// tags) and the one rendered for it.
#[derive(Debug, Clone, Copy)]
pub struct ServiceInput<'a> {
    pub state: &'a ServiceState,
    pub serving: &'a Value,
    pub rendered: &'a Value,
}

/// Decide per service: it is updated when its serving definition differs from the one rendered
/// for it, or always with `force`. Services whose rendered definitions are identical share one
/// registration; a registration is a reuse when a definition in `known` (ARN, definition as
/// described: the serving ones and each family's latest revision) is identical to it.
pub fn decide(inputs: &[ServiceInput<'_>], known: &[(&str, &Value)], force: bool) -> Plan {
    let mut rendered: Vec<&Value> = Vec::new();
    let mut registrations = Vec::new();
    let mut services = Vec::new();
    for input in inputs {
        let index = match rendered
            .iter()
            .position(|r| is_identical(r, input.rendered))
        {
            Some(i) => i,
            None => {
                rendered.push(input.rendered);
                let reuse = known
                    .iter()
                    .find(|(_, def)| is_identical(input.rendered, def))
                    .map(|(arn, _)| (*arn).to_owned());
                registrations.push(match reuse {
                    Some(arn) => Registration::Reuse(arn),
                    None => Registration::Register(input.rendered.clone()),
                });
                registrations.len() - 1
            }
        };
        let same = is_identical(input.rendered, input.serving);
        services.push(ServicePlan {
            service: input.state.name.clone(),
            family: input.rendered["family"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            serving: input.state.task_definition.clone(),
            rollback_to: rollback_target(input.state),
            registration: index,
            update: force || !same,
            diff: if same {
                Vec::new()
            } else {
                diff(input.serving, input.rendered)
            },
        });
    }
    Plan {
        registrations,
        services,
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
pub(crate) mod tests;
