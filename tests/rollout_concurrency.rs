//! Two deploys of one service at once (two workflow runs): the built binary twice against one
//! ECS simulator service (STS at moto), each run signing with its own access key so the
//! simulator can say who made each call. The service's deployments are held in progress
//! (`EcsSimulator::hold`) while the second run starts, so the order never depends on timing.
//! `when-busy: wait` waits for the first run's deployment and then deploys; `refuse` exits 3
//! having changed nothing; and a run whose deployment is replaced by another's stops watching,
//! says so, and rolls nothing back.

mod common;

use std::future::Future;
use std::time::Duration;

use common::rollout::{CLUSTER, deploy, seed, sim_with, task_definition};
use common::{ActionRun, Run};
use testbed::ecs::{SIM_ACCOUNT, SIM_REGION};
use testbed::{EcsSimulator, Moto, Scenario};

/// The access keys of the two runs (the simulator records who signed each call).
const FIRST: &str = "AKIAFIRSTRUN00000001";
const SECOND: &str = "AKIASECONDRUN0000002";

/// A run deploying image `tag` to `api`, signing with `key`.
async fn run_as(sim: &EcsSimulator, key: &str, tag: &str) -> ActionRun {
    let moto = Moto::shared()
        .await
        .expect("start moto (scripts/setup.sh installs it)");
    let image = format!(
        "{SIM_ACCOUNT}.dkr.ecr.{SIM_REGION}.amazonaws.com/app@sha256:{}",
        tag.repeat(32)
    );
    deploy(sim, "api")
        .with("containers", &format!("app={image}"))
        .env("AWS_ACCESS_KEY_ID", key)
        .env(
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        )
        .env("AWS_ENDPOINT_URL_STS", moto.endpoint())
}

/// Polls `done` every 20 ms; panics after a minute (a hang, not a timing assertion).
async fn until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..3000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("gave up waiting until {what}");
}

fn spawn(run: impl Future<Output = Run> + Send + 'static) -> tokio::task::JoinHandle<Run> {
    tokio::spawn(run)
}

/// The service with the first run's deployment held in progress: returns the first run,
/// still watching, and the deployment it started.
async fn first_run_in_progress(sim: &EcsSimulator) -> (tokio::task::JoinHandle<Run>, String) {
    sim.hold(CLUSTER, "api", true);
    let first = spawn(run_as(sim, FIRST, "aa").await.run());
    until("the first run updated the service", || {
        sim.calls_by("UpdateService", FIRST) == 1
    })
    .await;
    let primary = sim.service(CLUSTER, "api").unwrap().deployments[0].clone();
    assert_eq!(primary.rollout_state, "IN_PROGRESS");
    (first, primary.id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_second_run_waits_for_the_first_then_deploys_and_nobody_rolls_back() {
    let sim = sim_with(vec![seed("api", Scenario::HealthyRolling)]).await;
    let served = task_definition(&sim, "api");
    let (first, first_deployment) = first_run_in_progress(&sim).await;
    let first_revision = task_definition(&sim, "api");

    let second = spawn(run_as(&sim, SECOND, "bb").await.run());
    // The second run is polling the busy service (and has changed nothing): let ECS move on.
    until("the second run polls while it waits", || {
        sim.calls_by("DescribeServices", SECOND) >= 4
    })
    .await;
    assert_eq!(sim.calls_by("UpdateService", SECOND), 0);
    assert_eq!(sim.calls_by("RegisterTaskDefinition", SECOND), 0);
    sim.hold(CLUSTER, "api", false);

    let first = first.await.unwrap();
    let second = second.await.unwrap();
    first.assert_code(0);
    second.assert_code(0).assert_stderr_has(&[
        &format!("api: deployment {first_deployment} of api:2 ("),
        // Who: the first run's role session registered the revision it rolls out.
        &format!("its revision registered by arn:aws:sts::{SIM_ACCOUNT}:assumed-role/deploy/{FIRST})"),
        "is in progress, not started by this run: waiting up to 30 min for it to finish before deploying (when-busy: wait)",
        "nothing else is deploying api any more: deciding from what serves now",
    ]);
    // Exactly one update each, and neither rolled the other back.
    assert_eq!(sim.calls_by("UpdateService", FIRST), 1, "{}", first.dump());
    assert_eq!(
        sim.calls_by("UpdateService", SECOND),
        1,
        "{}",
        second.dump()
    );
    assert_eq!(sim.calls("UpdateService"), 2);
    assert_eq!(first.output("rolled-back"), Some("false"));
    assert_eq!(second.output("rolled-back"), Some("false"));
    // The second deployed over what the first left serving.
    let now = task_definition(&sim, "api");
    assert!(now.ends_with("api:3"), "{now}");
    assert_eq!(
        first.output("task-definition-arn"),
        Some(first_revision.as_str())
    );
    assert_eq!(
        second.output("previous-task-definition-arn"),
        Some(first_revision.as_str())
    );
    assert_ne!(first_revision, served);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuse_exits_3_naming_the_deployment_and_changes_nothing() {
    let sim = sim_with(vec![seed("api", Scenario::HealthyRolling)]).await;
    let (first, first_deployment) = first_run_in_progress(&sim).await;
    let first_revision = task_definition(&sim, "api");

    let second = run_as(&sim, SECOND, "bb")
        .await
        .with("when-busy", "refuse")
        .run()
        .await;
    second.assert_code(3).assert_stderr_has(&[
        &format!("another deployment is in progress, not started by this run (when-busy: refuse): api: deployment {first_deployment} of api:2"),
        &format!("assumed-role/deploy/{FIRST}"),
        "nothing was registered or updated; the other deployment was left alone",
    ]);
    assert!(
        second.hint().contains("concurrency:"),
        "the hint names GitHub's concurrency\n{}",
        second.dump()
    );
    for op in [
        "RegisterTaskDefinition",
        "UpdateService",
        "StopServiceDeployment",
    ] {
        assert_eq!(sim.calls_by(op, SECOND), 0, "{op}\n{}", second.dump());
    }
    assert_eq!(task_definition(&sim, "api"), first_revision);

    sim.hold(CLUSTER, "api", false);
    first.await.unwrap().assert_code(0);
    assert_eq!(sim.calls("UpdateService"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_deployment_is_replaced_stops_and_rolls_nothing_back() {
    let sim = sim_with(vec![seed("api", Scenario::HealthyRolling)]).await;
    let (first, first_deployment) = first_run_in_progress(&sim).await;

    // Someone deploys over it (`replace`: no waiting).
    let second = spawn(
        run_as(&sim, SECOND, "bb")
            .await
            .with("when-busy", "replace")
            .run(),
    );
    until("the second run updated the service", || {
        sim.calls_by("UpdateService", SECOND) == 1
    })
    .await;
    let second_deployment = sim.service(CLUSTER, "api").unwrap().deployments[0]
        .id
        .clone();
    assert_ne!(second_deployment, first_deployment);
    sim.hold(CLUSTER, "api", false);

    let first = first.await.unwrap();
    let second = second.await.unwrap();
    first.assert_code(4).assert_stderr_has(&[
        &format!("api: deployment {first_deployment} was superseded by another deployment, nothing was rolled back"),
        &format!("another deployment ({second_deployment}, "),
        "replaced ours on api: someone else deployed during the rollout; theirs is left as it is",
    ]);
    assert!(first.hint().contains("concurrency:"), "{}", first.dump());
    second.assert_code(0);
    // The first run rolled nothing back: one update each, the second's revision serves.
    assert_eq!(sim.calls_by("UpdateService", FIRST), 1, "{}", first.dump());
    assert_eq!(sim.calls_by("StopServiceDeployment", FIRST), 0);
    assert_eq!(
        sim.calls_by("UpdateService", SECOND),
        1,
        "{}",
        second.dump()
    );
    assert_eq!(
        first.output("rolled-back"),
        Some("false"),
        "{}",
        first.dump()
    );
    let now = task_definition(&sim, "api");
    assert!(now.ends_with("api:3"), "{now}");
    assert_eq!(second.output("task-definition-arn"), Some(now.as_str()));
}
