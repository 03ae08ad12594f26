//! The service-deployment reader against the ECS simulator over HTTP, judged by the acceptor
//! as the watch will: a failing hook named with its stage, a pause released by ECS's rollback,
//! `wait-until: traffic-shifted` returning during the bake time, the plan's strategy lines and
//! refusals from DescribeServices.

use oidc_ecs_deploy::rollout::deployment_verdict::{
    DeploymentVerdict, WaitUntil, judge, wait_satisfied,
};
use oidc_ecs_deploy::rollout::service_deployment::ServiceDeploymentReader;
use oidc_ecs_deploy::rollout::strategy_plan::{StrategyRefusal, plan_lines, strategy_refusals};
use serde_json::{Value, json};
use testbed::ecs::{DeploymentsSetup, LambdaScript};
use testbed::{EcsSimulator, ServiceSeed};

const HOOK: &str = "arn:aws:lambda:us-east-1:123456789012:function:smoke-test";

struct Bed {
    sim: EcsSimulator,
    ecs: aws_sdk_ecs::Client,
    reader: ServiceDeploymentReader,
    serving: String,
}

/// Service prod/web on the simulator (one poll = one simulated minute) with `setup`.
async fn bed(setup: DeploymentsSetup) -> Bed {
    let sim = EcsSimulator::start_with_step(60).await.unwrap();
    let seeded = sim
        .seed_service(ServiceSeed {
            cluster: "prod".into(),
            service: "web".into(),
            ..ServiceSeed::default()
        })
        .unwrap();
    assert!(sim.set_deployments_setup("prod", "web", setup));
    let credentials = aws_credential_types::Credentials::new(
        "AKIAIOSFODNN7EXAMPLE",
        "secret",
        None,
        None,
        "test",
    );
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(credentials)
        .endpoint_url(sim.endpoint())
        .load()
        .await;
    Bed {
        ecs: aws_sdk_ecs::Client::new(&config),
        reader: ServiceDeploymentReader::new(&config),
        sim,
        serving: seeded.task_definition_arn,
    }
}

fn blue_green(extra: Value) -> DeploymentsSetup {
    DeploymentsSetup::staged("BLUE_GREEN", 5, extra)
}

impl Bed {
    /// Registers a new revision and deploys it; returns the service deployment's ARN as
    /// UpdateService named it.
    async fn deploy(&self) -> String {
        let def = self
            .ecs
            .describe_task_definition()
            .task_definition(&self.serving)
            .send()
            .await
            .unwrap();
        let c = def.task_definition().unwrap().container_definitions()[0].clone();
        let c = aws_sdk_ecs::types::ContainerDefinition::builder()
            .name(c.name().unwrap())
            .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:3333333333333333333333333333333333333333333333333333333333333333")
            .essential(true)
            .build();
        let td = self
            .ecs
            .register_task_definition()
            .family("web")
            .container_definitions(c)
            .send()
            .await
            .unwrap();
        let arn = td
            .task_definition()
            .unwrap()
            .task_definition_arn()
            .unwrap()
            .to_owned();
        let out = self
            .ecs
            .update_service()
            .cluster("prod")
            .service("web")
            .task_definition(arn)
            .send()
            .await
            .unwrap();
        out.service()
            .unwrap()
            .current_service_deployment()
            .unwrap()
            .to_owned()
    }

    /// Polls as the watch will (DescribeServices moves the simulated clock, then the service
    /// deployment is read and judged) until `done`; returns the verdicts seen, deduplicated, and
    /// the last stage seen while moving forward.
    async fn watch(
        &self,
        arn: &str,
        done: impl Fn(&DeploymentVerdict) -> bool,
    ) -> (Vec<DeploymentVerdict>, Option<String>) {
        let (mut seen, mut last_stage): (Vec<DeploymentVerdict>, Option<String>) =
            (Vec::new(), None);
        for _ in 0..40 {
            self.ecs
                .describe_services()
                .cluster("prod")
                .services("web")
                .send()
                .await
                .unwrap();
            let snap = self.reader.read(arn).await.unwrap();
            let verdict = judge(&snap, last_stage.as_deref());
            if matches!(
                verdict,
                DeploymentVerdict::InProgress(_) | DeploymentVerdict::WaitingForPause(_)
            ) {
                last_stage = snap.lifecycle_stage.clone();
            }
            if seen.last() != Some(&verdict) {
                seen.push(verdict.clone());
            }
            if done(&verdict) {
                return (seen, last_stage);
            }
        }
        panic!("{arn}: not done after 40 polls: {seen:?}");
    }
}

#[tokio::test]
async fn a_failing_hook_is_read_as_ecs_rolling_back_naming_the_hook_and_its_stage() {
    let mut setup = blue_green(
        json!({"lifecycleHooks": [{"hookTargetArn": HOOK, "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}]}),
    );
    setup.script.lambda.insert(
        HOOK.into(),
        LambdaScript {
            fails_at: Some("POST_TEST_TRAFFIC_SHIFT".into()),
            in_progress_polls: 0,
        },
    );
    let bed = bed(setup).await;
    let arn = bed.deploy().await;
    let (seen, _) = bed.watch(&arn, DeploymentVerdict::is_final).await;
    let stages: Vec<String> = seen
        .iter()
        .filter_map(|v| match v {
            DeploymentVerdict::InProgress(p) => p.stage.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(
        stages.first().map(String::as_str),
        Some("PRE_SCALE_UP"),
        "{seen:?}"
    );
    assert_eq!(
        stages.last().map(String::as_str),
        Some("POST_TEST_TRAFFIC_SHIFT"),
        "{seen:?}"
    );
    let rolling_back = seen
        .iter()
        .find_map(|v| match v {
            DeploymentVerdict::EcsRollingBack(r) => Some(r.clone()),
            _ => None,
        })
        .expect("ECS's rollback is seen while it runs");
    let DeploymentVerdict::EcsRolledBack(reason) = seen.last().unwrap() else {
        panic!("{seen:?}")
    };
    assert_eq!(reason, &rolling_back);
    let hook = reason.hook.as_ref().expect("the hook that failed");
    assert_eq!(
        (hook.hook.as_str(), hook.stage.as_deref()),
        (HOOK, Some("POST_TEST_TRAFFIC_SHIFT"))
    );
    assert!(
        reason.to_string().starts_with(&format!(
            "lifecycle hook {HOOK} answered FAILED at POST_TEST_TRAFFIC_SHIFT; ECS says: "
        )),
        "{reason}"
    );
    assert_eq!(bed.sim.calls("UpdateService"), 1);
    assert_eq!(
        bed.sim.service("prod", "web").unwrap().task_definition,
        bed.serving
    );
    // The service still names it as its current deployment (DescribeServices moves the clock:
    // asked last).
    assert_eq!(
        bed.reader
            .current_arn("prod", "web")
            .await
            .unwrap()
            .as_deref(),
        Some(arn.as_str())
    );
}

#[tokio::test]
async fn a_paused_deployment_gives_its_commands_and_stop_with_rollback_hands_it_to_ecs() {
    let bed = bed(blue_green(
        json!({"lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["POST_SCALE_UP"]}]}),
    ))
    .await;
    let arn = bed.deploy().await;
    let (seen, _) = bed
        .watch(&arn, |v| matches!(v, DeploymentVerdict::WaitingForPause(_)))
        .await;
    let DeploymentVerdict::WaitingForPause(pause) = seen.last().unwrap() else {
        unreachable!()
    };
    assert_eq!(pause.stage.as_deref(), Some("POST_SCALE_UP"));
    assert!(
        pause.continue_command.contains(&format!(
            "--service-deployment-arn {arn} --hook-id {}",
            pause.hook_id
        )),
        "{}",
        pause.continue_command
    );

    bed.reader.stop_with_rollback(&arn).await.unwrap();
    let (seen, _) = bed.watch(&arn, DeploymentVerdict::is_final).await;
    assert!(
        matches!(seen[0], DeploymentVerdict::EcsRollingBack(_)),
        "{seen:?}"
    );
    let DeploymentVerdict::EcsRolledBack(reason) = seen.last().unwrap() else {
        panic!("{seen:?}")
    };
    assert!(
        reason
            .text
            .as_deref()
            .unwrap()
            .contains("StopServiceDeployment"),
        "{reason}"
    );
    assert_eq!(
        (
            bed.sim.calls("UpdateService"),
            bed.sim.calls("StopServiceDeployment")
        ),
        (1, 1)
    );
    assert_eq!(
        bed.sim.service("prod", "web").unwrap().task_definition,
        bed.serving
    );
    // Over: ECS refuses a second stop, and says why.
    let err = bed.reader.stop_with_rollback(&arn).await.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("ConflictException"), "{err}");
}

#[tokio::test]
async fn wait_until_traffic_shifted_returns_during_the_bake_time() {
    let bed = bed(blue_green(json!({}))).await;
    let arn = bed.deploy().await;
    let (seen, _) = bed
        .watch(&arn, |v| wait_satisfied(WaitUntil::TrafficShifted, v))
        .await;
    let DeploymentVerdict::InProgress(p) = seen.last().unwrap() else {
        panic!("{seen:?}")
    };
    assert_eq!(
        (p.stage.as_deref(), p.production_weight),
        (Some("BAKE_TIME"), Some(100.0))
    );
    assert_eq!(
        bed.sim.service_deployment_state("prod", "web").unwrap().0,
        "IN_PROGRESS",
        "ECS is still baking"
    );
    assert!(!wait_satisfied(WaitUntil::Steady, seen.last().unwrap()));
    let started = seen
        .iter()
        .position(|v| wait_satisfied(WaitUntil::Started, v));
    assert_eq!(started, Some(0), "started is satisfied at the first read");
}

#[tokio::test]
async fn the_plan_reads_the_strategy_and_refuses_blue_green_without_an_alternate_target_group() {
    let mut setup = blue_green(
        json!({"alarms": {"alarmNames": ["web-5xx"], "enable": true, "rollback": true}}),
    );
    let bed = bed(setup.clone()).await;
    let settings = bed.reader.settings("prod", "web").await.unwrap();
    assert_eq!(settings.strategy(), "BLUE_GREEN");
    assert!(strategy_refusals("web", &settings).is_empty());
    let lines = plan_lines(&settings);
    assert!(
        lines[0].starts_with("strategy BLUE_GREEN") && lines[0].contains("bake time 5 min"),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"alarms web-5xx: rollback on".to_owned()),
        "{lines:?}"
    );

    setup.alternate_target_group = false;
    assert!(bed.sim.set_deployments_setup("prod", "web", setup));
    let settings = bed.reader.settings("prod", "web").await.unwrap();
    let refusals = strategy_refusals("web", &settings);
    assert!(
        matches!(
            &refusals[..],
            [StrategyRefusal::NoAlternateTargetGroup { .. }]
        ),
        "{refusals:?}"
    );
    assert_eq!(
        bed.sim.calls("UpdateService"),
        0,
        "the plan changes nothing"
    );
}

#[tokio::test]
async fn reading_what_does_not_exist_says_so() {
    let bed = bed(DeploymentsSetup::default()).await;
    let listed = bed.reader.list_arns("prod", "web", 10).await.unwrap();
    assert_eq!(listed.len(), 1, "the seeded deployment");
    let missing = format!("{}-gone", listed[0]);
    let err = bed.reader.read(&missing).await.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("MISSING"), "{err}");
    assert!(err.to_string().contains(&missing), "{err}");
    let err = bed.reader.list_arns("prod", "nope", 10).await.unwrap_err();
    assert_eq!(
        err.code.as_deref(),
        Some("ServiceNotFoundException"),
        "{err}"
    );
    let err = bed.reader.settings("prod", "nope").await.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("MISSING"), "{err}");
}
