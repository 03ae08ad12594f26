//! The ECS simulator's test-facing side, through the real SDK clients and plain HTTP: the
//! admin API (seed, scenario switch, throttle, service view, call log, health probe), call
//! counters and rates, injected throttling on any operation, served revisions staying good,
//! desiredCount scaling, shared and re-seeded services.

#[path = "ecs_support.rs"]
mod support;

use std::time::{Duration, Instant};

use aws_sdk_ecs::error::ProvideErrorMetadata;
use serde_json::json;
use support::{clients, events};
use testbed::{EcsSimulator, Scenario, ServiceSeed, ServiceView};

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
