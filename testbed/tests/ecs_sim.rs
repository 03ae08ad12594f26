//! The ECS simulator's deployment scenarios, driven through the real `aws-sdk-ecs`,
//! `aws-sdk-elasticloadbalancingv2` and `aws-sdk-cloudwatchlogs` clients: every answer must
//! parse, and each scenario must progress poll by poll as `testbed::ecs` documents.

#[path = "ecs_support.rs"]
mod support;

use support::{clients, events};
use testbed::ecs::{CIRCUIT_BREAKER_REASON, ESSENTIAL_EXITED};
use testbed::{EcsSimulator, Scenario, ServiceSeed};

const IMAGE_V2: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:2222222222222222222222222222222222222222222222222222222222222222";

fn seed(scenario: Scenario) -> ServiceSeed {
    ServiceSeed {
        cluster: "prod".into(),
        service: "web".into(),
        scenario,
        ..ServiceSeed::default()
    }
}

fn rollout(s: &aws_sdk_ecs::types::Service) -> Vec<(String, String, i32, i32, i32)> {
    s.deployments()
        .iter()
        .map(|d| {
            (
                d.status().unwrap().to_owned(),
                d.rollout_state().unwrap().as_str().to_owned(),
                d.running_count(),
                d.pending_count(),
                d.failed_tasks(),
            )
        })
        .collect()
}

#[tokio::test]
async fn healthy_rolling_update_progresses_poll_by_poll() {
    let sim = EcsSimulator::start().await.unwrap();
    let seeded = sim.seed_service(seed(Scenario::HealthyRolling)).unwrap();
    let c = clients(&sim).await;
    let tg = &seeded.target_group_arns[0];

    // The seeded service: one COMPLETED deployment, one healthy target, ECS's read-only fields.
    let td = c
        .ecs
        .describe_task_definition()
        .task_definition("web")
        .send()
        .await
        .unwrap();
    let td = td.task_definition().unwrap();
    assert_eq!(
        td.task_definition_arn(),
        Some(seeded.task_definition_arn.as_str())
    );
    assert_eq!(td.revision(), 1);
    assert!(td.registered_at().is_some() && td.registered_by().is_some());
    assert!(!td.requires_attributes().is_empty());
    let clusters = c
        .ecs
        .describe_clusters()
        .clusters("prod")
        .send()
        .await
        .unwrap();
    assert_eq!(clusters.clusters()[0].status(), Some("ACTIVE"));
    assert_eq!(
        c.target_states(tg).await,
        vec![("healthy".into(), None, None)]
    );

    let new_td = c.register("web", IMAGE_V2).await;
    assert!(new_td.ends_with(":task-definition/web:2"), "{new_td}");
    let id = c.update("prod", "web", &new_td).await;
    assert!(id.starts_with("ecs-svc/") && id.len() == 8 + 19, "{id}");

    let s = c.poll("prod", "web").await;
    assert_eq!(
        rollout(&s),
        vec![
            ("PRIMARY".into(), "IN_PROGRESS".into(), 0, 1, 0),
            ("ACTIVE".into(), "COMPLETED".into(), 1, 0, 0)
        ]
    );
    assert!(events(&s)[0].starts_with("(service web) has started 1 tasks: (task "));
    let s = c.poll("prod", "web").await;
    assert_eq!(
        rollout(&s)[0],
        ("PRIMARY".into(), "IN_PROGRESS".into(), 1, 0, 0)
    );
    let states = c.target_states(tg).await;
    assert_eq!(
        states[1],
        (
            "initial".into(),
            Some("Elb.RegistrationInProgress".into()),
            Some("Target registration is in progress".into())
        )
    );
    let s = c.poll("prod", "web").await;
    assert_eq!(
        rollout(&s)[1],
        ("ACTIVE".into(), "COMPLETED".into(), 0, 0, 0)
    );
    assert!(
        events(&s)
            .iter()
            .any(|e| e.starts_with("(service web) has stopped 1 running tasks: (task "))
    );
    assert!(
        events(&s)
            .iter()
            .any(|e| e.starts_with("(service web) deregistered 1 targets in (target-group "))
    );
    let states: Vec<String> = c.target_states(tg).await.into_iter().map(|t| t.0).collect();
    assert_eq!(states, ["draining", "healthy"]);
    let s = c.poll("prod", "web").await;
    assert_eq!(
        rollout(&s),
        vec![("PRIMARY".into(), "COMPLETED".into(), 1, 0, 0)]
    );
    assert_eq!(s.deployments()[0].id(), Some(id.as_str()));
    assert_eq!(events(&s)[0], "(service web) has reached a steady state.");
    assert_eq!(
        events(&s)[1],
        format!("(service web) (deployment {id}) deployment completed.")
    );
    assert_eq!(c.target_states(tg).await.len(), 1);
    assert_eq!(s.task_definition(), Some(new_td.as_str()));

    let view = sim.service("prod", "web").unwrap();
    assert_eq!(view.task_definition, new_td);
    assert_eq!(view.polls, 4);
    assert_eq!(view.failure_visible_unix_ms, None);
    assert_eq!(sim.calls("RegisterTaskDefinition"), 1);
    assert_eq!(sim.calls("UpdateService"), 1);
    assert_eq!(sim.calls("DescribeServices"), 4);
    assert_eq!(sim.calls("DescribeTargetHealth"), 4);
}

#[tokio::test]
async fn crash_loop_stops_tasks_with_exit_code_and_logs_then_rollback_heals() {
    let sim = EcsSimulator::start().await.unwrap();
    let seeded = sim.seed_service(seed(Scenario::CrashLoop)).unwrap();
    let c = clients(&sim).await;
    let new_td = c.register("web", IMAGE_V2).await;
    let id = c.update("prod", "web", &new_td).await;
    let mut s = c.poll("prod", "web").await;
    for _ in 1..8 {
        s = c.poll("prod", "web").await;
    }
    // Circuit breaker off: still IN_PROGRESS after 8 polls; tasks failed on polls 3, 5 and 7.
    let (status, state, _, _, failed) = rollout(&s)[0].clone();
    assert_eq!(
        (status.as_str(), state.as_str(), failed),
        ("PRIMARY", "IN_PROGRESS", 3)
    );
    let stopped = c.stopped_tasks("prod", "web", &id).await;
    assert_eq!(stopped.len(), 3);
    let t = &stopped[0];
    assert_eq!(t.stopped_reason(), Some(ESSENTIAL_EXITED));
    assert_eq!(
        t.stop_code().map(|c| c.as_str()),
        Some("EssentialContainerExited")
    );
    assert_eq!(t.containers()[0].exit_code(), Some(1));
    assert_eq!(t.task_definition_arn(), Some(new_td.as_str()));
    assert!(t.stopped_at().is_some() && t.started_at().is_some());
    let task_id = t.task_arn().unwrap().rsplit('/').next().unwrap().to_owned();
    let logs = c
        .logs
        .get_log_events()
        .log_group_name("/ecs/web")
        .log_stream_name(format!("ecs/app/{task_id}"))
        .limit(2)
        .send()
        .await
        .unwrap();
    let lines: Vec<&str> = logs.events().iter().filter_map(|e| e.message()).collect();
    assert_eq!(
        lines,
        [
            "Loading configuration from the environment",
            "Error: DATABASE_URL is not set"
        ]
    );
    assert!(sim.failure_visible_at("prod", "web").is_some());

    // Rolling back to the seeded revision heals, whatever the scenario.
    let back = c.update("prod", "web", &seeded.task_definition_arn).await;
    let (s, polls) = c.until_completed("prod", "web", 10).await;
    assert_eq!(polls, 4);
    assert_eq!(s.deployments()[0].id(), Some(back.as_str()));
    assert_eq!(
        s.task_definition(),
        Some(seeded.task_definition_arn.as_str())
    );
    assert_eq!(s.running_count(), 1);
}

#[tokio::test]
async fn cannot_pull_stops_tasks_before_they_run() {
    let sim = EcsSimulator::start().await.unwrap();
    sim.seed_service(seed(Scenario::CannotPull)).unwrap();
    let c = clients(&sim).await;
    let new_td = c.register("web", IMAGE_V2).await;
    let id = c.update("prod", "web", &new_td).await;
    let s = c.poll("prod", "web").await;
    assert_eq!(rollout(&s)[0].3, 1);
    let s = c.poll("prod", "web").await;
    assert_eq!(
        rollout(&s)[0],
        ("PRIMARY".into(), "IN_PROGRESS".into(), 0, 1, 1)
    );
    let t = &c.stopped_tasks("prod", "web", &id).await[0];
    let want = format!(
        "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref {IMAGE_V2}: {IMAGE_V2}: not found"
    );
    assert_eq!(t.stopped_reason(), Some(want.as_str()));
    assert_eq!(t.stop_code().map(|c| c.as_str()), Some("TaskFailedToStart"));
    assert_eq!(t.containers()[0].reason(), Some(want.as_str()));
    assert_eq!(t.containers()[0].exit_code(), None);
    assert!(t.started_at().is_none());
}

#[tokio::test]
async fn unhealthy_targets_then_elb_replaces_tasks() {
    let sim = EcsSimulator::start().await.unwrap();
    let seeded = sim.seed_service(seed(Scenario::TargetsUnhealthy)).unwrap();
    let c = clients(&sim).await;
    let tg = &seeded.target_group_arns[0];
    let new_td = c.register("web", IMAGE_V2).await;
    let id = c.update("prod", "web", &new_td).await;
    for _ in 0..2 {
        c.poll("prod", "web").await;
    }
    assert!(sim.failure_visible_at("prod", "web").is_none());
    let s = c.poll("prod", "web").await;
    assert!(sim.failure_visible_at("prod", "web").is_some());
    let unhealthy = (
        "unhealthy".to_owned(),
        Some("Target.ResponseCodeMismatch".to_owned()),
        Some("Health checks failed with these codes: [500]".to_owned()),
    );
    assert_eq!(c.target_states(tg).await[1], unhealthy);
    let e = &events(&s)[0];
    assert!(e.starts_with("(service web) (task ") && e.contains(&format!("(port 8080) is unhealthy in (target-group {tg}) due to (reason Health checks failed with these codes: [500]).")), "{e}");
    c.poll("prod", "web").await;
    assert_eq!(c.target_states(tg).await[1], unhealthy);
    let s = c.poll("prod", "web").await;
    assert_eq!(
        rollout(&s)[0],
        ("PRIMARY".into(), "IN_PROGRESS".into(), 0, 1, 1)
    );
    let t = &c.stopped_tasks("prod", "web", &id).await[0];
    assert_eq!(
        t.stopped_reason(),
        Some(format!("Task failed ELB health checks in (target-group {tg})").as_str())
    );
    assert_eq!(
        t.stop_code().map(|c| c.as_str()),
        Some("ServiceSchedulerInitiated")
    );
}

#[tokio::test]
async fn circuit_breaker_rolls_back_by_itself() {
    let sim = EcsSimulator::start().await.unwrap();
    let seeded = sim
        .seed_service(seed(Scenario::CircuitBreakerRollback))
        .unwrap();
    let c = clients(&sim).await;
    let first = c.poll("prod", "web").await.deployments()[0]
        .id()
        .unwrap()
        .to_owned();
    let new_td = c.register("web", IMAGE_V2).await;
    let id = c.update("prod", "web", &new_td).await;
    let mut s = c.poll("prod", "web").await;
    for _ in 1..7 {
        s = c.poll("prod", "web").await;
    }
    // Poll 7: the third failure trips the breaker; a new PRIMARY runs the old revision.
    let d = s.deployments();
    assert_eq!(d.len(), 3);
    assert_eq!(
        d[0].task_definition(),
        Some(seeded.task_definition_arn.as_str())
    );
    assert_ne!(d[0].id(), Some(id.as_str()));
    assert_eq!(
        d[0].rollout_state_reason(),
        Some(
            format!("ECS deployment circuit breaker: rolling back to deploymentId {first}.")
                .as_str()
        )
    );
    assert_eq!(d[1].id(), Some(id.as_str()));
    assert_eq!(d[1].rollout_state().unwrap().as_str(), "FAILED");
    assert_eq!(d[1].rollout_state_reason(), Some(CIRCUIT_BREAKER_REASON));
    assert_eq!(d[1].failed_tasks(), 3);
    let ev = events(&s);
    assert!(
        ev[0].starts_with("(service web) has started 1 tasks: (task "),
        "{}",
        ev[0]
    );
    assert_eq!(
        ev[1],
        format!("(service web) rolling back to deployment {first}.")
    );
    assert_eq!(
        ev[2],
        format!("(service web) (deployment {id}) deployment failed: tasks failed to start.")
    );
    let (s, polls) = c.until_completed("prod", "web", 10).await;
    assert_eq!(polls, 3);
    assert_eq!(
        s.task_definition(),
        Some(seeded.task_definition_arn.as_str())
    );
    assert!(s.deployments().iter().all(|d| d.id() != Some(id.as_str())));
}

#[tokio::test]
async fn never_settles_keeps_one_of_two_running() {
    let sim = EcsSimulator::start().await.unwrap();
    sim.seed_service(ServiceSeed {
        desired_count: 2,
        ..seed(Scenario::NeverSettles)
    })
    .unwrap();
    let c = clients(&sim).await;
    let new_td = c.register("web", IMAGE_V2).await;
    c.update("prod", "web", &new_td).await;
    let mut s = c.poll("prod", "web").await;
    for _ in 0..20 {
        s = c.poll("prod", "web").await;
    }
    assert_eq!(
        rollout(&s)[0],
        ("PRIMARY".into(), "IN_PROGRESS".into(), 1, 1, 0)
    );
    assert_eq!(s.deployments().len(), 2);
    assert!(sim.failure_visible_at("prod", "web").is_none());
}

#[tokio::test]
async fn service_linked_role_missing_starts_nothing() {
    let sim = EcsSimulator::start().await.unwrap();
    sim.seed_service(seed(Scenario::ServiceLinkedRoleMissing))
        .unwrap();
    let c = clients(&sim).await;
    let new_td = c.register("web", IMAGE_V2).await;
    let id = c.update("prod", "web", &new_td).await;
    let s = c.poll("prod", "web").await;
    assert_eq!(
        events(&s)[0],
        "(service web) was unable to assume the service linked role. Please verify that the ECS service linked role exists."
    );
    for _ in 0..5 {
        c.poll("prod", "web").await;
    }
    let s = c.poll("prod", "web").await;
    assert_eq!(
        rollout(&s)[0],
        ("PRIMARY".into(), "IN_PROGRESS".into(), 0, 0, 0)
    );
    let slr = events(&s)
        .iter()
        .filter(|e| e.contains("service linked role"))
        .count();
    assert_eq!(slr, 2, "repeated every 5 polls");
    let tasks = c
        .ecs
        .list_tasks()
        .cluster("prod")
        .started_by(&id)
        .send()
        .await
        .unwrap();
    assert!(tasks.task_arns().is_empty());
    assert_eq!(s.running_count(), 1, "the old deployment keeps serving");
}

#[tokio::test]
async fn deployment_already_in_progress_is_visible_then_superseded() {
    let sim = EcsSimulator::start().await.unwrap();
    let seeded = sim
        .seed_service(seed(Scenario::DeploymentInProgress))
        .unwrap();
    let c = clients(&sim).await;
    let s = c.poll("prod", "web").await;
    let r = rollout(&s);
    assert_eq!(r.len(), 2);
    assert_eq!(
        (r[0].0.as_str(), r[0].1.as_str()),
        ("PRIMARY", "IN_PROGRESS")
    );
    assert_eq!((r[1].0.as_str(), r[1].1.as_str()), ("ACTIVE", "COMPLETED"));
    assert_eq!(
        s.task_definition(),
        seeded.in_progress_task_definition_arn.as_deref()
    );
    let new_td = c.register("web", IMAGE_V2).await;
    let id = c.update("prod", "web", &new_td).await;
    let (s, _) = c.until_completed("prod", "web", 10).await;
    assert_eq!(s.deployments()[0].id(), Some(id.as_str()));
    assert_eq!(s.task_definition(), Some(new_td.as_str()));
}

#[tokio::test]
async fn multi_container_crash_blames_the_changed_container() {
    use aws_sdk_ecs::types::{ContainerDefinition, LogConfiguration, LogDriver};
    let sim = EcsSimulator::start().await.unwrap();
    let def = serde_json::json!({
        "family": "shop",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "512",
        "memory": "1024",
        "containerDefinitions": [
            {"name": "envoy", "image": "envoyproxy/envoy:v1.31", "essential": false},
            {"name": "app", "image": "example/shop:v1", "essential": true,
             "logConfiguration": {"logDriver": "awslogs", "options": {
                 "awslogs-group": "/svc/shop", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "web"}}}
        ]
    });
    sim.seed_service(ServiceSeed {
        service: "shop".into(),
        task_definition: Some(def),
        container_port: 8080,
        scenario: Scenario::CrashLoop,
        ..ServiceSeed::default()
    })
    .unwrap();
    let c = clients(&sim).await;
    let log = LogConfiguration::builder()
        .log_driver(LogDriver::Awslogs)
        .options("awslogs-group", "/svc/shop")
        .options("awslogs-region", "us-east-1")
        .options("awslogs-stream-prefix", "web")
        .build()
        .unwrap();
    let out = c
        .ecs
        .register_task_definition()
        .family("shop")
        .network_mode(aws_sdk_ecs::types::NetworkMode::Awsvpc)
        .requires_compatibilities(aws_sdk_ecs::types::Compatibility::Fargate)
        .cpu("512")
        .memory("1024")
        .container_definitions(
            ContainerDefinition::builder()
                .name("envoy")
                .image("envoyproxy/envoy:v1.31")
                .essential(false)
                .build(),
        )
        .container_definitions(
            ContainerDefinition::builder()
                .name("app")
                .image("example/shop:v2")
                .essential(true)
                .log_configuration(log)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let td = out
        .task_definition()
        .unwrap()
        .task_definition_arn()
        .unwrap()
        .to_owned();
    let id = c.update("default", "shop", &td).await;
    for _ in 0..3 {
        c.poll("default", "shop").await;
    }
    let t = &c.stopped_tasks("default", "shop", &id).await[0];
    let codes: Vec<(&str, Option<i32>)> = t
        .containers()
        .iter()
        .map(|c| (c.name().unwrap(), c.exit_code()))
        .collect();
    assert_eq!(codes, [("envoy", Some(0)), ("app", Some(1))]);
    let svc = c.poll("default", "shop").await;
    assert_eq!(svc.load_balancers()[0].container_name(), Some("app"));
    let task_id = t.task_arn().unwrap().rsplit('/').next().unwrap();
    let lines = sim.log_messages("/svc/shop", &format!("web/app/{task_id}"));
    assert_eq!(
        lines.last().map(String::as_str),
        Some("Error: DATABASE_URL is not set")
    );
}
