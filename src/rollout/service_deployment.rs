//! The effectful shell over ECS's service-deployment API: reads one service deployment (by ARN,
//! or the service's current one) into the plain [`ServiceDeploymentSnapshot`] that
//! `deployment_verdict` judges, reads a service's strategy settings for `strategy_plan`, and
//! asks ECS to roll a deployment back (StopServiceDeployment, stopType ROLLBACK). Nothing above
//! this file sees an SDK type. Retries are the crate's (`crate::retry`, through
//! `ecs_api::retried_call`), the SDK's are off, as in `ecs_api`.

use aws_config::SdkConfig;
use aws_sdk_ecs::types::{self as sdk, StopServiceDeploymentStopType};
use aws_smithy_types::retry::RetryConfig;

use crate::retry::RetryPolicy;

use super::deployment_verdict::{
    AlarmsView, BreakerView, EcsRollback, HookView, RevisionShare, ServiceDeploymentSnapshot,
};
use super::ecs_api::{ApiError, retried_call};
use super::strategy_plan::{
    AlarmSetting, DeploymentSettings, HookSetting, LoadBalancerSetting, TrafficStep,
};

/// Reads service deployments and the settings that shape them.
#[derive(Debug, Clone)]
pub struct ServiceDeploymentReader {
    ecs: aws_sdk_ecs::Client,
    retry: RetryPolicy,
}

/// ECS's limit on ARNs per DescribeServiceDeployments call.
pub const DESCRIBE_SERVICE_DEPLOYMENTS_MAX: usize = 20;

impl ServiceDeploymentReader {
    /// The ECS endpoint comes from `config` (and `AWS_ENDPOINT_URL_ECS`); throttling, 5xx and
    /// the network are retried by `crate::retry` as `ecs_api` retries them.
    pub fn new(config: &SdkConfig) -> ServiceDeploymentReader {
        let conf = aws_sdk_ecs::config::Builder::from(config)
            .retry_config(RetryConfig::disabled())
            .build();
        ServiceDeploymentReader {
            ecs: aws_sdk_ecs::Client::from_conf(conf),
            retry: RetryPolicy::default(),
        }
    }

    /// The same reader with another retry budget (tests use short waits).
    pub fn with_retry(mut self, policy: RetryPolicy) -> ServiceDeploymentReader {
        self.retry = policy;
        self
    }

    /// Several service deployments at once (one DescribeServiceDeployments call per
    /// [`DESCRIBE_SERVICE_DEPLOYMENTS_MAX`] ARNs); ARNs ECS does not know are left out.
    pub async fn read_many(
        &self,
        arns: &[String],
    ) -> Result<Vec<ServiceDeploymentSnapshot>, ApiError> {
        let mut found = Vec::new();
        for chunk in arns.chunks(DESCRIBE_SERVICE_DEPLOYMENTS_MAX) {
            let out = retried_call(&self.retry, "DescribeServiceDeployments", || {
                self.ecs
                    .describe_service_deployments()
                    .set_service_deployment_arns(Some(chunk.to_vec()))
                    .send()
            })
            .await?;
            found.extend(out.service_deployments().iter().map(snapshot));
        }
        Ok(found)
    }

    /// One service deployment; ECS's `MISSING` failure is an error with that code.
    pub async fn read(&self, arn: &str) -> Result<ServiceDeploymentSnapshot, ApiError> {
        const OP: &str = "DescribeServiceDeployments";
        let out = retried_call(&self.retry, OP, || {
            self.ecs
                .describe_service_deployments()
                .service_deployment_arns(arn)
                .send()
        })
        .await?;
        if let Some(d) = out.service_deployments().first() {
            return Ok(snapshot(d));
        }
        let reason = out.failures().first().and_then(|f| f.reason());
        Err(ApiError::answered(
            OP,
            reason.map(str::to_owned),
            format!(
                "ECS has no service deployment {arn} ({})",
                reason.unwrap_or("no reason given")
            ),
        ))
    }

    /// The ARN of the service's current service deployment (`currentServiceDeployment`, as
    /// UpdateService and DescribeServices return it); None when ECS names none.
    pub async fn current_arn(
        &self,
        cluster: &str,
        service: &str,
    ) -> Result<Option<String>, ApiError> {
        Ok(self
            .describe_service(cluster, service)
            .await?
            .current_service_deployment()
            .map(str::to_owned))
    }

    /// The service's current service deployment, read.
    pub async fn read_current(
        &self,
        cluster: &str,
        service: &str,
    ) -> Result<Option<ServiceDeploymentSnapshot>, ApiError> {
        match self.current_arn(cluster, service).await? {
            Some(arn) => self.read(&arn).await.map(Some),
            None => Ok(None),
        }
    }

    /// The ARNs of the service's service deployments as ListServiceDeployments returns them
    /// (first page, at most `max`).
    pub async fn list_arns(
        &self,
        cluster: &str,
        service: &str,
        max: i32,
    ) -> Result<Vec<String>, ApiError> {
        let out = retried_call(&self.retry, "ListServiceDeployments", || {
            self.ecs
                .list_service_deployments()
                .cluster(cluster)
                .service(service)
                .max_results(max)
                .send()
        })
        .await?;
        Ok(out
            .service_deployments()
            .iter()
            .filter_map(|b| b.service_deployment_arn().map(str::to_owned))
            .collect())
    }

    /// The service's strategy settings and load balancers, for the plan.
    pub async fn settings(
        &self,
        cluster: &str,
        service: &str,
    ) -> Result<DeploymentSettings, ApiError> {
        Ok(settings(&self.describe_service(cluster, service).await?))
    }

    /// The service's strategy settings and the ARN of its current service deployment, from
    /// one DescribeServices (the plan reads both).
    pub async fn settings_and_current(
        &self,
        cluster: &str,
        service: &str,
    ) -> Result<(DeploymentSettings, Option<String>), ApiError> {
        let s = self.describe_service(cluster, service).await?;
        Ok((
            settings(&s),
            s.current_service_deployment().map(str::to_owned),
        ))
    }

    /// Asks ECS to roll the deployment back (StopServiceDeployment, stopType ROLLBACK).
    pub async fn stop_with_rollback(&self, arn: &str) -> Result<(), ApiError> {
        retried_call(&self.retry, "StopServiceDeployment", || {
            self.ecs
                .stop_service_deployment()
                .service_deployment_arn(arn)
                .stop_type(StopServiceDeploymentStopType::Rollback)
                .send()
        })
        .await?;
        Ok(())
    }

    async fn describe_service(
        &self,
        cluster: &str,
        service: &str,
    ) -> Result<sdk::Service, ApiError> {
        const OP: &str = "DescribeServices";
        let out = retried_call(&self.retry, OP, || {
            self.ecs
                .describe_services()
                .cluster(cluster)
                .services(service)
                .send()
        })
        .await?;
        out.services().first().cloned().ok_or_else(|| {
            ApiError::answered(
                OP,
                out.failures()
                    .first()
                    .and_then(|f| f.reason())
                    .map(str::to_owned),
                format!("ECS has no service {service} in the cluster {cluster}"),
            )
        })
    }
}

fn share(r: &sdk::ServiceRevisionSummary) -> RevisionShare {
    RevisionShare {
        arn: r.arn().unwrap_or_default().to_owned(),
        requested: r.requested_task_count(),
        running: r.running_task_count(),
        pending: r.pending_task_count(),
        production_weight: r.requested_production_traffic_weight(),
        test_weight: r.requested_test_traffic_weight(),
    }
}

fn hook(h: &sdk::DeploymentLifecycleHookDetail) -> HookView {
    HookView {
        hook_id: h.hook_id().unwrap_or_default().to_owned(),
        target_type: h
            .target_type()
            .map_or("AWS_LAMBDA", |t| t.as_str())
            .to_owned(),
        target_arn: h.target_arn().map(str::to_owned),
        status: h
            .status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        timeout_action: h.timeout_action().map(|a| a.as_str().to_owned()),
        expires_at: h.expires_at().map(|t| t.secs()),
    }
}

/// A DescribeServiceDeployments answer in plain terms.
fn snapshot(d: &sdk::ServiceDeployment) -> ServiceDeploymentSnapshot {
    ServiceDeploymentSnapshot {
        arn: d.service_deployment_arn().unwrap_or_default().to_owned(),
        status: d
            .status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        status_reason: d.status_reason().map(str::to_owned),
        lifecycle_stage: d.lifecycle_stage().map(|s| s.as_str().to_owned()),
        strategy: d
            .deployment_configuration()
            .and_then(|c| c.strategy())
            .map(|s| s.as_str().to_owned()),
        target: d.target_service_revision().map(share),
        sources: d.source_service_revisions().iter().map(share).collect(),
        rollback: d.rollback().map(|r| EcsRollback {
            reason: r.reason().map(str::to_owned),
            revision_arn: r.service_revision_arn().map(str::to_owned),
        }),
        circuit_breaker: d.deployment_circuit_breaker().map(|b| BreakerView {
            status: b
                .status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            failure_count: b.failure_count(),
            threshold: b.threshold(),
        }),
        alarms: d.alarms().map(|a| AlarmsView {
            status: a
                .status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            names: a.alarm_names().to_vec(),
            triggered: a.triggered_alarm_names().to_vec(),
        }),
        hooks: d.lifecycle_hook_details().iter().map(hook).collect(),
    }
}

/// A DescribeServices answer's strategy settings in plain terms.
pub(crate) fn settings(s: &sdk::Service) -> DeploymentSettings {
    let dc = s.deployment_configuration();
    let step = |percent: Option<f64>, minutes: Option<i32>| TrafficStep {
        percent,
        bake_minutes: minutes,
    };
    DeploymentSettings {
        strategy: dc.and_then(|c| c.strategy()).map(|s| s.as_str().to_owned()),
        bake_time_in_minutes: dc.and_then(|c| c.bake_time_in_minutes()),
        linear: dc
            .and_then(|c| c.linear_configuration())
            .map(|l| step(l.step_percent(), l.step_bake_time_in_minutes())),
        canary: dc
            .and_then(|c| c.canary_configuration())
            .map(|c| step(c.canary_percent(), c.canary_bake_time_in_minutes())),
        hooks: dc
            .map(|c| c.lifecycle_hooks())
            .unwrap_or_default()
            .iter()
            .map(|h| HookSetting {
                target_type: h
                    .target_type()
                    .map_or("AWS_LAMBDA", |t| t.as_str())
                    .to_owned(),
                target_arn: h.hook_target_arn().map(str::to_owned),
                stages: h
                    .lifecycle_stages()
                    .iter()
                    .map(|s| s.as_str().to_owned())
                    .collect(),
                timeout_minutes: h
                    .timeout_configuration()
                    .and_then(|t| t.timeout_in_minutes()),
                timeout_action: h
                    .timeout_configuration()
                    .and_then(|t| t.action())
                    .map(|a| a.as_str().to_owned()),
            })
            .collect(),
        alarms: dc.and_then(|c| c.alarms()).map(|a| AlarmSetting {
            names: a.alarm_names().to_vec(),
            enable: a.enable(),
            rollback: a.rollback(),
        }),
        circuit_breaker: dc
            .and_then(|c| c.deployment_circuit_breaker())
            .map(|b| (b.enable(), b.rollback())),
        load_balancers: s
            .load_balancers()
            .iter()
            .map(|lb| LoadBalancerSetting {
                target_group_arn: lb.target_group_arn().map(str::to_owned),
                alternate_target_group_arn: lb
                    .advanced_configuration()
                    .and_then(|a| a.alternate_target_group_arn())
                    .map(str::to_owned),
                production_listener_rule: lb
                    .advanced_configuration()
                    .and_then(|a| a.production_listener_rule())
                    .map(str::to_owned),
            })
            .collect(),
        service_connect: s
            .deployments()
            .iter()
            .any(|d| !d.service_connect_resources().is_empty()),
    }
}
