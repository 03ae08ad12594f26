//! End-to-end runs of the rollout against services deployed with ECS's own strategies
//! (BLUE_GREEN, LINEAR, CANARY), lifecycle hooks, alarms and the circuit breaker: the built
//! binary run as the runner runs it, ECS at the testbed's simulator (its clock moves 15 s per
//! DescribeServices), STS at moto. Each test asserts the exit code, what the user reads, the
//! outputs, which revision the service runs afterwards, and who rolled back (exactly one
//! UpdateService when ECS did it by itself).

mod common;

use common::Run;
use common::rollout::{CLUSTER, calls, job, seed, sim_with, task_definition};
use serde_json::{Value, json};
use testbed::ecs::{AlarmScript, DeploymentsSetup, LambdaScript, Script};
use testbed::{EcsSimulator, Scenario};

const HOOK: &str = "arn:aws:lambda:us-east-1:123456789012:function:smoke-test";

/// A strategy's deployment configuration (bake time 2 minutes) with `extra` members, and the
/// alternate target group it needs.
fn staged(strategy: &str, extra: Value) -> DeploymentsSetup {
    let mut dc = json!({"strategy": strategy, "bakeTimeInMinutes": 2});
    for (k, v) in extra.as_object().into_iter().flatten() {
        dc[k] = v.clone();
    }
    DeploymentsSetup {
        deployment_configuration: dc,
        alternate_target_group: true,
        script: Script::default(),
    }
}

fn lambda_hook_at(stage: &str) -> Value {
    json!({"lifecycleHooks": [{"hookTargetArn": HOOK, "roleArn": "arn:aws:iam::123456789012:role/ecs-hooks", "lifecycleStages": [stage]}]})
}

/// The simulator with service `api` under `scenario`, its deployments set up by `setup`.
async fn service(scenario: Scenario, setup: DeploymentsSetup) -> EcsSimulator {
    let sim = sim_with(vec![seed("api", scenario)]).await;
    assert!(sim.set_deployments_setup(CLUSTER, "api", setup));
    sim
}

/// ECS rolled the deployment back by itself: exit 4, the service on `old` again, only the
/// deploy's UpdateService, no StopServiceDeployment, `rolled-back=true`, ECS's reason shown.
fn assert_ecs_rolled_back(sim: &EcsSimulator, run: &Run, old: &str, reason: &[&str]) {
    run.assert_code(4)
        .assert_stderr_has(&["ECS rolled it back to api:1"])
        .assert_stderr_has(reason);
    assert_eq!(task_definition(sim, "api"), old, "{}", run.dump());
    assert_eq!(calls(sim), (1, 1), "no UpdateService over ECS's rollback\n{}", run.dump());
    assert_eq!(sim.calls("StopServiceDeployment"), 0, "{}", run.dump());
    assert_eq!(run.output("rolled-back"), Some("true"), "{}", run.dump());
}

fn assert_followed(sim: &EcsSimulator, run: &Run) {
    assert!(sim.calls("DescribeServiceDeployments") > 0, "{}", run.dump());
    let arn = run.output("service-deployment-arn").unwrap_or_default();
    assert!(
        arn.starts_with("arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/api/"),
        "{}",
        run.dump()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blue_green_walks_its_stages_and_succeeds() {
    let sim = service(Scenario::HealthyRolling, staged("BLUE_GREEN", json!({}))).await;
    let old = task_definition(&sim, "api");
    let run = job(&sim, "api").await.run().await;
    run.assert_code(0).assert_stderr_has(&[
        "api: BLUE_GREEN service deployment IN_PROGRESS, stage PRE_SCALE_UP",
        "stage TEST_TRAFFIC_SHIFT",
        "api: production traffic 100% new / 0% old, test traffic 100% new",
        "stage BAKE_TIME",
        "api: BLUE_GREEN service deployment SUCCESSFUL",
    ]);
    assert_followed(&sim, &run);
    assert_ne!(task_definition(&sim, "api"), old);
    assert_eq!(calls(&sim), (1, 1));
    assert_eq!(run.output("rolled-back"), Some("false"));
    assert!(
        run.summary
            .contains("`PRE_SCALE_UP` → `SCALE_UP` → `POST_SCALE_UP` → `TEST_TRAFFIC_SHIFT`"),
        "{}",
        run.dump()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_hook_is_named_with_its_stage_and_ecs_rolls_back_alone() {
    let mut setup = staged("BLUE_GREEN", lambda_hook_at("POST_TEST_TRAFFIC_SHIFT"));
    setup.script.lambda.insert(
        HOOK.into(),
        LambdaScript {
            fails_at: Some("POST_TEST_TRAFFIC_SHIFT".into()),
            in_progress_polls: 1,
        },
    );
    let sim = service(Scenario::HealthyRolling, setup).await;
    let old = task_definition(&sim, "api");
    let run = job(&sim, "api").await.run().await;
    assert_ecs_rolled_back(
        &sim,
        &run,
        &old,
        &[
            &format!("lifecycle hook {HOOK} answered FAILED at POST_TEST_TRAFFIC_SHIFT"),
            &format!("api: lifecycle hook {HOOK} at POST_TEST_TRAFFIC_SHIFT: FAILED"),
            "waiting for ECS's rollback, not rolling back over it",
        ],
    );
    assert_followed(&sim, &run);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_circuit_breaker_rolls_back_alone_on_every_run() {
    for attempt in 1..=3 {
        let sim = sim_with(vec![seed("api", Scenario::CircuitBreakerRollback)]).await;
        let old = task_definition(&sim, "api");
        let run = job(&sim, "api").await.run().await;
        assert_ecs_rolled_back(
            &sim,
            &run,
            &old,
            &["the circuit breaker counted ", "failed tasks (threshold 3)"],
        );
        assert!(
            !run.stderr.contains("rolling back to api:1"),
            "run {attempt}: the action rolled back over ECS\n{}",
            run.dump()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_triggered_alarm_is_named() {
    let mut setup = staged(
        "BLUE_GREEN",
        json!({"alarms": {"alarmNames": ["api-5xx", "api-latency"], "enable": true, "rollback": true}}),
    );
    setup.script.alarm = Some(AlarmScript {
        name: "api-5xx".into(),
        stage: "BAKE_TIME".into(),
    });
    let sim = service(Scenario::HealthyRolling, setup).await;
    let old = task_definition(&sim, "api");
    let run = job(&sim, "api").await.run().await;
    assert_ecs_rolled_back(
        &sim,
        &run,
        &old,
        &["api: alarm api-5xx went to ALARM", "alarm api-5xx went to ALARM;"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linear_and_canary_show_their_traffic_steps() {
    for (strategy, extra, steps) in [
        (
            "LINEAR",
            json!({"linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 1}}),
            vec!["25% new / 75% old", "50% new / 50% old", "75% new / 25% old", "100% new / 0% old"],
        ),
        (
            "CANARY",
            json!({"canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 1}}),
            vec!["10% new / 90% old", "100% new / 0% old"],
        ),
    ] {
        let sim = service(Scenario::HealthyRolling, staged(strategy, extra)).await;
        let run = job(&sim, "api").await.run().await;
        let lines: Vec<String> = steps
            .iter()
            .map(|s| format!("api: production traffic {s}"))
            .collect();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        run.assert_code(0).assert_stderr_has(&lines);
        let first = run.stderr.find(lines[0]).unwrap_or_default();
        let last = run.stderr.find(lines[lines.len() - 1]).unwrap_or_default();
        assert!(first < last, "{strategy}: steps out of order\n{}", run.dump());
        assert_eq!(calls(&sim), (1, 1), "{strategy}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_shifted_returns_during_the_bake_time() {
    let sim = service(
        Scenario::HealthyRolling,
        staged("BLUE_GREEN", json!({"bakeTimeInMinutes": 600})),
    )
    .await;
    let old = task_definition(&sim, "api");
    let run = job(&sim, "api")
        .await
        .with("wait-until", "traffic-shifted")
        .run()
        .await;
    run.assert_code(0).assert_stderr_has(&["stage BAKE_TIME"]);
    assert_eq!(
        sim.service_deployment_state(CLUSTER, "api"),
        Some(("IN_PROGRESS".to_owned(), Some("BAKE_TIME".to_owned()))),
        "the bake time is left to ECS\n{}",
        run.dump()
    );
    assert_ne!(task_definition(&sim, "api"), old);
    assert_eq!(run.output("rolled-back"), Some("false"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_wait_until_is_refused_before_any_change() {
    let sim = service(Scenario::HealthyRolling, staged("BLUE_GREEN", json!({}))).await;
    let run = job(&sim, "api").await.with("wait-until", "baked").run().await;
    run.assert_code(2)
        .assert_stderr_has(&["wait-until", "`baked`", "`traffic-shifted`"]);
    assert_eq!(calls(&sim), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_hook_says_how_to_release_it() {
    let pause = json!({"lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["POST_SCALE_UP"],
        "timeoutConfiguration": {"timeoutInMinutes": 2, "action": "ROLLBACK"}}]});
    let sim = service(Scenario::HealthyRolling, staged("BLUE_GREEN", pause)).await;
    let old = task_definition(&sim, "api");
    let run = job(&sim, "api").await.run().await;
    let arn = run.output("service-deployment-arn").unwrap_or_default().to_owned();
    assert_ecs_rolled_back(
        &sim,
        &run,
        &old,
        &[
            "the deployment is paused at POST_SCALE_UP by PAUSE hook ecs-pause-",
            "it waits for a ContinueServiceDeployment",
            &format!("to release it: aws ecs continue-service-deployment --service-deployment-arn {arn} --hook-id ecs-pause-"),
            "--action CONTINUE",
            "to roll it back: aws ecs continue-service-deployment",
            "--action ROLLBACK",
            "timed out at POST_SCALE_UP",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_ecs_cannot_roll_back_the_action_does() {
    let sim = service(
        Scenario::CircuitBreakerRollback,
        DeploymentsSetup {
            script: Script {
                rollback_fails: true,
                ..Script::default()
            },
            ..DeploymentsSetup::default()
        },
    )
    .await;
    let old = task_definition(&sim, "api");
    let run = job(&sim, "api").await.run().await;
    run.assert_code(4).assert_stderr_has(&[
        "ECS could not roll api back (ROLLBACK_FAILED)",
        "api: rolling back to api:1",
        "rolled back to api:1",
    ]);
    assert_eq!(task_definition(&sim, "api"), old, "{}", run.dump());
    assert_eq!(calls(&sim), (1, 2), "ours is the second UpdateService\n{}", run.dump());
    assert_eq!(run.output("rolled-back"), Some("true"), "{}", run.dump());
}
