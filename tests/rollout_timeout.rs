//! End-to-end test of the rollout's timeout path: the built binary run as the runner runs the
//! action against the testbed's ECS simulator, one service whose deployment never settles
//! (`NeverSettles`: 1 of 2 tasks running forever, no failure), `wait-for-minutes: 1`, the
//! default `rollback: true`. `wait-for-minutes` is measured on the wall clock, so this run takes
//! a real minute and more (the rollback then settles in a poll or two): the run's limit is raised
//! to 150 s. `OIDC_ECS_DEPLOY_POLL_SECONDS=5` keeps the poll count small and steady.

mod common;

use std::time::Duration;

use common::rollout::{self, seed, sim_with, task_definition};
use testbed::Scenario;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_that_never_settles_times_out_and_is_rolled_back() {
    let sim = sim_with(vec![seed("api", Scenario::NeverSettles)]).await;
    let old = task_definition(&sim, "api");
    let job = rollout::job(&sim, "api")
        .await
        .env("OIDC_ECS_DEPLOY_POLL_SECONDS", "5")
        .with("wait-for-minutes", "1")
        .timeout(Duration::from_secs(150));

    let run = job.run().await;

    run.assert_code(4).assert_stderr_has(&[
        "api: deployment ecs-svc/",
        "was not healthy within 1 minute",
        "rolled back to api:1",
        "still waiting for: ",
    ]);
    assert!(!run.stderr.contains("within 1 minutes"), "{}", run.dump());
    // What it was still waiting for: the second of the two desired tasks.
    let waiting = run
        .stderr
        .lines()
        .find(|l| l.contains("still waiting for: "))
        .expect("checked above");
    assert!(waiting.contains("1/2"), "{waiting}\n{}", run.dump());
    // It waited the minute, on the wall clock. (How much longer is a matter of load; the poll
    // count below bounds the work instead of a timing.)
    assert!(
        run.elapsed >= Duration::from_secs(60),
        "{:?}\n{}",
        run.elapsed,
        run.dump()
    );
    // Back on the revision that was serving; one registration, the update, and the rollback of
    // the service deployment still under way (StopServiceDeployment, stopType ROLLBACK).
    assert_eq!(task_definition(&sim, "api"), old);
    assert_eq!(sim.calls("RegisterTaskDefinition"), 1, "{}", run.dump());
    assert_eq!(sim.calls("UpdateService"), 1, "{}", run.dump());
    assert_eq!(sim.calls("StopServiceDeployment"), 1, "{}", run.dump());
    assert_eq!(run.output("rolled-back"), Some("true"), "{}", run.dump());
    assert_eq!(
        run.output("previous-task-definition-arn"),
        Some(old.as_str()),
        "{}",
        run.dump()
    );
    // A fixed 5 s interval over a minute: about a dozen polls, not a busy loop.
    let polls = sim.calls("DescribeServices");
    assert!(
        (8..=20).contains(&polls),
        "{polls} DescribeServices\n{}",
        run.dump()
    );
}
