//! End-to-end tests of cancellation: the built binary run as the runner runs the action, then
//! sent SIGTERM or SIGINT as the runner sends them to a cancelled step, at each stage: while it
//! waits on a rollout that never settles (the service must go back to its previous revision),
//! while it pushes (no tag may name an incomplete image), while it authenticates (nothing may
//! change), and twice (the second signal ends it at once); with the rollback's request failed
//! or unanswered (the `rolled-back` output and the message must say so), and with a GitHub
//! Deployment, which must get its final status. Each asserts the exit code (5), the message,
//! the summary and what the simulator, the registry or GitHub's API received.

#[path = "common/image_bed.rs"]
mod bed;
mod common;
#[path = "image_fixtures.rs"]
mod fixtures;
#[path = "common/github_bed.rs"]
mod github_bed;

use std::time::Duration;

use bed::{Bed, SHA, blobs, layout_with_image, oci, repo_name};
use common::rollout::{self, seed, sim_with, task_definition};
use common::{Run, Running, assert_no_leaks, role_arn, unique};
use github_bed::{
    Github, TOKEN, assert_valid_for_github, bad_gateway, body, production_job, states, warnings,
};
use serde_json::json;
use testbed::fault::STS_XMLNS;
use testbed::{EcsSimulator, Fault, FaultProxy, Matcher, OidcIssuer, Scenario, StsFault};

/// The exit code of a cancelled run.
const CANCELLED: i32 = 5;
/// Longer than any test runs: a request held this long is never answered while it matters.
const HELD: Duration = Duration::from_secs(300);
/// How long a cancelled run may take to end, from the signal (the bound).
const WIND_DOWN: Duration = Duration::from_secs(40);

/// Returns `running` once `ready` holds (it reached the point the test signals it at); fails
/// the test with the run's output if it ended before.
async fn reach(mut running: Running, what: &str, ready: impl Fn() -> bool) -> Running {
    while !ready() {
        if running.exited() {
            panic!(
                "the run ended before {what}\n{}",
                running.finish().await.dump()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    running
}

/// Returns `running` once it has updated its `services` services and polled them twice since.
async fn into_the_wait(running: Running, sim: &EcsSimulator, services: usize) -> Running {
    let running = reach(running, "the UpdateService", || {
        sim.calls("UpdateService") == services
    })
    .await;
    // The plan described the service before; the wait's polls come after the update.
    let before = sim.calls("DescribeServices");
    reach(running, "the wait", || {
        sim.calls("DescribeServices") >= before + 2
    })
    .await
}

/// The annotation, the summary section and balanced log groups every cancelled run shows.
fn assert_reported_cancelled(run: &Run, headline: &str) {
    run.assert_code(CANCELLED)
        .assert_stderr_has(&[headline])
        .assert_annotation("Cancelled", headline);
    assert!(
        run.summary.contains("oidc-ecs-deploy: Cancelled"),
        "the summary does not say the job was cancelled\n{}",
        run.dump()
    );
    let opened = run.stdout.matches("::group::").count();
    let closed = run.stdout.matches("::endgroup::").count();
    assert_eq!(opened, closed, "a log group was left open\n{}", run.dump());
}

/// The rollout job on `services` that never settle, its ECS calls through `ecs` (the
/// simulator, or a proxy in front of it), polling every second.
async fn never_settling(sim: &EcsSimulator, services: &str, ecs: &str) -> Running {
    rollout::job(sim, services)
        .await
        .env("AWS_ENDPOINT_URL_ECS", ecs)
        .env("OIDC_ECS_DEPLOY_POLL_SECONDS", "1")
        .timeout(WIND_DOWN)
        .spawn()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_the_wait_requests_the_rollback_and_says_so() {
    let sim = sim_with(vec![seed("api", Scenario::NeverSettles)]).await;
    let old = task_definition(&sim, "api");
    let running = never_settling(&sim, "api", sim.endpoint()).await;
    let running = reach(running, "the UpdateService", || {
        sim.calls("UpdateService") == 1
    })
    .await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let polls = sim.calls("DescribeServices");
    assert!(polls >= 2, "6 s into the wait, {polls} polls");
    assert_ne!(task_definition(&sim, "api"), old, "the update took effect");

    running.signal("TERM");
    let run = running.finish().await;

    assert_reported_cancelled(
        &run,
        "the job was cancelled (SIGTERM) during the rollout; api: rollback to api:1 requested",
    );
    run.assert_stderr_has(&[
        "api had been updated to api:2: rollback to api:1 requested (ECS accepted StopServiceDeployment with ROLLBACK)",
        "the run stopped before it could watch it settle",
    ]);
    // The simulator: the rollback of the service deployment the update started was issued
    // (ECS's own way back to the revision that served), and nothing after.
    assert_eq!(task_definition(&sim, "api"), old, "{}", run.dump());
    assert_eq!(sim.calls("StopServiceDeployment"), 1, "{}", run.dump());
    assert_eq!(sim.calls("UpdateService"), 1, "{}", run.dump());
    assert_eq!(sim.calls("RegisterTaskDefinition"), 1, "{}", run.dump());
    // The outputs say the rollback was requested, not that it settled.
    assert_eq!(
        run.output("rolled-back"),
        Some("requested"),
        "{}",
        run.dump()
    );
    assert_eq!(run.output("task-definition-arn"), Some(old.as_str()));
    assert_eq!(
        run.output("previous-task-definition-arn"),
        Some(old.as_str())
    );
    assert!(
        run.summary.contains("rollout to prod (cancelled)")
            && run.summary.contains("cancelled, rollback requested"),
        "{}",
        run.dump()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_ends_the_run_at_once() {
    let sim = sim_with(vec![seed("api", Scenario::NeverSettles)]).await;
    // The rollback's request is held, so the wind-down is still waiting for it when the
    // second signal comes.
    let ecs = stop_service_deployment_proxy(&sim, Fault::Delay(HELD)).await;
    let running = never_settling(&sim, "api", ecs.endpoint()).await;
    let running = into_the_wait(running, &sim, 1).await;

    running.signal("INT");
    let running = reach(running, "the rollback request", || ecs.request_count() == 1).await;
    running.signal("TERM");
    let run = running.finish().await;

    run.assert_code(CANCELLED)
        .assert_stderr_has(&["SIGTERM again: the job was cancelled; exiting at once"]);
    // It did not wait for the held request (the wind-down would have written its summary).
    assert!(!run.summary.contains("(cancelled)"), "{}", run.dump());
    assert_eq!(
        sim.calls("StopServiceDeployment"),
        0,
        "the held rollback reached ECS"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_stop_service_deployment_the_service_is_updated_back() {
    let sim = sim_with(vec![seed("api", Scenario::NeverSettles)]).await;
    let old = task_definition(&sim, "api");
    let denied = Fault::JsonError {
        status: 400,
        error_type: "AccessDeniedException".into(),
        message: "not authorized to perform: ecs:StopServiceDeployment".into(),
    };
    let ecs = stop_service_deployment_proxy(&sim, denied).await;
    let running = never_settling(&sim, "api", ecs.endpoint()).await;
    let running = into_the_wait(running, &sim, 1).await;

    running.signal("TERM");
    let run = running.finish().await;

    assert_reported_cancelled(
        &run,
        "the job was cancelled (SIGTERM) during the rollout; api: rollback to api:1 requested",
    );
    run.assert_stderr_has(&["rollback to api:1 requested (UpdateService accepted, deployment "]);
    assert_eq!(ecs.request_count(), 1, "{}", run.dump());
    assert_eq!(sim.calls("UpdateService"), 2, "{}", run.dump());
    assert_eq!(task_definition(&sim, "api"), old, "{}", run.dump());
    assert_eq!(
        run.output("rolled-back"),
        Some("requested"),
        "{}",
        run.dump()
    );
}

/// A run cancelled (SIGTERM) in the wait whose rollback requests (StopServiceDeployment, then
/// the UpdateService back) ECS answers with `faults`; the proxy in front of the simulator.
async fn cancelled_with_rollback_faults(
    faults: Vec<Fault>,
) -> (EcsSimulator, FaultProxy, String, Run) {
    let sim = sim_with(vec![seed("api", Scenario::NeverSettles)]).await;
    let old = task_definition(&sim, "api");
    let rollback_calls = |r: &testbed::RecordedRequest| {
        r.header("x-amz-target")
            .is_some_and(|t| t.ends_with(".StopServiceDeployment") || t.ends_with(".UpdateService"))
    };
    let ecs = FaultProxy::start(
        Some(sim.endpoint().to_owned()),
        Vec::new(),
        Matcher::Custom(std::sync::Arc::new(rollback_calls)),
        STS_XMLNS,
    )
    .await
    .expect("start the ECS proxy");
    let running = never_settling(&sim, "api", ecs.endpoint()).await;
    let running = into_the_wait(running, &sim, 1).await;
    // The deploy's own UpdateService went through; the rollback's meet the faults.
    ecs.push(faults);
    running.signal("TERM");
    let run = running.finish().await;
    (sim, ecs, old, run)
}

/// Where a service stands after a rollback ECS did not accept: still on the new revision, the
/// outputs saying so, `rolled-back` not claiming a rollback.
fn assert_left_on_the_new_revision(sim: &EcsSimulator, old: &str, run: &Run) {
    let new = task_definition(sim, "api");
    assert_ne!(new, old, "{}", run.dump());
    assert_eq!(sim.calls("UpdateService"), 1, "{}", run.dump());
    assert_eq!(sim.calls("StopServiceDeployment"), 0, "{}", run.dump());
    assert_eq!(run.output("rolled-back"), Some("false"), "{}", run.dump());
    assert_eq!(run.output("task-definition-arn"), Some(new.as_str()));
    assert_eq!(run.output("previous-task-definition-arn"), Some(old));
    run.assert_stderr_has(&[
        "it may still run api:2: check its deployments in the ECS console (the job summary links them) and, if it does, update it back to api:1",
    ]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_rollback_is_reported_as_failed_not_requested() {
    let denied = |operation: &str| Fault::JsonError {
        status: 400,
        error_type: "AccessDeniedException".into(),
        message: format!("not authorized to perform: ecs:{operation}"),
    };
    let faults = vec![denied("StopServiceDeployment"), denied("UpdateService")];
    let (sim, ecs, old, run) = cancelled_with_rollback_faults(faults).await;

    assert_reported_cancelled(
        &run,
        "the job was cancelled (SIGTERM) during the rollout; api: rollback failed",
    );
    run.assert_stderr_has(&[
        "api had been updated to api:2: the rollback to api:1 failed: ",
        "not authorized to perform: ecs:UpdateService",
    ]);
    // Both of the rollback's ways were tried, and neither reached ECS.
    assert_eq!(ecs.request_count(), 3, "{}", run.dump());
    assert_eq!(ecs.remaining(), 0, "{}", run.dump());
    assert_left_on_the_new_revision(&sim, &old, &run);
    assert!(
        run.summary.contains("cancelled, rollback failed"),
        "{}",
        run.dump()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_rollback_is_reported_as_unanswered_not_requested() {
    let (sim, ecs, old, run) = cancelled_with_rollback_faults(vec![Fault::Delay(HELD)]).await;

    assert_reported_cancelled(
        &run,
        "the job was cancelled (SIGTERM) during the rollout; api: rollback request unanswered",
    );
    run.assert_stderr_has(&[
        "api had been updated to api:2: ECS did not answer the rollback request (to api:1) within 5 s, so it may or may not have taken it",
    ]);
    // The held StopServiceDeployment, and nothing after it.
    assert_eq!(ecs.request_count(), 2, "{}", run.dump());
    assert_left_on_the_new_revision(&sim, &old, &run);
    assert!(
        run.summary.contains("cancelled, rollback unanswered"),
        "{}",
        run.dump()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_whose_turn_never_came_is_named_as_not_requested() {
    let sim = sim_with(vec![
        seed("api", Scenario::NeverSettles),
        seed("worker", Scenario::NeverSettles),
    ])
    .await;
    let worker = task_definition(&sim, "worker");
    // api's rollback is held past the time for the requests: worker's never gets its turn.
    let ecs = stop_service_deployment_proxy(&sim, Fault::Delay(HELD)).await;
    let running = never_settling(&sim, "api, worker", ecs.endpoint()).await;
    let running = into_the_wait(running, &sim, 2).await;

    running.signal("TERM");
    let run = running.finish().await;

    assert_reported_cancelled(
        &run,
        "the job was cancelled (SIGTERM) during the rollout; api: rollback request unanswered; worker: rollback not requested (no time left)",
    );
    run.assert_stderr_has(&[
        "worker had been updated to worker:2: its rollback to worker:1 was not requested: the 5 s for the requests ran out before its turn; it may still run worker:2",
    ]);
    assert_eq!(ecs.request_count(), 1, "api's only\n{}", run.dump());
    assert_eq!(sim.calls("UpdateService"), 2, "{}", run.dump());
    assert_eq!(sim.calls("StopServiceDeployment"), 0, "{}", run.dump());
    assert_ne!(task_definition(&sim, "worker"), worker, "{}", run.dump());
    assert_eq!(run.output("rolled-back"), Some("false"), "{}", run.dump());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_deploy_gives_its_github_deployment_a_final_status() {
    let bed = github_bed::bed(json!({}), Scenario::NeverSettles, Github::Prism).await;
    let old = task_definition(&bed.sim, "api");
    let job = production_job(&bed)
        .await
        .env("OIDC_ECS_DEPLOY_POLL_SECONDS", "1")
        .timeout(WIND_DOWN);
    let run_id = job.run_id();
    let running = into_the_wait(job.spawn(), &bed.sim, 1).await;
    assert_eq!(states(&bed), ["in_progress"]);

    running.signal("INT");
    let run = running.finish().await;

    assert_reported_cancelled(
        &run,
        "the job was cancelled (SIGINT) during the rollout; api: rollback to api:1 requested",
    );
    assert_eq!(task_definition(&bed.sim, "api"), old, "{}", run.dump());
    assert_eq!(run.output("rolled-back"), Some("requested"));
    assert_valid_for_github(&bed, &run).await;
    assert_eq!(states(&bed), ["in_progress", "failure"], "{}", run.dump());
    let last = body(bed.github.requests().last().expect("requests"));
    assert_eq!(
        last["description"], "cancelled (SIGINT); api: rollback to api:1 requested",
        "{last}"
    );
    assert_eq!(
        last["log_url"],
        format!("https://github.com/octo-org/payments/actions/runs/{run_id}")
    );
    assert!(warnings(&run).is_empty(), "{}", run.dump());
    assert_no_leaks(&run, &[("github-token", TOKEN)], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_cancelled_while_marked_in_progress_still_gets_its_final_status() {
    // The Deployment is created; its `in_progress` is held until the job is cancelled.
    let github = Github::PrismAfter(vec![Fault::Forward, Fault::Delay(HELD)]);
    let bed = github_bed::bed(json!({}), Scenario::NeverSettles, github).await;
    let old = task_definition(&bed.sim, "api");
    let running = production_job(&bed).await.timeout(WIND_DOWN).spawn();
    let running = reach(running, "the in_progress status", || {
        bed.github.request_count() == 2
    })
    .await;

    running.signal("TERM");
    let run = running.finish().await;

    assert_reported_cancelled(&run, "the job was cancelled (SIGTERM) during the rollout");
    run.assert_stderr_has(&["no service was updated"]);
    assert_eq!(states(&bed), ["in_progress", "failure"], "{}", run.dump());
    let last = body(bed.github.requests().last().expect("requests"));
    assert_eq!(
        last["description"], "cancelled (SIGTERM); no service was updated",
        "{last}"
    );
    assert_valid_for_github(&bed, &run).await;
    assert_eq!(bed.sim.calls("UpdateService"), 0, "{}", run.dump());
    assert_eq!(task_definition(&bed.sim, "api"), old);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_final_status_github_does_not_take_is_a_warning_and_holds_nothing_up() {
    let bed = github_bed::bed(json!({}), Scenario::NeverSettles, Github::Prism).await;
    let job = production_job(&bed)
        .await
        .env("OIDC_ECS_DEPLOY_POLL_SECONDS", "1")
        .timeout(WIND_DOWN);
    let running = into_the_wait(job.spawn(), &bed.sim, 1).await;
    // The final status: a 502, then a retry that GitHub holds past the step's last seconds.
    bed.github.push([bad_gateway(), Fault::Delay(HELD)]);

    running.signal("TERM");
    let run = running.finish().await;

    assert_reported_cancelled(
        &run,
        "the job was cancelled (SIGTERM) during the rollout; api: rollback to api:1 requested",
    );
    assert_eq!(
        states(&bed),
        ["in_progress", "failure", "failure"],
        "one retry, then given up
{}",
        run.dump()
    );
    assert!(
        warnings(&run)
            .iter()
            .any(|w| w.contains("title=GitHub Deployment")
                && w.contains("may still show in progress")
                && w.contains("all the time a cancelled step has")),
        "{}",
        run.dump()
    );
    assert_eq!(run.output("rolled-back"), Some("requested"));
}

/// A proxy in front of the simulator answering its first StopServiceDeployment with `fault`.
async fn stop_service_deployment_proxy(sim: &EcsSimulator, fault: Fault) -> FaultProxy {
    FaultProxy::start(
        Some(sim.endpoint().to_owned()),
        vec![fault],
        Matcher::AmzTarget(".StopServiceDeployment".into()),
        STS_XMLNS,
    )
    .await
    .expect("start the ECS proxy")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_during_the_push_leaves_no_tag() {
    let bed = Bed::start().await;
    let repo = repo_name("cancelled");
    bed.create_repository(&repo, "MUTABLE").await;
    let (layout, img) = layout_with_image();
    // Every blob upload is held as it starts: the push is cancelled with its blobs missing.
    // (The registry's upload URLs name the registry itself, so the proxy sees only the POST
    // that starts an upload.)
    let registry = FaultProxy::start(
        Some(bed.reg.endpoint().to_owned()),
        vec![Fault::Delay(HELD); blobs(&img).len()],
        Matcher::Custom(std::sync::Arc::new(|r| {
            r.method == "POST" && r.path.contains("/blobs/uploads/")
        })),
        STS_XMLNS,
    )
    .await
    .expect("start the registry proxy");
    let running = bed
        .job_via(registry.endpoint(), &repo, &oci(layout.path()))
        .timeout(WIND_DOWN)
        .spawn();
    let running = reach(running, "a blob upload", || registry.request_count() >= 1).await;

    running.signal("INT");
    let run = running.finish().await;

    assert_reported_cancelled(
        &run,
        "the job was cancelled (SIGINT) while pushing the image",
    );
    run.assert_stderr_has(&["no tag names an incomplete image"]);
    // The registry: the blobs are missing, and neither the tag nor the manifest is there.
    bed.assert_no_blobs(&repo, &img, &run).await;
    assert_eq!(bed.digest_of(&repo, SHA).await, None, "{}", run.dump());
    assert_eq!(
        bed.digest_of(&repo, &img.manifest.digest.to_string()).await,
        None,
        "{}",
        run.dump()
    );
    assert_eq!(run.output("image-digest"), None, "{}", run.dump());

    // A re-run finishes the push: the cancelled one left nothing in its way.
    let again = bed.job(&repo, &oci(layout.path())).run().await;
    again.assert_code(0);
    assert_eq!(
        bed.digest_of(&repo, SHA).await.as_ref(),
        Some(&img.manifest.digest)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_authenticating_changes_nothing() {
    let sim = sim_with(vec![seed("api", Scenario::NeverSettles)]).await;
    let old = task_definition(&sim, "api");
    let issuer = OidcIssuer::start(json!({
        "repository": common::REPO,
        "repository_owner": "octo-org",
        "ref": "refs/heads/main",
    }))
    .await
    .expect("start the OIDC issuer");
    // STS holds the AssumeRoleWithWebIdentity call.
    let sts = StsFault::start(None, vec![Fault::Delay(HELD)])
        .await
        .expect("start the STS proxy");
    let sub = format!("repo:{}:ref:refs/heads/main", common::REPO);
    let running = rollout::deploy(&sim, "api")
        .oidc(&issuer)
        .env("AWS_ENDPOINT_URL_STS", sts.endpoint())
        .with("role-to-assume", &role_arn(&unique("deploy")))
        .with("trust-policy", &common::policy_for_subs(&[&sub]))
        .timeout(WIND_DOWN)
        .spawn();
    let running = reach(running, "the STS call", || sts.request_count() == 1).await;

    running.signal("TERM");
    let run = running.finish().await;

    assert_reported_cancelled(
        &run,
        "the job was cancelled (SIGTERM) while authenticating to AWS",
    );
    run.assert_stderr_has(&["no service was updated"]);
    assert!(!run.stderr.contains("rollback"), "{}", run.dump());
    // No ECS call at all, let alone a mutating one; no outputs.
    assert_eq!(
        sim.call_counts().values().sum::<usize>(),
        0,
        "{:?}",
        sim.call_counts()
    );
    assert_eq!(task_definition(&sim, "api"), old);
    assert!(run.output_file.is_empty(), "{}", run.dump());
}
