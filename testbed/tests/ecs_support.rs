//! Shared helpers for the ECS simulator tests (`ecs_sim.rs`, `ecs_sim_plan.rs` include this
//! file with `#[path]`): the real AWS SDK clients pointed at an `EcsSimulator`, and small
//! polling helpers. On its own it is an empty test target.
#![allow(dead_code)]

use aws_config::BehaviorVersion;
use aws_config::Region;
use aws_config::retry::RetryConfig;
use aws_sdk_ecs::config::Credentials;
use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, LogConfiguration, LogDriver, NetworkMode, PortMapping,
    Service,
};
use testbed::EcsSimulator;

/// ECS, ELBv2 and CloudWatch Logs clients against the simulator, retries off (so a throttled
/// answer is seen as it is).
pub struct Clients {
    pub ecs: aws_sdk_ecs::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
}

pub async fn clients(sim: &EcsSimulator) -> Clients {
    let conf = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDSIMULATOR",
            "secret",
            None,
            None,
            "test",
        ))
        .endpoint_url(sim.endpoint())
        .retry_config(RetryConfig::disabled())
        .load()
        .await;
    Clients {
        ecs: aws_sdk_ecs::Client::new(&conf),
        elb: aws_sdk_elasticloadbalancingv2::Client::new(&conf),
        logs: aws_sdk_cloudwatchlogs::Client::new(&conf),
    }
}

impl Clients {
    /// One DescribeServices poll of one service (panics on any error: a parse failure is a
    /// simulator bug).
    pub async fn poll(&self, cluster: &str, service: &str) -> Service {
        let out = self
            .ecs
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await
            .expect("DescribeServices");
        out.services()[0].clone()
    }

    /// Registers `family` with one awslogs container `app` running `image`, as the action would.
    pub async fn register(&self, family: &str, image: &str) -> String {
        let log = LogConfiguration::builder()
            .log_driver(LogDriver::Awslogs)
            .options("awslogs-group", format!("/ecs/{family}"))
            .options("awslogs-region", "us-east-1")
            .options("awslogs-stream-prefix", "ecs")
            .build()
            .unwrap();
        let out = self
            .ecs
            .register_task_definition()
            .family(family)
            .network_mode(NetworkMode::Awsvpc)
            .requires_compatibilities(Compatibility::Fargate)
            .cpu("256")
            .memory("512")
            .execution_role_arn("arn:aws:iam::123456789012:role/ecsTaskExecutionRole")
            .container_definitions(
                ContainerDefinition::builder()
                    .name("app")
                    .image(image)
                    .essential(true)
                    .port_mappings(PortMapping::builder().container_port(8080).build())
                    .log_configuration(log)
                    .build(),
            )
            .send()
            .await
            .expect("RegisterTaskDefinition");
        out.task_definition()
            .unwrap()
            .task_definition_arn()
            .unwrap()
            .to_owned()
    }

    /// UpdateService to `task_definition`; returns the new PRIMARY deployment id.
    pub async fn update(&self, cluster: &str, service: &str, task_definition: &str) -> String {
        let out = self
            .ecs
            .update_service()
            .cluster(cluster)
            .service(service)
            .task_definition(task_definition)
            .send()
            .await
            .expect("UpdateService");
        let svc = out.service().unwrap();
        let primary = &svc.deployments()[0];
        assert_eq!(primary.status(), Some("PRIMARY"));
        primary.id().unwrap().to_owned()
    }

    /// The stopped tasks of `deployment` (ListTasks STOPPED + DescribeTasks).
    pub async fn stopped_tasks(
        &self,
        cluster: &str,
        service: &str,
        deployment: &str,
    ) -> Vec<aws_sdk_ecs::types::Task> {
        let arns = self
            .ecs
            .list_tasks()
            .cluster(cluster)
            .service_name(service)
            .started_by(deployment)
            .desired_status(aws_sdk_ecs::types::DesiredStatus::Stopped)
            .send()
            .await
            .expect("ListTasks")
            .task_arns()
            .to_vec();
        if arns.is_empty() {
            return Vec::new();
        }
        self.ecs
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(arns))
            .send()
            .await
            .expect("DescribeTasks")
            .tasks()
            .to_vec()
    }

    /// Target states of a target group, via DescribeTargetHealth.
    pub async fn target_states(&self, tg: &str) -> Vec<(String, Option<String>, Option<String>)> {
        let out = self
            .elb
            .describe_target_health()
            .target_group_arn(tg)
            .send()
            .await
            .expect("DescribeTargetHealth");
        out.target_health_descriptions()
            .iter()
            .map(|d| {
                let h = d.target_health().unwrap();
                (
                    h.state().unwrap().as_str().to_owned(),
                    h.reason().map(|r| r.as_str().to_owned()),
                    h.description().map(str::to_owned),
                )
            })
            .collect()
    }

    /// Polls until the PRIMARY deployment is COMPLETED with nothing else left (at most `max`
    /// polls); returns the last snapshot and how many polls it took.
    pub async fn until_completed(&self, cluster: &str, service: &str, max: u32) -> (Service, u32) {
        for n in 1..=max {
            let s = self.poll(cluster, service).await;
            let d = s.deployments();
            if d.len() == 1 && d[0].rollout_state().map(|r| r.as_str()) == Some("COMPLETED") {
                return (s, n);
            }
        }
        panic!("{service} did not complete within {max} polls");
    }
}

/// The messages of a service's events, newest first.
pub fn events(s: &Service) -> Vec<String> {
    s.events()
        .iter()
        .filter_map(|e| e.message().map(str::to_owned))
        .collect()
}
