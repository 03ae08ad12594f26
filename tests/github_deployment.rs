//! End to end: a rollout reported as a GitHub Deployment. The built binary runs as the runner
//! runs the action, against the bed of `common/github_bed.rs`: moto's STS, the ECS simulator,
//! and GitHub's REST API served by prism behind a recording proxy. (A cancelled job's final
//! status is tested with the other cancellations, in `cancellation.rs`.)
//!
//! Checked: the requests (paths, bodies, the token), that prism found none invalid, the exit
//! code, the warnings, and that the service was deployed whatever GitHub answered.

mod common;
#[path = "common/github_bed.rs"]
mod github_bed;

use common::assert_no_leaks;
use github_bed::{
    Bed, DEPLOYMENTS, Github, SHA, TOKEN, assert_valid_for_github, bad_gateway, bed, body, calls,
    job, json_answer, production_job, states, task_definition, warnings,
};
use serde_json::json;
use testbed::github_api::forbidden_by_integration;
use testbed::{Fault, GithubApi, Scenario};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_creates_a_deployment_and_reports_in_progress_then_success() {
    let bed = bed(json!({}), Scenario::HealthyRolling, Github::Prism).await;
    let old = task_definition(&bed);
    let job = production_job(&bed)
        .await
        .with("environment-url", "https://shop.example.com");
    let run_id = job.run_id();
    let run = job.run().await;

    run.assert_code(0);
    assert_ne!(task_definition(&bed), old, "deployed\n{}", run.dump());
    assert_valid_for_github(&bed, &run).await;
    assert_eq!(
        calls(&bed),
        [
            format!("POST {DEPLOYMENTS}"),
            format!("POST {DEPLOYMENTS}/1/statuses"),
            format!("POST {DEPLOYMENTS}/1/statuses")
        ],
        "{}",
        run.dump()
    );
    let requests = bed.github.requests();
    let created = body(&requests[0]);
    assert_eq!(created["ref"], SHA, "the Deployment is of the commit");
    assert_eq!(created["environment"], "production");
    assert_eq!(created["auto_merge"], false);
    assert_eq!(
        created["required_contexts"],
        json!([]),
        "the job's own pending checks must not block it"
    );
    assert_eq!(states(&bed), ["in_progress", "success"]);
    for status in &requests[1..] {
        let status = body(status);
        assert_eq!(status["environment_url"], "https://shop.example.com");
        assert_eq!(
            status["log_url"],
            format!("https://github.com/octo-org/payments/actions/runs/{run_id}")
        );
        assert!(
            status["description"]
                .as_str()
                .is_some_and(|d| d.contains("api") && d.chars().count() <= 140),
            "{status}"
        );
    }
    for r in &requests {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str()),
            "{} {}",
            r.method,
            r.path
        );
    }
    assert!(warnings(&run).is_empty(), "{}", run.dump());
    assert_no_leaks(&run, &[("github-token", TOKEN)], false);
    assert!(
        run.combined.contains("::group::Roll out to ECS"),
        "{}",
        run.dump()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_rollout_reports_failure() {
    let bed = bed(json!({}), Scenario::CrashLoop, Github::Prism).await;
    let run = production_job(&bed).await.run().await;

    run.assert_code(4);
    assert_valid_for_github(&bed, &run).await;
    assert_eq!(states(&bed), ["in_progress", "failure"], "{}", run.dump());
    let failure = body(bed.github.requests().last().expect("requests"));
    let description = failure["description"].as_str().unwrap_or_default();
    assert!(
        description.starts_with("api: deployment") && description.chars().count() <= 140,
        "{description}"
    );
    assert!(warnings(&run).is_empty(), "{}", run.dump());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_with_an_environment_reports_to_the_deployment_the_runner_created() {
    // The runner's Deployment for this job: the description's examples, with this commit, the
    // job's environment and a status pointing at this run's job.
    let mut listed = GithubApi::example("/repos/{owner}/{repo}/deployments", "get", 200)
        .await
        .expect("an example list");
    listed[0]["id"] = json!(4711);
    listed[0]["sha"] = json!(SHA);
    listed[0]["environment"] = json!("production");
    let mut statuses = GithubApi::example(
        "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses",
        "get",
        200,
    )
    .await
    .expect("an example list");
    statuses[0]["state"] = json!("in_progress");
    let bed = bed(
        json!({ "environment": "production" }),
        Scenario::HealthyRolling,
        Github::PrismAfter(Vec::new()),
    )
    .await;
    let run = job(&bed).await;
    statuses[0]["log_url"] = json!(format!(
        "https://github.com/octo-org/payments/actions/runs/{}/job/31337",
        run.run_id()
    ));
    bed.github
        .push([json_answer(200, &listed), json_answer(200, &statuses)]);
    let run = run.run().await;

    run.assert_code(0);
    assert_valid_for_github(&bed, &run).await;
    assert_eq!(
        calls(&bed),
        [
            format!("GET {DEPLOYMENTS}"),
            format!("GET {DEPLOYMENTS}/4711/statuses"),
            format!("POST {DEPLOYMENTS}/4711/statuses"),
            format!("POST {DEPLOYMENTS}/4711/statuses")
        ],
        "statuses go to the runner's Deployment; none is created\n{}",
        run.dump()
    );
    let list = &bed.github.requests()[0];
    assert!(
        list.path.contains(&format!("sha={SHA}")) && list.path.contains("environment=production"),
        "{}",
        list.path
    );
    assert_eq!(states(&bed), ["in_progress", "success"]);
    assert!(
        run.stderr.contains("the job's Deployment 4711"),
        "{}",
        run.dump()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_environments_deployment_of_another_run_is_not_taken() {
    // The example's statuses point elsewhere (example.com): a new Deployment is created.
    let mut listed = GithubApi::example("/repos/{owner}/{repo}/deployments", "get", 200)
        .await
        .expect("an example list");
    listed[0]["sha"] = json!(SHA);
    listed[0]["environment"] = json!("production");
    let bed = bed(
        json!({ "environment": "production" }),
        Scenario::HealthyRolling,
        Github::PrismAfter(vec![json_answer(200, &listed)]),
    )
    .await;
    let run = job(&bed).await.run().await;

    run.assert_code(0);
    assert_valid_for_github(&bed, &run).await;
    let id = listed[0]["id"].as_u64().expect("an id");
    assert_eq!(
        calls(&bed),
        [
            format!("GET {DEPLOYMENTS}"),
            format!("GET {DEPLOYMENTS}/{id}/statuses"),
            format!("POST {DEPLOYMENTS}"),
            format!("POST {DEPLOYMENTS}/1/statuses"),
            format!("POST {DEPLOYMENTS}/1/statuses")
        ],
        "{}",
        run.dump()
    );
    assert_eq!(
        body(&bed.github.requests()[2])["environment"],
        "production",
        "the job's environment is the default"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_deployments_write_gets_a_warning_and_the_deploy_succeeds() {
    let bed = bed(
        json!({}),
        Scenario::HealthyRolling,
        Github::Only(vec![forbidden_by_integration()]),
    )
    .await;
    let old = task_definition(&bed);
    let run = production_job(&bed).await.run().await;

    run.assert_code(0);
    assert_ne!(
        task_definition(&bed),
        old,
        "deployed all the same\n{}",
        run.dump()
    );
    assert_eq!(
        calls(&bed),
        [format!("POST {DEPLOYMENTS}")],
        "a refusal is not retried, and nothing follows it\n{}",
        run.dump()
    );
    let warned = warnings(&run);
    assert!(
        warned.iter().any(|w| w.contains("title=GitHub Deployment")
            && w.contains("Resource not accessible by integration")
            && w.contains("permissions: deployments: write")),
        "{warned:#?}\n{}",
        run.dump()
    );
    assert_eq!(run.output("rolled-back"), Some("false"));
    assert_no_leaks(&run, &[("github-token", TOKEN)], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passing_github_outage_is_retried_and_a_lasting_one_is_a_warning() {
    let bed = bed(
        json!({}),
        Scenario::HealthyRolling,
        Github::PrismAfter(vec![bad_gateway(), Fault::ConnectionReset]),
    )
    .await;
    let run = production_job(&bed).await.run().await;
    run.assert_code(0);
    assert_valid_for_github(&bed, &run).await;
    let creates = calls(&bed)
        .iter()
        .filter(|c| *c == &format!("POST {DEPLOYMENTS}"))
        .count();
    assert_eq!(
        creates,
        3,
        "two failed attempts, then the one that went through\n{}",
        run.dump()
    );
    assert_eq!(states(&bed), ["in_progress", "success"]);
    assert!(warnings(&run).is_empty(), "{}", run.dump());

    let down = bed_down().await;
    let run = production_job(&down).await.run().await;
    run.assert_code(0);
    assert_eq!(
        calls(&down).len(),
        3,
        "three attempts, then the deploy goes on without GitHub\n{}",
        run.dump()
    );
    assert!(
        warnings(&run)
            .iter()
            .any(|w| w.contains("3 attempts") && w.contains("HTTP 503")),
        "{}",
        run.dump()
    );
}

async fn bed_down() -> Bed {
    let unavailable = json_answer(503, &json!({"message": "Service Unavailable"}));
    bed(
        json!({}),
        Scenario::HealthyRolling,
        Github::Only(vec![unavailable]),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_enterprise_servers_api_path_is_kept() {
    let created = GithubApi::example("/repos/{owner}/{repo}/deployments", "post", 201)
        .await
        .expect("an example");
    let status = GithubApi::example(
        "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses",
        "post",
        201,
    )
    .await
    .expect("an example");
    let bed = bed(
        json!({}),
        Scenario::HealthyRolling,
        Github::Only(vec![json_answer(201, &created), json_answer(201, &status)]),
    )
    .await;
    let run = job(&bed)
        .await
        .env(
            "GITHUB_API_URL",
            &format!("{}/api/v3", bed.github.endpoint()),
        )
        .env("GITHUB_SERVER_URL", "https://ghe.example.com")
        .with("deployment-environment", "production")
        .run()
        .await;

    run.assert_code(0);
    let id = created["id"].as_u64().expect("an id");
    assert_eq!(
        calls(&bed),
        [
            format!("POST /api/v3{DEPLOYMENTS}"),
            format!("POST /api/v3{DEPLOYMENTS}/{id}/statuses"),
            format!("POST /api/v3{DEPLOYMENTS}/{id}/statuses")
        ],
        "{}",
        run.dump()
    );
    let log_url = body(&bed.github.requests()[1])["log_url"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        log_url.starts_with("https://ghe.example.com/octo-org/payments/actions/runs/"),
        "{log_url}"
    );
    assert!(warnings(&run).is_empty(), "{}", run.dump());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_reported_without_an_environment_or_on_a_dry_run() {
    let bed = bed(
        json!({}),
        Scenario::HealthyRolling,
        Github::Only(vec![forbidden_by_integration()]),
    )
    .await;

    // The job has no `environment:` and none is given: a warning saying which input to set.
    let run = job(&bed).await.run().await;
    run.assert_code(0);
    assert!(
        warnings(&run)
            .iter()
            .any(|w| w.contains("the job has no `environment:`")
                && w.contains("deployment-environment")),
        "{}",
        run.dump()
    );

    let run = production_job(&bed)
        .await
        .with("dry-run", "true")
        .run()
        .await;
    run.assert_code(0);
    assert!(bed.github.requests().is_empty(), "{:?}", calls(&bed));
}
