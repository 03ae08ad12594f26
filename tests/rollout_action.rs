//! End-to-end tests of the rollout stage: the built binary run as the runner runs the action,
//! with the environment's credentials (STS GetCallerIdentity at moto) and ECS, ELBv2 and
//! CloudWatch Logs at the testbed's ECS simulator, one scenario a test. Each asserts the exit
//! code, what the user reads, the outputs, the service's final task definition, and how many
//! RegisterTaskDefinition and UpdateService calls were made.
//!
//! `OIDC_ECS_DEPLOY_POLL_SECONDS=0`: the simulator moves its own clock 15 s per
//! DescribeServices, so the runs take a second or two, not minutes. Not covered here: a
//! deployment that never settles and a probe that never answers, because `wait-for-minutes` is
//! at least one real minute and the harness gives a run 60 s (the timeout path is unit-tested
//! in `rollout::watch` on a fake clock).

mod common;

use common::Run;
use common::rollout::{CLUSTER, calls, job, new_image, seed, sim_with, task_definition};
use testbed::ecs::{SIM_ACCOUNT, SIM_REGION};
use testbed::{Scenario, ServiceSeed};

fn assert_outputs(run: &Run, serving: &str, rolled_back: &str, previous: &str) {
    assert_eq!(
        run.output("task-definition-arn"),
        Some(serving),
        "{}",
        run.dump()
    );
    assert_eq!(
        run.output("rolled-back"),
        Some(rolled_back),
        "{}",
        run.dump()
    );
    assert_eq!(
        run.output("previous-task-definition-arn"),
        Some(previous),
        "{}",
        run.dump()
    );
    assert!(
        run.output("deployment-id")
            .is_some_and(|d| d.starts_with("ecs-svc/")),
        "{}",
        run.dump()
    );
}

/// Our own rollback of a deployment still under way: StopServiceDeployment (stopType
/// ROLLBACK), the only UpdateService being the deploy's.
fn assert_rolled_back_by_stop(sim: &testbed::EcsSimulator, run: &Run) {
    assert_eq!(calls(sim), (1, 1), "{}", run.dump());
    assert_eq!(sim.calls("StopServiceDeployment"), 1, "{}", run.dump());
    run.assert_stderr_has(&["StopServiceDeployment", "stopType ROLLBACK"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_rollout_registers_once_and_a_rerun_changes_nothing() {
    let sim = sim_with(vec![seed("api", Scenario::HealthyRolling)]).await;
    let old = task_definition(&sim, "api");
    let run = job(&sim, "api").await.run().await;
    run.assert_code(0);
    let new = task_definition(&sim, "api");
    assert_ne!(new, old);
    assert_eq!(calls(&sim), (1, 1));
    assert_outputs(&run, &new, "false", &old);
    assert!(run.summary.contains("rollout"), "{}", run.dump());

    // The same inputs again: the service already runs an identical definition.
    let again = job(&sim, "api").await.run().await;
    again.assert_code(0).assert_stderr_has(&["nothing to do"]);
    assert_eq!(calls(&sim), (1, 1), "{}", again.dump());
    assert_eq!(again.output("task-definition-arn"), Some(new.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_services_share_one_registration() {
    let shared = |name: &str| ServiceSeed {
        family: Some("shop".into()),
        ..seed(name, Scenario::HealthyRolling)
    };
    let sim = sim_with(vec![shared("api"), shared("worker")]).await;
    let old = task_definition(&sim, "api");
    assert_eq!(task_definition(&sim, "worker"), old);
    let run = job(&sim, "api, worker").await.run().await;
    run.assert_code(0);
    assert_eq!(calls(&sim), (1, 2), "{}", run.dump());
    let new = task_definition(&sim, "api");
    assert_ne!(new, old);
    assert_eq!(task_definition(&sim, "worker"), new);
    assert_outputs(&run, &new, "false", &old);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_loop_rolls_back_and_shows_the_last_words() {
    let sim = sim_with(vec![seed("api", Scenario::CrashLoop)]).await;
    let old = task_definition(&sim, "api");
    let run = job(&sim, "api").await.run().await;
    run.assert_code(4).assert_stderr_has(&[
        "rolled back to api:1",
        "Essential container in task exited",
        "container app: exit code 1",
        "last log lines (/ecs/api, ecs/app/",
        "Error: DATABASE_URL is not set",
        "is serving api:1 again",
        "hint: ",
    ]);
    assert_eq!(task_definition(&sim, "api"), old);
    assert_rolled_back_by_stop(&sim, &run);
    assert_outputs(&run, &old, "true", &old);
    assert!(!run.error_annotations().is_empty(), "{}", run.dump());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_that_cannot_be_pulled_is_named_and_rolled_back() {
    let sim = sim_with(vec![seed("api", Scenario::CannotPull)]).await;
    let old = task_definition(&sim, "api");
    let run = job(&sim, "api").await.run().await;
    run.assert_code(4)
        .assert_stderr_has(&["CannotPullContainerError", "rolled back to api:1"]);
    assert!(
        run.hint().to_lowercase().contains("image"),
        "{}",
        run.dump()
    );
    assert_eq!(task_definition(&sim, "api"), old);
    assert_rolled_back_by_stop(&sim, &run);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circuit_breaker_rollback_is_reported_not_repeated() {
    let sim = sim_with(vec![seed("api", Scenario::CircuitBreakerRollback)]).await;
    let old = task_definition(&sim, "api");
    let run = job(&sim, "api").await.run().await;
    run.assert_code(4).assert_stderr_has(&[
        "ECS rolled it back to api:1",
        "the circuit breaker counted ",
        "failed tasks (threshold 3)",
    ]);
    assert_eq!(calls(&sim), (1, 1), "no second rollback\n{}", run.dump());
    assert_eq!(task_definition(&sim, "api"), old);
    assert_eq!(run.output("rolled-back"), Some("true"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_false_leaves_the_service_as_it_is() {
    let sim = sim_with(vec![seed("api", Scenario::CrashLoop)]).await;
    let old = task_definition(&sim, "api");
    let run = job(&sim, "api").await.with("rollback", "false").run().await;
    run.assert_code(4)
        .assert_stderr_has(&["left as it is (rollback: false)"]);
    assert_eq!(calls(&sim), (1, 1));
    assert_ne!(task_definition(&sim, "api"), old);
    assert_eq!(run.output("rolled-back"), Some("false"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_deploy_service_is_refused_before_any_change() {
    let sim = sim_with(vec![ServiceSeed {
        deployment_controller: "CODE_DEPLOY".into(),
        ..seed("api", Scenario::HealthyRolling)
    }])
    .await;
    let run = job(&sim, "api").await.run().await;
    run.assert_code(2).assert_stderr_has(&[
        "CODE_DEPLOY deployment controller",
        "nothing was registered or updated",
    ]);
    assert_eq!(calls(&sim), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_service_and_ec2_without_instances_are_refused() {
    let ec2 = ServiceSeed {
        launch_type: Some("EC2".into()),
        cluster_container_instances: Some(0),
        ..seed("legacy", Scenario::HealthyRolling)
    };
    let sim = sim_with(vec![ec2]).await;
    let run = job(&sim, "legacy,ghost").await.run().await;
    run.assert_code(2)
        .assert_stderr_has(&["the service ghost does not exist", "No Container Instances"]);
    assert_eq!(calls(&sim), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_prints_the_plan_and_changes_nothing() {
    let sim = sim_with(vec![seed("api", Scenario::HealthyRolling)]).await;
    let old = task_definition(&sim, "api");
    let run = job(&sim, "api").await.with("dry-run", "true").run().await;
    run.assert_code(0);
    assert!(
        run.stdout.contains(&format!(
            "image app: {SIM_ACCOUNT}.dkr.ecr.{SIM_REGION}.amazonaws.com/app:v1 -> {}",
            new_image()
        )),
        "{}",
        run.dump()
    );
    assert!(
        run.stdout
            .contains("service api: family api, serving api:1, gets a new revision of api: update"),
        "{}",
        run.dump()
    );
    assert_eq!(calls(&sim), (0, 0));
    assert_eq!(task_definition(&sim, "api"), old);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_polls_are_retried() {
    let sim = sim_with(vec![seed("api", Scenario::Throttling { first_n: 3 })]).await;
    let run = job(&sim, "api").await.run().await;
    run.assert_code(0);
    assert_eq!(calls(&sim), (1, 1));
    assert!(sim.calls("DescribeServices") > 3, "{}", run.dump());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_service_linked_role_is_named_with_its_fix() {
    let sim = sim_with(vec![seed("api", Scenario::ServiceLinkedRoleMissing)]).await;
    let old = task_definition(&sim, "api");
    let run = job(&sim, "api").await.run().await;
    run.assert_code(4)
        .assert_stderr_has(&["AWSServiceRoleForECS", "rolled back to api:1"]);
    assert!(
        run.hint().contains("create-service-linked-role"),
        "{}",
        run.dump()
    );
    assert_eq!(task_definition(&sim, "api"), old);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unhealthy_targets_fail_the_rollout() {
    let sim = sim_with(vec![seed("api", Scenario::TargetsUnhealthy)]).await;
    let old = task_definition(&sim, "api");
    let run = job(&sim, "api").await.run().await;
    run.assert_code(4)
        .assert_stderr_has(&["Task failed ELB health checks", "rolled back to api:1"]);
    assert!(run.hint().contains("health check"), "{}", run.dump());
    assert_eq!(task_definition(&sim, "api"), old);
    assert_rolled_back_by_stop(&sim, &run);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_yaml_task_definition_file_is_the_starting_point() {
    let sim = sim_with(vec![seed("api", Scenario::HealthyRolling)]).await;
    let run = job(&sim, "api").await;
    let yaml = format!(
        "family: api\nnetworkMode: awsvpc\nrequiresCompatibilities: [FARGATE]\ncpu: 512\nmemory: 1024\n\
         containerDefinitions:\n  - name: app\n    image: {SIM_ACCOUNT}.dkr.ecr.{SIM_REGION}.amazonaws.com/app:v1\n    \
         portMappings: [{{containerPort: 8080}}]\n    environment:\n      - {{name: LOG_LEVEL, value: debug}}\n"
    );
    let path = run.file("taskdef.yaml", &yaml);
    let run = run
        .with("task-definition", &path.display().to_string())
        .run()
        .await;
    run.assert_code(0);
    assert_eq!(calls(&sim), (1, 1));
    assert!(
        run.stderr.contains("environment[LOG_LEVEL]"),
        "{}",
        run.dump()
    );
    assert!(task_definition(&sim, "api").ends_with("api:2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_check_url_must_answer_before_the_rollout_counts() {
    let sim = sim_with(vec![seed("api", Scenario::HealthyRolling)]).await;
    let url = format!("{}/_sim/health/{CLUSTER}/api", sim.endpoint());
    let run = job(&sim, "api")
        .await
        .with("health-check-url", &url)
        .with("health-check-successes", "2")
        .run()
        .await;
    run.assert_code(0);
    assert!(sim.calls("HealthProbe") >= 2, "{}", run.dump());
    assert!(task_definition(&sim, "api").ends_with("api:2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_returns_to_the_last_completed_revision_not_one_in_progress() {
    let sim = sim_with(vec![seed("api", Scenario::DeploymentInProgress)]).await;
    let completed = sim
        .service(CLUSTER, "api")
        .unwrap()
        .deployments
        .iter()
        .find(|d| d.rollout_state == "COMPLETED")
        .map(|d| d.task_definition.clone())
        .expect("the seeded serving deployment");
    let in_progress = task_definition(&sim, "api");
    assert_ne!(completed, in_progress);
    assert!(sim.set_scenario(CLUSTER, "api", Scenario::CrashLoop));
    // Deploy over it (`when-busy: wait`, the default, would let it finish first).
    let run = job(&sim, "api")
        .await
        .with("when-busy", "replace")
        .run()
        .await;
    run.assert_code(4)
        .assert_stderr_has(&["rolled back to api:1"]);
    assert!(
        run.stdout
            .contains("::warning title=Rollout::api: deployment ")
            && run.stdout.contains("is still in progress"),
        "{}",
        run.dump()
    );
    assert_eq!(task_definition(&sim, "api"), completed);
    assert_eq!(
        run.output("previous-task-definition-arn"),
        Some(completed.as_str())
    );
}

/// The detection target, as a behaviour rather than a timing (the latency itself is
/// measured by `scripts/bench-rollout.sh`): the poll that first shows the failure is the last
/// one; the action acts on it (the rollback's StopServiceDeployment) without waiting for
/// another poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visible_failure_is_acted_on_at_the_poll_that_shows_it() {
    let sim = sim_with(vec![seed("api", Scenario::ServiceLinkedRoleMissing)]).await;
    let run = job(&sim, "api")
        .await
        .env("OIDC_ECS_DEPLOY_POLL_SECONDS", "1")
        .run()
        .await;
    run.assert_code(4);
    let visible = sim
        .failure_visible_at(CLUSTER, "api")
        .expect("the simulator saw the failure");
    let log = sim.call_log();
    let rollback = log
        .iter()
        .find(|c| c.op == "StopServiceDeployment")
        .expect("a rollback through StopServiceDeployment")
        .at;
    let polls_in_between: Vec<_> = log
        .iter()
        .filter(|c| c.op == "DescribeServices" && c.at > visible && c.at < rollback)
        .collect();
    assert!(
        polls_in_between.is_empty(),
        "the action polled {} more time(s) before acting on a visible failure\n{}",
        polls_in_between.len(),
        run.dump()
    );
}
