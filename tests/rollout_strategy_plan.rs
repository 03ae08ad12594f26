//! The plan reads each service's deployment strategy and says it before any change: the built
//! binary against the testbed's ECS simulator (STS at moto). Per strategy (ROLLING, BLUE_GREEN,
//! LINEAR, CANARY) the plan prints its bake time, traffic steps, hooks with their stages,
//! alarms and who rolls back; the job summary shows it; and a strategy that cannot work as the
//! service is configured is refused with exit 2 before anything is registered or updated.

mod common;

use common::Run;
use common::rollout::{CLUSTER, calls, job, seed, sim_with, task_definition};
use serde_json::{Value, json};
use testbed::ecs::{DeploymentsSetup, Script};
use testbed::{EcsSimulator, Scenario, ServiceSeed};

const HOOK: &str = "arn:aws:lambda:us-east-1:123456789012:function:smoke-test";

/// Service `web` (behind a load balancer unless `seed` says otherwise) with `configuration`
/// merged into its deployment configuration; `alternate`: its load balancer has the
/// alternate target group blue/green needs.
async fn sim_on(seed: ServiceSeed, configuration: Value, alternate: bool) -> EcsSimulator {
    let sim = sim_with(vec![seed]).await;
    assert!(sim.set_deployments_setup(
        CLUSTER,
        "web",
        DeploymentsSetup {
            deployment_configuration: configuration,
            alternate_target_group: alternate,
            script: Script::default(),
        }
    ));
    sim
}

async fn web_on(configuration: Value) -> EcsSimulator {
    sim_on(seed("web", Scenario::HealthyRolling), configuration, true).await
}

async fn dry_run(sim: &EcsSimulator) -> Run {
    job(sim, "web").await.with("dry-run", "true").run().await
}

/// The plan's lines for the service (indented under its `service web:` line).
fn plan_lines(run: &Run) -> Vec<&str> {
    run.stdout
        .lines()
        .filter(|l| l.starts_with("  "))
        .map(str::trim)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dry_run_plan_shows_each_strategy_with_its_steps_hooks_and_alarms() {
    let cases: Vec<(&str, Value, Vec<String>)> = vec![
        (
            "ROLLING",
            json!({}),
            vec![
                "strategy ROLLING: tasks replaced in place".into(),
                "on failure this action rolls back to the revision serving now".into(),
            ],
        ),
        (
            "BLUE_GREEN",
            json!({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5,
                   "lifecycleHooks": [{"hookTargetArn": HOOK, "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT"]},
                                      {"targetType": "PAUSE", "lifecycleStages": ["POST_SCALE_UP"], "timeoutConfiguration": {"timeoutInMinutes": 60, "action": "CONTINUE"}}],
                   "alarms": {"alarmNames": ["web-5xx"], "enable": true, "rollback": true}}),
            vec![
                "strategy BLUE_GREEN: the new revision gets all production traffic at once; bake time 5 min with the old one kept".into(),
                format!("lifecycle hook {HOOK} at POST_TEST_TRAFFIC_SHIFT, POST_PRODUCTION_TRAFFIC_SHIFT (times out after 1440 min: ROLLBACK)"),
                "lifecycle hook PAUSE at POST_SCALE_UP: waits for ContinueServiceDeployment (times out after 60 min: CONTINUE)".into(),
                "alarms web-5xx: rollback on".into(),
                "on failure ECS rolls back by itself (alarms web-5xx (rollback on); the BLUE_GREEN strategy (a failed hook or health check)): this action waits for it and reports why".into(),
            ],
        ),
        (
            "LINEAR",
            json!({"strategy": "LINEAR", "bakeTimeInMinutes": 4,
                   "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 2}}),
            vec![
                "strategy LINEAR: 25% more production traffic every 2 min; bake time 4 min".into(),
                "on failure ECS rolls back by itself (the LINEAR strategy (a failed hook or health check)): this action waits for it and reports why".into(),
            ],
        ),
        (
            "CANARY",
            json!({"strategy": "CANARY",
                   "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 3},
                   "alarms": {"alarmNames": ["web-latency"], "enable": true, "rollback": false}}),
            vec![
                "strategy CANARY: 10% of production traffic for 3 min, then the rest; bake time 0 min".into(),
                "alarms web-latency: rollback off".into(),
            ],
        ),
    ];
    for (strategy, configuration, want) in cases {
        let sim = web_on(configuration).await;
        let served = task_definition(&sim, "web");
        let run = dry_run(&sim).await;
        run.assert_code(0);
        let lines = plan_lines(&run);
        for line in &want {
            assert!(
                lines.contains(&line.as_str()),
                "{strategy}: no plan line {line:?}\n{}",
                run.dump()
            );
        }
        assert!(
            run.summary.contains(&format!(
                "- **web**\n  - strategy {}:",
                strategy.replace('_', "\\_")
            )),
            "{strategy}: the summary's plan names the strategy\n{}",
            run.dump()
        );
        assert_eq!(calls(&sim), (0, 0), "{strategy}: a dry run changes nothing");
        assert_eq!(task_definition(&sim, "web"), served);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blue_green_without_an_alternate_target_group_is_refused_before_anything_changes() {
    let sim = sim_on(
        seed("web", Scenario::HealthyRolling),
        json!({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5}),
        false,
    )
    .await;
    let served = task_definition(&sim, "web");
    for dry in ["false", "true"] {
        let run = job(&sim, "web").await.with("dry-run", dry).run().await;
        run.assert_code(2).assert_stderr_has(&[
            "the service web uses the BLUE_GREEN strategy but its load balancer (target group arn:aws:elasticloadbalancing:",
            "has no alternate target group",
            "nothing was registered or updated",
        ]);
        assert!(
            run.hint().contains("loadBalancers[].advancedConfiguration (alternateTargetGroupArn, productionListenerRule, roleArn)")
                && run.hint().contains("or use strategy ROLLING"),
            "dry-run {dry}: the hint says what would be right\n{}",
            run.dump()
        );
        assert_eq!(
            calls(&sim),
            (0, 0),
            "dry-run {dry}: no RegisterTaskDefinition, no UpdateService\n{}",
            run.dump()
        );
        assert_eq!(task_definition(&sim, "web"), served);
        assert_eq!(run.output("task-definition-arn"), None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_without_a_load_balancer_or_service_connect_is_refused() {
    let unbalanced = ServiceSeed {
        load_balancer: false,
        ..seed("web", Scenario::HealthyRolling)
    };
    let sim = sim_on(unbalanced, json!({"strategy": "CANARY"}), false).await;
    let run = job(&sim, "web").await.run().await;
    run.assert_code(2).assert_stderr_has(&[
        "the service web uses the CANARY strategy with neither a load balancer nor Service Connect",
    ]);
    assert!(
        run.hint().contains("use strategy ROLLING"),
        "{}",
        run.dump()
    );
    assert_eq!(calls(&sim), (0, 0), "{}", run.dump());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_puts_the_strategy_in_the_job_summary_before_the_rollout() {
    let sim = web_on(json!({})).await;
    let run = job(&sim, "web").await.run().await;
    run.assert_code(0);
    let strategy = run
        .summary
        .find("deployment strategy on prod")
        .unwrap_or_else(|| panic!("no strategy section\n{}", run.dump()));
    let rollout = run
        .summary
        .find("rollout to prod")
        .expect("rollout section");
    assert!(strategy < rollout, "{}", run.summary);
    assert!(
        run.summary
            .contains("- **web**\n  - strategy ROLLING: tasks replaced in place"),
        "{}",
        run.summary
    );
    assert!(
        run.stderr
            .contains("strategy ROLLING: tasks replaced in place"),
        "the plan is logged\n{}",
        run.dump()
    );
    assert_eq!(calls(&sim), (1, 1));
}
