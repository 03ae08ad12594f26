//! The ECS simulator's answers for the rollout's plan checks and error paths, through the real
//! SDK clients: missing/inactive clusters and services, CODE_DEPLOY and EXTERNAL controllers,
//! an EC2 service on a cluster without container instances, throttling, unknown task
//! definitions, target groups and log streams; plus the admin HTTP API and the call counters.

#[path = "ecs_support.rs"]
mod support;

use std::time::{Duration, Instant};

use aws_sdk_ecs::error::ProvideErrorMetadata;
use aws_sdk_ecs::operation::describe_services::DescribeServicesError;
use aws_sdk_ecs::operation::update_service::UpdateServiceError;
use serde_json::json;
use support::{clients, events};
use testbed::{ClusterSeed, EcsSimulator, Scenario, ServiceSeed, ServiceView};

#[tokio::test]
async fn missing_cluster_and_service_and_inactive_service() {
    let sim = EcsSimulator::start().await.unwrap();
    sim.seed_service(ServiceSeed {
        cluster: "prod".into(),
        service: "web".into(),
        ..Default::default()
    })
    .unwrap();
    sim.seed_service(ServiceSeed {
        cluster: "prod".into(),
        service: "old".into(),
        status: "INACTIVE".into(),
        ..Default::default()
    })
    .unwrap();
    let c = clients(&sim).await;

    let err = c
        .ecs
        .describe_services()
        .cluster("nope")
        .services("web")
        .send()
        .await
        .unwrap_err();
    let err = err.into_service_error();
    assert!(
        matches!(err, DescribeServicesError::ClusterNotFoundException(_)),
        "{err:?}"
    );
    assert_eq!(err.message(), Some("Cluster not found."));

    let out = c
        .ecs
        .describe_services()
        .cluster("prod")
        .services("web")
        .services("ghost")
        .services("old")
        .send()
        .await
        .unwrap();
    let names: Vec<_> = out
        .services()
        .iter()
        .map(|s| (s.service_name().unwrap(), s.status().unwrap()))
        .collect();
    assert_eq!(names, [("web", "ACTIVE"), ("old", "INACTIVE")]);
    assert_eq!(out.failures()[0].reason(), Some("MISSING"));
    assert_eq!(
        out.failures()[0].arn(),
        Some("arn:aws:ecs:us-east-1:123456789012:service/prod/ghost")
    );

    let clusters = c
        .ecs
        .describe_clusters()
        .clusters("prod")
        .clusters("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(clusters.clusters().len(), 1);
    assert_eq!(clusters.failures()[0].reason(), Some("MISSING"));

    let err = c
        .ecs
        .update_service()
        .cluster("prod")
        .service("old")
        .force_new_deployment(true)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        err.into_service_error(),
        UpdateServiceError::ServiceNotActiveException(_)
    ));
    let err = c
        .ecs
        .update_service()
        .cluster("prod")
        .service("ghost")
        .force_new_deployment(true)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        err.into_service_error(),
        UpdateServiceError::ServiceNotFoundException(_)
    ));
    let err = c
        .ecs
        .update_service()
        .cluster("prod")
        .service("web")
        .task_definition("web:99")
        .send()
        .await
        .unwrap_err();
    let err = err.into_service_error();
    assert!(
        matches!(err, UpdateServiceError::InvalidParameterException(_)),
        "{err:?}"
    );
    assert_eq!(err.message(), Some("TaskDefinition not found."));
    let err = c
        .ecs
        .describe_task_definition()
        .task_definition("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.into_service_error().code(), Some("ClientException"));
}

#[tokio::test]
async fn deployment_controllers_other_than_ecs_refuse_task_definition_updates() {
    let sim = EcsSimulator::start().await.unwrap();
    for (name, controller) in [("blue-green", "CODE_DEPLOY"), ("external", "EXTERNAL")] {
        let s = sim
            .seed_service(ServiceSeed {
                cluster: "prod".into(),
                service: name.into(),
                deployment_controller: controller.into(),
                ..Default::default()
            })
            .unwrap();
        let c = clients(&sim).await;
        let svc = c.poll("prod", name).await;
        assert_eq!(
            svc.deployment_controller().unwrap().r#type().as_str(),
            controller
        );
        let err = c
            .ecs
            .update_service()
            .cluster("prod")
            .service(name)
            .task_definition(&s.task_definition_arn)
            .send()
            .await
            .unwrap_err();
        let err = err.into_service_error();
        assert!(matches!(
            err,
            UpdateServiceError::InvalidParameterException(_)
        ));
        assert!(
            err.message()
                .unwrap()
                .contains(&format!("with a {controller} deployment controller"))
        );
    }
}

#[tokio::test]
async fn ec2_service_on_a_cluster_without_container_instances() {
    let sim = EcsSimulator::start().await.unwrap();
    sim.seed_cluster(ClusterSeed {
        name: "ec2".into(),
        container_instances: 0,
        capacity_providers: vec![],
        ..Default::default()
    });
    sim.seed_service(ServiceSeed {
        cluster: "ec2".into(),
        service: "api".into(),
        launch_type: Some("EC2".into()),
        ..Default::default()
    })
    .unwrap();
    let c = clients(&sim).await;
    let cl = c
        .ecs
        .describe_clusters()
        .clusters("ec2")
        .send()
        .await
        .unwrap();
    assert_eq!(cl.clusters()[0].registered_container_instances_count(), 0);
    assert!(cl.clusters()[0].capacity_providers().is_empty());
    let ci = c
        .ecs
        .list_container_instances()
        .cluster("ec2")
        .send()
        .await
        .unwrap();
    assert!(ci.container_instance_arns().is_empty());
    let s = c.poll("ec2", "api").await;
    assert_eq!(s.launch_type().map(|l| l.as_str()), Some("EC2"));
    assert_eq!(s.running_count(), 0);
    let no_instances = "(service api) was unable to place a task because no container instance met all of its requirements. \
        Reason: No Container Instances were found in your cluster. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.";
    assert_eq!(events(&s)[0], no_instances);
    // Same revision without force: no new deployment (as ECS); with force: a new one.
    let before = s.deployments()[0].id().unwrap().to_owned();
    assert_eq!(c.update("ec2", "api", "api:1").await, before);
    let out = c
        .ecs
        .update_service()
        .cluster("ec2")
        .service("api")
        .force_new_deployment(true)
        .send()
        .await
        .unwrap();
    assert_ne!(
        out.service().unwrap().deployments()[0].id(),
        Some(before.as_str())
    );
    let s = c.poll("ec2", "api").await;
    assert_eq!(events(&s)[0], no_instances);
    assert_eq!(
        s.deployments()[0].rollout_state().unwrap().as_str(),
        "IN_PROGRESS"
    );

    // Registered instances make the same kind of service place its tasks.
    sim.seed_service(ServiceSeed {
        cluster: "ec2".into(),
        service: "worker".into(),
        launch_type: Some("EC2".into()),
        cluster_container_instances: Some(2),
        load_balancer: false,
        ..Default::default()
    })
    .unwrap();
    let ci = c
        .ecs
        .list_container_instances()
        .cluster("ec2")
        .send()
        .await
        .unwrap();
    assert_eq!(ci.container_instance_arns().len(), 2);
    assert_eq!(c.poll("ec2", "worker").await.running_count(), 1);
}

#[tokio::test]
async fn throttling_answers_the_first_calls_then_proceeds() {
    let sim = EcsSimulator::start().await.unwrap();
    sim.seed_service(ServiceSeed {
        scenario: Scenario::Throttling { first_n: 2 },
        ..Default::default()
    })
    .unwrap();
    let c = clients(&sim).await;
    let clock = sim.clock();
    for _ in 0..2 {
        let err = c
            .ecs
            .describe_services()
            .services("web")
            .send()
            .await
            .unwrap_err();
        let raw = err.raw_response().map(|r| r.status().as_u16());
        let err = err.into_service_error();
        assert_eq!(err.code(), Some("ThrottlingException"));
        assert_eq!(err.message(), Some("Rate exceeded"));
        assert_eq!(raw, Some(400));
    }
    assert_eq!(sim.clock(), clock, "throttled calls do not move time");
    let s = c.poll("default", "web").await;
    assert_eq!(s.running_count(), 1);
    assert_eq!(sim.clock(), clock + 15);
    assert_eq!(sim.calls("DescribeServices"), 3);
    // New revisions under Throttling deploy healthily.
    let td = c.register("web", "example/app:v2").await;
    c.update("default", "web", &td).await;
    let (s, polls) = c.until_completed("default", "web", 10).await;
    assert_eq!((s.task_definition(), polls), (Some(td.as_str()), 4));
}

#[tokio::test]
async fn unknown_target_group_log_stream_and_operation() {
    let sim = EcsSimulator::start().await.unwrap();
    let seeded = sim.seed_service(ServiceSeed::default()).unwrap();
    let c = clients(&sim).await;
    let err = c
        .elb
        .describe_target_health()
        .target_group_arn("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/x/0")
        .send()
        .await
        .unwrap_err();
    let err = err.into_service_error();
    assert!(err.is_target_group_not_found_exception(), "{err:?}");
    let err = c
        .logs
        .get_log_events()
        .log_group_name("/ecs/none")
        .log_stream_name("x")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_resource_not_found_exception());
    // A filter by target id and port.
    let tg = &seeded.target_group_arns[0];
    let all = c
        .elb
        .describe_target_health()
        .target_group_arn(tg)
        .send()
        .await
        .unwrap();
    let target = all.target_health_descriptions()[0]
        .target()
        .unwrap()
        .clone();
    assert_eq!(target.port(), Some(8080));
    let one = c
        .elb
        .describe_target_health()
        .target_group_arn(tg)
        .targets(target.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(one.target_health_descriptions().len(), 1);
    // The seeded task is RUNNING under the ECS scheduler's deployment id.
    let arns = c
        .ecs
        .list_tasks()
        .cluster("default")
        .service_name("web")
        .send()
        .await
        .unwrap();
    let tasks = c
        .ecs
        .describe_tasks()
        .cluster("default")
        .tasks(&arns.task_arns()[0])
        .tasks("ghost")
        .send()
        .await
        .unwrap();
    let t = &tasks.tasks()[0];
    assert_eq!(t.last_status(), Some("RUNNING"));
    assert!(t.started_by().unwrap().starts_with("ecs-svc/"));
    assert_eq!(
        t.containers()[0].network_interfaces()[0].private_ipv4_address(),
        target.id()
    );
    assert_eq!(tasks.failures()[0].reason(), Some("MISSING"));
    let logs = c
        .logs
        .get_log_events()
        .log_group_name("/ecs/web")
        .log_stream_name(format!(
            "ecs/app/{}",
            t.task_arn().unwrap().rsplit('/').next().unwrap()
        ))
        .start_from_head(true)
        .send()
        .await
        .unwrap();
    assert_eq!(
        logs.events()[0].message(),
        Some("Listening on 0.0.0.0:8080")
    );
}

#[tokio::test]
async fn two_services_in_one_call_and_call_rates() {
    let sim = EcsSimulator::start().await.unwrap();
    for name in ["a", "b"] {
        sim.seed_service(ServiceSeed {
            service: name.into(),
            ..Default::default()
        })
        .unwrap();
    }
    let c = clients(&sim).await;
    let td_a = c.register("a", "example/a:v2").await;
    let td_b = c.register("b", "example/b:v2").await;
    c.update("default", "a", &td_a).await;
    c.update("default", "b", &td_b).await;
    let from = Instant::now();
    for _ in 0..4 {
        c.ecs
            .describe_services()
            .services("a")
            .services("b")
            .send()
            .await
            .unwrap();
    }
    let to = Instant::now();
    assert_eq!(sim.service("default", "a").unwrap().task_definition, td_a);
    for name in ["a", "b"] {
        let v = sim.service("default", name).unwrap();
        assert_eq!(
            (
                v.polls,
                v.deployments.len(),
                v.deployments[0].rollout_state.as_str()
            ),
            (4, 1, "COMPLETED")
        );
    }
    let rate = sim.calls_per_minute(Some("DescribeServices"), from, to);
    assert!(
        rate >= 4.0 / to.duration_since(from).as_secs_f64() * 60.0 * 0.99,
        "{rate}"
    );
    assert_eq!(
        sim.calls_per_minute(
            Some("DescribeServices"),
            to + Duration::from_secs(1),
            to + Duration::from_secs(61)
        ),
        0.0
    );
    assert_eq!(sim.call_counts()["RegisterTaskDefinition"], 2);
    assert_eq!(sim.call_log().len(), 8);
}

#[tokio::test]
async fn admin_http_api_seeds_and_reports() {
    let sim = EcsSimulator::start().await.unwrap();
    let http = testbed::http_client();
    let base = sim.endpoint();
    let seeded: serde_json::Value = http
        .post(format!("{base}/_sim/seed"))
        .json(&json!({"cluster": "demo", "service": "shop", "desiredCount": 2, "scenario": "CrashLoop"}))
        .send().await.unwrap().error_for_status().unwrap().json().await.unwrap();
    assert_eq!(
        seeded["serviceArn"],
        "arn:aws:ecs:us-east-1:123456789012:service/demo/shop"
    );
    assert_eq!(
        seeded["taskDefinitionArn"],
        "arn:aws:ecs:us-east-1:123456789012:task-definition/shop:1"
    );
    let throttled: serde_json::Value = http
        .post(format!("{base}/_sim/seed"))
        .json(&json!({"cluster": "demo", "service": "slow", "scenario": {"Throttling": {"firstN": 1}}}))
        .send().await.unwrap().error_for_status().unwrap().json().await.unwrap();
    assert!(
        throttled["targetGroupArns"][0]
            .as_str()
            .unwrap()
            .contains(":targetgroup/slow-tg/")
    );
    let r = http
        .post(format!("{base}/_sim/cluster"))
        .json(&json!({"name": "empty"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let c = clients(&sim).await;
    c.poll("demo", "shop").await;
    let view: ServiceView = http
        .get(format!("{base}/_sim/service/demo/shop"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((view.running_count, view.polls), (2, 1));
    assert_eq!(view.events, ["(service shop) has reached a steady state."]);
    let calls: serde_json::Value = http
        .get(format!("{base}/_sim/calls"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(calls, json!({"DescribeServices": 1}));
    let log: serde_json::Value = http
        .get(format!("{base}/_sim/calls/log"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log[0]["op"], "DescribeServices");
    assert!(log[0]["unixMs"].as_u64().unwrap() > 1_700_000_000_000);
    let missing = http
        .get(format!("{base}/_sim/service/demo/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let bad = http
        .post(format!("{base}/_sim/seed"))
        .json(&json!({"scenario": "Nope"}))
        .send()
        .await
        .unwrap();
    assert!(bad.status().is_client_error());
}

#[tokio::test]
async fn register_validates_fargate_and_keeps_tags() {
    let sim = EcsSimulator::start().await.unwrap();
    let c = clients(&sim).await;
    let app = aws_sdk_ecs::types::ContainerDefinition::builder()
        .name("app")
        .image("example/app:1")
        .build();
    let err = c
        .ecs
        .register_task_definition()
        .family("f")
        .requires_compatibilities(aws_sdk_ecs::types::Compatibility::Fargate)
        .network_mode(aws_sdk_ecs::types::NetworkMode::Awsvpc)
        .container_definitions(app.clone())
        .send()
        .await
        .unwrap_err();
    let err = err.into_service_error();
    assert_eq!(err.code(), Some("ClientException"));
    assert_eq!(
        err.message(),
        Some("Fargate requires that 'cpu' be defined at the task level.")
    );
    let tag = aws_sdk_ecs::types::Tag::builder()
        .key("team")
        .value("payments")
        .build();
    let out = c
        .ecs
        .register_task_definition()
        .family("f")
        .container_definitions(app)
        .tags(tag)
        .send()
        .await
        .unwrap();
    assert_eq!(out.tags()[0].key(), Some("team"));
    let td = out.task_definition().unwrap();
    assert_eq!(
        td.compatibilities()
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>(),
        ["EC2"]
    );
    let plain = c
        .ecs
        .describe_task_definition()
        .task_definition("f:1")
        .send()
        .await
        .unwrap();
    assert!(plain.tags().is_empty());
    let tagged = c
        .ecs
        .describe_task_definition()
        .task_definition("f")
        .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
        .send()
        .await
        .unwrap();
    assert_eq!(tagged.tags()[0].value(), Some("payments"));
}

#[tokio::test]
async fn injected_throttling_on_any_operation() {
    let sim = EcsSimulator::start().await.unwrap();
    let seeded = sim.seed_service(ServiceSeed::default()).unwrap();
    let c = clients(&sim).await;
    sim.throttle("DescribeTargetHealth", 1);
    sim.throttle("ListTasks", 1);
    let err = c
        .elb
        .describe_target_health()
        .target_group_arn(&seeded.target_group_arns[0])
        .send()
        .await
        .unwrap_err();
    let err = err.into_service_error();
    assert_eq!(
        (err.code(), err.message()),
        (Some("Throttling"), Some("Rate exceeded"))
    );
    assert_eq!(c.target_states(&seeded.target_group_arns[0]).await.len(), 1);
    let err = c.ecs.list_tasks().send().await.unwrap_err();
    assert_eq!(err.into_service_error().code(), Some("ThrottlingException"));
    let http = testbed::http_client();
    let r = http
        .post(format!("{}/_sim/throttle", sim.endpoint()))
        .json(&json!({"op": "DescribeClusters", "count": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(c.ecs.describe_clusters().send().await.is_err());
    assert!(c.ecs.describe_clusters().send().await.is_ok());
}

#[tokio::test]
async fn scenario_switch_and_served_revisions_stay_good() {
    let sim = EcsSimulator::start().await.unwrap();
    sim.seed_service(ServiceSeed::default()).unwrap();
    let c = clients(&sim).await;
    let v2 = c.register("web", "example/app:v2").await;
    c.update("default", "web", &v2).await;
    c.until_completed("default", "web", 10).await;
    let http = testbed::http_client();
    let r = http
        .post(format!("{}/_sim/scenario", sim.endpoint()))
        .json(&json!({"cluster": "default", "service": "web", "scenario": "CrashLoop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(!sim.set_scenario("default", "nope", Scenario::CrashLoop));
    let v3 = c.register("web", "example/app:v3").await;
    let id = c.update("default", "web", &v3).await;
    for _ in 0..3 {
        c.poll("default", "web").await;
    }
    assert_eq!(c.stopped_tasks("default", "web", &id).await.len(), 1);
    // v2 served, so rolling back to it is healthy even under CrashLoop.
    c.update("default", "web", &v2).await;
    let (s, _) = c.until_completed("default", "web", 10).await;
    assert_eq!(s.task_definition(), Some(v2.as_str()));
}

#[tokio::test]
async fn desired_count_changes_scale_the_primary_deployment() {
    let sim = EcsSimulator::start().await.unwrap();
    sim.seed_service(ServiceSeed {
        desired_count: 2,
        ..Default::default()
    })
    .unwrap();
    let c = clients(&sim).await;
    c.ecs
        .update_service()
        .service("web")
        .desired_count(1)
        .send()
        .await
        .unwrap();
    let s = c.poll("default", "web").await;
    assert_eq!((s.desired_count(), s.running_count()), (1, 1));
    assert!(events(&s)[0].starts_with("(service web) has stopped 1 running tasks: (task "));
    c.ecs
        .update_service()
        .service("web")
        .desired_count(3)
        .send()
        .await
        .unwrap();
    let s = c.poll("default", "web").await;
    assert_eq!((s.running_count(), s.pending_count()), (1, 2));
    let s = c.poll("default", "web").await;
    assert_eq!(s.running_count(), 3);
    assert_eq!(s.deployments().len(), 1);
}

#[tokio::test]
async fn services_seeded_from_one_definition_share_a_revision_and_reseeding_replaces() {
    let sim = EcsSimulator::start().await.unwrap();
    let shared = |service: &str| ServiceSeed {
        service: service.into(),
        family: Some("shared".into()),
        ..Default::default()
    };
    let a = sim.seed_service(shared("a")).unwrap();
    let b = sim.seed_service(shared("b")).unwrap();
    assert_eq!(a.task_definition_arn, b.task_definition_arn);
    assert!(a.task_definition_arn.ends_with("task-definition/shared:1"));
    let c = clients(&sim).await;
    let td = c.register("shared", "example/app:v2").await;
    c.update("default", "a", &td).await;
    c.update("default", "b", &td).await;
    for _ in 0..4 {
        c.ecs
            .describe_services()
            .services("a")
            .services("b")
            .send()
            .await
            .unwrap();
    }
    for name in ["a", "b"] {
        assert_eq!(sim.service("default", name).unwrap().task_definition, td);
    }
    // Re-seeding b starts it over: one deployment, one task, one target.
    let b2 = sim.seed_service(shared("b")).unwrap();
    let s = c.poll("default", "b").await;
    assert_eq!((s.deployments().len(), s.running_count()), (1, 1));
    assert_eq!(c.target_states(&b2.target_group_arns[0]).await.len(), 1);
    let tasks = c.ecs.list_tasks().service_name("b").send().await.unwrap();
    assert_eq!(tasks.task_arns().len(), 1);
}

#[tokio::test]
async fn health_probe_answers_for_the_healthy_targets() {
    let sim = EcsSimulator::start().await.unwrap();
    let seeded = sim.seed_service(ServiceSeed::default()).unwrap();
    sim.seed_service(ServiceSeed {
        service: "idle".into(),
        desired_count: 0,
        ..Default::default()
    })
    .unwrap();
    let http = testbed::http_client();
    let probe = |s: &str| {
        http.get(format!("{}/_sim/health/default/{s}", sim.endpoint()))
            .send()
    };
    let r = probe("web").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.text().await.unwrap(),
        format!("ok {}\n", seeded.task_definition_arn)
    );
    let c = clients(&sim).await;
    let td = c.register("web", "example/app:v2").await;
    c.update("default", "web", &td).await;
    c.until_completed("default", "web", 10).await;
    assert_eq!(
        probe("web").await.unwrap().text().await.unwrap(),
        format!("ok {td}\n")
    );
    assert_eq!(probe("idle").await.unwrap().status(), 503);
    assert_eq!(probe("nope").await.unwrap().status(), 404);
    assert_eq!(sim.calls("HealthProbe"), 4);
}
