//! The ECS simulator's answers for the rollout's plan checks and error paths, through the real
//! SDK clients: missing/inactive clusters and services, CODE_DEPLOY and EXTERNAL controllers,
//! an EC2 service on a cluster without container instances, the Throttling scenario, unknown
//! task definitions, target groups and log streams, Fargate registration checks and tags.

#[path = "ecs_support.rs"]
mod support;

use aws_sdk_ecs::error::ProvideErrorMetadata;
use aws_sdk_ecs::operation::describe_services::DescribeServicesError;
use aws_sdk_ecs::operation::update_service::UpdateServiceError;
use support::{clients, events};
use testbed::{ClusterSeed, EcsSimulator, Scenario, ServiceSeed};

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
async fn register_refuses_read_only_fields_sent_raw() {
    let sim = EcsSimulator::start().await.unwrap();
    let http = testbed::http_client();
    let send = |body: serde_json::Value| {
        http.post(sim.endpoint())
            .header("content-type", "application/x-amz-json-1.1")
            .header(
                "x-amz-target",
                "AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition",
            )
            .body(body.to_string())
            .send()
    };
    let def = serde_json::json!({"family": "raw", "containerDefinitions": [{"name": "app", "image": "example/app:1"}]});
    let mut stale = def.clone();
    stale["revision"] = 7.into();
    let r = send(stale).await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().contains_key("x-amzn-requestid"));
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["__type"], "ClientException");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("read-only field revision")
    );
    let ok: serde_json::Value = send(def).await.unwrap().json().await.unwrap();
    assert_eq!(
        ok["taskDefinition"]["taskDefinitionArn"],
        "arn:aws:ecs:us-east-1:123456789012:task-definition/raw:1"
    );
    assert_eq!(ok["taskDefinition"]["status"], "ACTIVE");
}
