//! The ECS simulator's service deployments and deployment strategies, driven through the real
//! `aws-sdk-ecs` client: every UpdateService records a service deployment; BLUE_GREEN, LINEAR
//! and CANARY walk their stages with traffic weights and bake time; lifecycle hooks, alarms and
//! the circuit breaker make ECS roll back by itself (or fail to); StopServiceDeployment and
//! ContinueServiceDeployment act on them. One poll is one minute of simulated time here.

#[path = "ecs_support.rs"]
mod support;

use aws_sdk_ecs::types::{
    DeploymentLifecycleHookAction, ServiceDeployment, StopServiceDeploymentStopType,
};
use serde_json::{Value, json};
use support::{Clients, clients};
use testbed::ecs::{AlarmScript, DeploymentsSetup, LambdaScript, STAGED_LIFECYCLE};
use testbed::{EcsSimulator, Scenario, ServiceSeed};

const IMAGE_V2: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:2222222222222222222222222222222222222222222222222222222222222222";
const HOOK: &str = "arn:aws:lambda:us-east-1:123456789012:function:smoke-test";

/// A simulator with service prod/web (serving revision 1) under `scenario` and `setup`, and
/// revision 2 registered; one poll moves the clock by a minute.
async fn service(
    scenario: Scenario,
    setup: DeploymentsSetup,
) -> (EcsSimulator, Clients, String, String) {
    let sim = EcsSimulator::start_with_step(60).await.unwrap();
    let seeded = sim
        .seed_service(ServiceSeed {
            cluster: "prod".into(),
            service: "web".into(),
            scenario,
            ..ServiceSeed::default()
        })
        .unwrap();
    assert!(sim.set_deployments_setup("prod", "web", setup));
    let c = clients(&sim).await;
    let v2 = c.register("web", IMAGE_V2).await;
    (sim, c, seeded.task_definition_arn, v2)
}

fn staged(strategy: &str, extra: Value) -> DeploymentsSetup {
    DeploymentsSetup::staged(strategy, 2, extra)
}

fn lambda_hook_at(stage: &str) -> Value {
    testbed::ecs::lambda_hook_at(HOOK, stage)
}

fn pause_hook_at(stage: &str, timeout_minutes: u32) -> Value {
    json!({"lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": [stage],
        "timeoutConfiguration": {"timeoutInMinutes": timeout_minutes, "action": "ROLLBACK"}}]})
}

/// UpdateService to `td`; returns the service deployment it started (`currentServiceDeployment`).
async fn deploy(c: &Clients, td: &str) -> String {
    let out = c
        .ecs
        .update_service()
        .cluster("prod")
        .service("web")
        .task_definition(td)
        .send()
        .await
        .expect("UpdateService");
    out.service()
        .and_then(|s| s.current_service_deployment())
        .expect("UpdateService names the service deployment it started")
        .to_owned()
}

async fn describe(c: &Clients, arn: &str) -> ServiceDeployment {
    let out = c
        .ecs
        .describe_service_deployments()
        .service_deployment_arns(arn)
        .send()
        .await
        .expect("DescribeServiceDeployments");
    assert!(out.failures().is_empty(), "{:?}", out.failures());
    out.service_deployments()[0].clone()
}

/// The error code ECS answered with.
fn error_code<E: aws_sdk_ecs::error::ProvideErrorMetadata>(e: &E) -> &str {
    e.code().unwrap_or("(no code)")
}

fn status(d: &ServiceDeployment) -> &str {
    d.status().map_or("", |s| s.as_str())
}

fn stage(d: &ServiceDeployment) -> &str {
    d.lifecycle_stage().map_or("", |s| s.as_str())
}

fn production_weight(d: &ServiceDeployment) -> Option<f64> {
    d.target_service_revision()
        .and_then(|t| t.requested_production_traffic_weight())
}

/// What one poll showed: status, stage, target production weight.
type Step = (String, String, Option<f64>);

/// Polls (DescribeServices, then DescribeServiceDeployments) until `stop` holds or 60 polls;
/// returns every distinct step seen and the last answer.
async fn walk(
    c: &Clients,
    arn: &str,
    stop: impl Fn(&ServiceDeployment) -> bool,
) -> (Vec<Step>, ServiceDeployment) {
    let mut steps: Vec<Step> = Vec::new();
    for _ in 0..60 {
        c.poll("prod", "web").await;
        let d = describe(c, arn).await;
        let step = (
            status(&d).to_owned(),
            stage(&d).to_owned(),
            production_weight(&d),
        );
        if steps.last() != Some(&step) {
            steps.push(step);
        }
        if stop(&d) {
            return (steps, d);
        }
    }
    panic!("{arn} did not get there in 60 polls: {steps:?}");
}

fn finished(d: &ServiceDeployment) -> bool {
    matches!(
        status(d),
        "SUCCESSFUL" | "STOPPED" | "ROLLBACK_SUCCESSFUL" | "ROLLBACK_FAILED"
    )
}

fn stages(steps: &[Step]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for s in steps {
        if !s.1.is_empty() && out.last() != Some(&s.1.as_str()) {
            out.push(&s.1);
        }
    }
    out
}

async fn serving_task_definition(c: &Clients) -> String {
    c.poll("prod", "web")
        .await
        .task_definition()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_rolling_update_records_a_service_deployment_with_its_revisions() {
    let (sim, c, v1, v2) = service(Scenario::HealthyRolling, DeploymentsSetup::default()).await;
    let arn = deploy(&c, &v2).await;
    assert!(
        arn.starts_with("arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/web/"),
        "{arn}"
    );
    let d = describe(&c, &arn).await;
    assert_eq!(status(&d), "PENDING");
    assert_eq!(
        d.deployment_configuration()
            .and_then(|c| c.strategy())
            .map(|s| s.as_str()),
        Some("ROLLING")
    );

    let listed = c
        .ecs
        .list_service_deployments()
        .cluster("prod")
        .service("web")
        .send()
        .await
        .unwrap();
    let briefs = listed.service_deployments();
    assert_eq!(briefs.len(), 2, "the seeded deployment and ours");
    assert_eq!(
        briefs[0].service_deployment_arn(),
        Some(arn.as_str()),
        "newest first"
    );
    assert_eq!(briefs[1].status().map(|s| s.as_str()), Some("SUCCESSFUL"));

    let (steps, d) = walk(&c, &arn, finished).await;
    assert_eq!(status(&d), "SUCCESSFUL", "{steps:?}");
    assert_eq!(stages(&steps), ["SCALE_UP", "CLEAN_UP"]);
    assert_eq!(
        production_weight(&d),
        None,
        "a rolling deployment shifts no traffic"
    );
    assert_eq!(
        d.deployment_circuit_breaker()
            .and_then(|b| b.status())
            .map(|s| s.as_str()),
        Some("DISABLED")
    );
    assert!(d.started_at().is_some() && d.finished_at().is_some());

    let source = d.source_service_revisions()[0].arn().unwrap().to_owned();
    let target = d
        .target_service_revision()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let revisions = c
        .ecs
        .describe_service_revisions()
        .service_revision_arns(&source)
        .service_revision_arns(&target)
        .send()
        .await
        .unwrap();
    let tds: Vec<&str> = revisions
        .service_revisions()
        .iter()
        .map(|r| r.task_definition().unwrap())
        .collect();
    assert_eq!(tds, [v1.as_str(), v2.as_str()]);
    assert_eq!(sim.calls("UpdateService"), 1);
}

#[tokio::test]
async fn blue_green_walks_every_stage_keeps_blue_through_the_bake_time_and_succeeds() {
    let (sim, c, _v1, v2) =
        service(Scenario::HealthyRolling, staged("BLUE_GREEN", json!({}))).await;
    let svc = c.poll("prod", "web").await;
    let dc = svc.deployment_configuration().unwrap();
    assert_eq!(dc.strategy().map(|s| s.as_str()), Some("BLUE_GREEN"));
    assert_eq!(dc.bake_time_in_minutes(), Some(2));
    let advanced = svc.load_balancers()[0]
        .advanced_configuration()
        .expect("an alternate target group");
    assert!(advanced.alternate_target_group_arn().is_some());

    let arn = deploy(&c, &v2).await;
    let (steps, d) = walk(&c, &arn, |d| stage(d) == "BAKE_TIME").await;
    assert_eq!(production_weight(&d), Some(100.0), "{steps:?}");
    let during_bake = c.poll("prod", "web").await;
    assert_eq!(
        during_bake.running_count(),
        2,
        "blue keeps running through the bake time"
    );

    let (rest, d) = walk(&c, &arn, finished).await;
    assert_eq!(status(&d), "SUCCESSFUL", "{rest:?}");
    let all: Vec<Step> = steps.into_iter().chain(rest).collect();
    assert_eq!(stages(&all), STAGED_LIFECYCLE);
    let bake_polls = all.iter().filter(|s| s.1 == "BAKE_TIME").count();
    assert!(bake_polls >= 1, "{all:?}");
    let before_shift: Vec<&Step> = all
        .iter()
        .take_while(|s| s.1 != "PRODUCTION_TRAFFIC_SHIFT")
        .collect();
    assert!(
        before_shift.iter().all(|s| s.2 == Some(0.0)),
        "{before_shift:?}"
    );
    assert_eq!(serving_task_definition(&c).await, v2);
    assert_eq!(sim.calls("UpdateService"), 1);
}

#[tokio::test]
async fn a_lambda_hook_failing_after_test_traffic_makes_ecs_roll_back_to_blue() {
    let mut setup = staged("BLUE_GREEN", lambda_hook_at("POST_TEST_TRAFFIC_SHIFT"));
    setup.script.lambda.insert(
        HOOK.into(),
        LambdaScript {
            fails_at: Some("POST_TEST_TRAFFIC_SHIFT".into()),
            in_progress_polls: 1,
        },
    );
    let (sim, c, v1, v2) = service(Scenario::HealthyRolling, setup).await;
    let arn = deploy(&c, &v2).await;
    let (steps, d) = walk(&c, &arn, |d| status(d) == "ROLLBACK_IN_PROGRESS").await;
    assert_eq!(stage(&d), "POST_TEST_TRAFFIC_SHIFT", "{steps:?}");
    let hook = &d.lifecycle_hook_details()[0];
    assert_eq!(hook.target_arn(), Some(HOOK));
    assert_eq!(hook.status().map(|s| s.as_str()), Some("FAILED"));
    let rollback = d.rollback().expect("ECS says why it rolled back");
    assert!(rollback.reason().unwrap().contains(HOOK), "{rollback:?}");
    assert!(
        rollback
            .reason()
            .unwrap()
            .contains("POST_TEST_TRAFFIC_SHIFT"),
        "{rollback:?}"
    );
    assert_eq!(
        rollback.service_revision_arn(),
        d.source_service_revisions()[0].arn()
    );
    assert_eq!(production_weight(&d), Some(0.0));

    let (_, d) = walk(&c, &arn, finished).await;
    assert_eq!(status(&d), "ROLLBACK_SUCCESSFUL");
    assert_eq!(serving_task_definition(&c).await, v1);
    assert_eq!(
        sim.calls("UpdateService"),
        1,
        "ECS rolled back without an UpdateService"
    );
}

#[tokio::test]
async fn linear_and_canary_shift_production_traffic_in_their_steps() {
    for (strategy, extra, weights) in [
        (
            "LINEAR",
            json!({"linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 1}}),
            vec![0.0, 25.0, 50.0, 75.0, 100.0],
        ),
        (
            "CANARY",
            json!({"canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 3}}),
            vec![0.0, 10.0, 100.0],
        ),
    ] {
        let (_sim, c, _v1, v2) = service(Scenario::HealthyRolling, staged(strategy, extra)).await;
        let arn = deploy(&c, &v2).await;
        let (steps, d) = walk(&c, &arn, finished).await;
        assert_eq!(status(&d), "SUCCESSFUL", "{strategy}: {steps:?}");
        let mut seen: Vec<f64> = steps.iter().filter_map(|s| s.2).collect();
        seen.dedup();
        assert_eq!(seen, weights, "{strategy}: {steps:?}");
    }
}

#[tokio::test]
async fn a_triggered_alarm_rolls_back_and_is_named() {
    let mut setup = staged(
        "BLUE_GREEN",
        json!({"alarms": {"alarmNames": ["web-5xx", "web-latency"], "enable": true, "rollback": true}}),
    );
    setup.script.alarm = Some(AlarmScript {
        name: "web-5xx".into(),
        stage: "BAKE_TIME".into(),
    });
    let (_sim, c, v1, v2) = service(Scenario::HealthyRolling, setup).await;
    let arn = deploy(&c, &v2).await;
    let (steps, d) = walk(&c, &arn, finished).await;
    assert_eq!(status(&d), "ROLLBACK_SUCCESSFUL", "{steps:?}");
    let alarms = d.alarms().unwrap();
    assert_eq!(alarms.status().map(|s| s.as_str()), Some("TRIGGERED"));
    assert_eq!(alarms.triggered_alarm_names(), ["web-5xx"]);
    assert_eq!(alarms.alarm_names(), ["web-5xx", "web-latency"]);
    assert!(d.rollback().unwrap().reason().unwrap().contains("web-5xx"));
    assert_eq!(serving_task_definition(&c).await, v1);
}

#[tokio::test]
async fn a_pause_hook_waits_for_continue_service_deployment() {
    let (_sim, c, _v1, v2) = service(
        Scenario::HealthyRolling,
        staged("BLUE_GREEN", pause_hook_at("POST_TEST_TRAFFIC_SHIFT", 60)),
    )
    .await;
    let arn = deploy(&c, &v2).await;
    let (_, d) = walk(&c, &arn, |d| stage(d) == "POST_TEST_TRAFFIC_SHIFT").await;
    let hook = d.lifecycle_hook_details()[0].clone();
    assert_eq!(hook.target_type().map(|t| t.as_str()), Some("PAUSE"));
    assert_eq!(hook.status().map(|s| s.as_str()), Some("AWAITING_ACTION"));
    assert_eq!(hook.timeout_action().map(|a| a.as_str()), Some("ROLLBACK"));
    let hook_id = hook.hook_id().unwrap().to_owned();
    for _ in 0..5 {
        c.poll("prod", "web").await;
    }
    let d = describe(&c, &arn).await;
    assert_eq!(
        (status(&d), stage(&d)),
        ("IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT"),
        "paused"
    );

    let wrong = c
        .ecs
        .continue_service_deployment()
        .service_deployment_arn(&arn)
        .hook_id("ecs-pause-nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&wrong), "InvalidParameterException");
    c.ecs
        .continue_service_deployment()
        .service_deployment_arn(&arn)
        .hook_id(&hook_id)
        .action(DeploymentLifecycleHookAction::Continue)
        .send()
        .await
        .unwrap();
    let (_, d) = walk(&c, &arn, finished).await;
    assert_eq!(status(&d), "SUCCESSFUL");
    assert_eq!(serving_task_definition(&c).await, v2);
}

#[tokio::test]
async fn a_pause_hook_answered_rollback_or_timed_out_rolls_back() {
    for timeout in [60, 3] {
        let (_sim, c, v1, v2) = service(
            Scenario::HealthyRolling,
            staged("BLUE_GREEN", pause_hook_at("POST_SCALE_UP", timeout)),
        )
        .await;
        let arn = deploy(&c, &v2).await;
        let (_, d) = walk(&c, &arn, |d| stage(d) == "POST_SCALE_UP").await;
        if timeout == 60 {
            let hook_id = d.lifecycle_hook_details()[0].hook_id().unwrap();
            c.ecs
                .continue_service_deployment()
                .service_deployment_arn(&arn)
                .hook_id(hook_id)
                .action(DeploymentLifecycleHookAction::Rollback)
                .send()
                .await
                .unwrap();
            assert_eq!(status(&describe(&c, &arn).await), "ROLLBACK_REQUESTED");
        }
        let (steps, d) = walk(&c, &arn, finished).await;
        assert_eq!(
            status(&d),
            "ROLLBACK_SUCCESSFUL",
            "timeout {timeout}: {steps:?}"
        );
        let hook_status = d.lifecycle_hook_details()[0]
            .status()
            .unwrap()
            .as_str()
            .to_owned();
        assert_eq!(
            hook_status,
            if timeout == 60 { "FAILED" } else { "TIMED_OUT" }
        );
        assert_eq!(serving_task_definition(&c).await, v1);
    }
}

#[tokio::test]
async fn the_circuit_breaker_rollback_is_recorded_with_its_count_and_threshold() {
    let (sim, c, v1, v2) = service(
        Scenario::CircuitBreakerRollback,
        DeploymentsSetup::default(),
    )
    .await;
    let arn = deploy(&c, &v2).await;
    let (steps, d) = walk(&c, &arn, |d| status(d) == "ROLLBACK_IN_PROGRESS").await;
    let breaker = d.deployment_circuit_breaker().unwrap();
    assert_eq!(
        breaker.status().map(|s| s.as_str()),
        Some("TRIGGERED"),
        "{steps:?}"
    );
    assert_eq!((breaker.failure_count(), breaker.threshold()), (3, 3));
    assert!(
        d.rollback()
            .unwrap()
            .reason()
            .unwrap()
            .contains("circuit breaker")
    );
    let (_, d) = walk(&c, &arn, finished).await;
    assert_eq!(status(&d), "ROLLBACK_SUCCESSFUL");
    assert_eq!(serving_task_definition(&c).await, v1);
    assert_eq!(sim.calls("UpdateService"), 1);
}

#[tokio::test]
async fn a_rollback_that_fails_ends_rollback_failed_with_the_service_left_on_green() {
    let mut setup = staged("BLUE_GREEN", lambda_hook_at("POST_TEST_TRAFFIC_SHIFT"));
    setup.script.lambda.insert(
        HOOK.into(),
        LambdaScript {
            fails_at: Some("POST_TEST_TRAFFIC_SHIFT".into()),
            in_progress_polls: 0,
        },
    );
    setup.script.rollback_fails = true;
    let (_sim, c, _v1, v2) = service(Scenario::HealthyRolling, setup).await;
    let arn = deploy(&c, &v2).await;
    let (steps, d) = walk(&c, &arn, finished).await;
    assert_eq!(status(&d), "ROLLBACK_FAILED", "{steps:?}");
    assert!(
        steps.iter().any(|s| s.0 == "ROLLBACK_IN_PROGRESS"),
        "{steps:?}"
    );
    assert!(d.status_reason().unwrap().contains("could not roll back"));
    let svc = c.poll("prod", "web").await;
    assert_eq!(svc.task_definition(), Some(v2.as_str()));
    assert_eq!(
        svc.deployments()[0].rollout_state().map(|r| r.as_str()),
        Some("FAILED")
    );
}

#[tokio::test]
async fn stop_service_deployment_rolls_back_and_refuses_what_is_over() {
    let (sim, c, v1, v2) = service(Scenario::HealthyRolling, DeploymentsSetup::default()).await;
    let arn = deploy(&c, &v2).await;
    let out = c
        .ecs
        .stop_service_deployment()
        .service_deployment_arn(&arn)
        .stop_type(StopServiceDeploymentStopType::Rollback)
        .send()
        .await
        .unwrap();
    assert_eq!(out.service_deployment_arn(), Some(arn.as_str()));
    assert_eq!(status(&describe(&c, &arn).await), "ROLLBACK_REQUESTED");
    let (steps, d) = walk(&c, &arn, finished).await;
    assert_eq!(status(&d), "ROLLBACK_SUCCESSFUL", "{steps:?}");
    assert_eq!(serving_task_definition(&c).await, v1);
    assert_eq!(sim.calls("UpdateService"), 1);
    assert_eq!(sim.calls("StopServiceDeployment"), 1);

    let again = c
        .ecs
        .stop_service_deployment()
        .service_deployment_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&again), "ConflictException");
    let missing = format!("{}x", &arn[..arn.len() - 1]);
    let err = c
        .ecs
        .stop_service_deployment()
        .service_deployment_arn(&missing)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ServiceDeploymentNotFoundException");
    let described = c
        .ecs
        .describe_service_deployments()
        .service_deployment_arns(&missing)
        .send()
        .await
        .unwrap();
    assert_eq!(described.failures()[0].reason(), Some("MISSING"));
    let err = c
        .ecs
        .list_service_deployments()
        .cluster("prod")
        .service("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ServiceNotFoundException");
}
