//! End to end: a rollout reported as a GitHub Deployment. The built binary runs as the runner
//! runs the action: a role assumed with the job's OIDC token (moto's STS), the rollout on the
//! ECS simulator, and GitHub's REST API served by prism from GitHub's own API description
//! (`testbed::GithubApi`), which answers 422 to any request GitHub would reject. A recording
//! proxy in front of prism keeps every request; where a test needs an answer the description
//! has no example for (a 403, the runner's own Deployment), the proxy gives it instead.
//!
//! Checked: the requests (paths, bodies, the token), that prism found none invalid, the exit
//! code, the warnings, and that the service was deployed whatever GitHub answered.

mod common;

use common::rollout::{deploy, seed, sim_with};
use common::{ActionRun, Run, assert_no_leaks, role_arn, unique};
use serde_json::{Value, json};
use testbed::github_api::forbidden_by_integration;
use testbed::{
    EcsSimulator, Fault, FaultProxy, GithubApi, Matcher, Moto, OidcIssuer, RecordedRequest,
    Scenario,
};

/// The shape of a `GITHUB_TOKEN` (an installation token).
const TOKEN: &str = "ghs_16C7e42F292c6912E7710c838347Ae178B4a";
/// What the harness sets as GITHUB_SHA.
const SHA: &str = "3f1e2d4c5b6a798812f0e1d2c3b4a5968778695a";
const DEPLOYMENTS: &str = "/repos/octo-org/payments/deployments";

/// Everything one test runs against.
struct Bed {
    issuer: OidcIssuer,
    sim: EcsSimulator,
    /// Prism, when the test lets requests reach it.
    api: Option<GithubApi>,
    /// In front of prism (or answering alone): every request, in order.
    github: FaultProxy,
}

/// How GitHub answers in a test.
enum Github {
    /// Prism answers everything.
    Prism,
    /// The proxy answers the first requests with these, prism the rest.
    PrismAfter(Vec<Fault>),
    /// No prism: the proxy answers with these, the last one again and again.
    Only(Vec<Fault>),
}

async fn bed(claims: Value, scenario: Scenario, github: Github) -> Bed {
    let mut claims = claims;
    claims["repository"] = json!("octo-org/payments");
    let issuer = OidcIssuer::start(claims)
        .await
        .expect("start the OIDC issuer");
    let sim = sim_with(vec![seed("api", scenario)]).await;
    let (with_prism, plan) = match github {
        Github::Prism => (true, Vec::new()),
        Github::PrismAfter(plan) => (true, plan),
        Github::Only(plan) => (false, plan),
    };
    let api = if with_prism {
        Some(
            GithubApi::start()
                .await
                .expect("start prism (scripts/setup.sh installs it)"),
        )
    } else {
        None
    };
    let upstream = api.as_ref().map(|a| a.endpoint().to_owned());
    let github = FaultProxy::start(upstream, plan, Matcher::All, "")
        .await
        .expect("start the recording proxy");
    Bed {
        issuer,
        sim,
        api,
        github,
    }
}

/// A job deploying a new image to `api` with a GitHub token, its API at the recording proxy.
async fn job(bed: &Bed) -> ActionRun {
    let moto = Moto::shared()
        .await
        .expect("start moto (scripts/setup.sh installs it)");
    deploy(&bed.sim, "api")
        .oidc(&bed.issuer)
        .aws(moto.endpoint())
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_API_URL", bed.github.endpoint())
        .with("role-to-assume", &role_arn(&unique("deploy")))
        .with("github-token", TOKEN)
        .interleaved()
}

/// `job` with `deployment-environment: production`.
async fn production_job(bed: &Bed) -> ActionRun {
    job(bed).await.with("deployment-environment", "production")
}

fn task_definition(bed: &Bed) -> String {
    common::rollout::task_definition(&bed.sim, "api")
}

/// GitHub's answer with this status and JSON body.
fn json_answer(status: u16, body: &Value) -> Fault {
    Fault::Raw {
        status,
        content_type: "application/json; charset=utf-8".into(),
        body: body.to_string(),
    }
}

fn body(request: &RecordedRequest) -> Value {
    serde_json::from_slice(&request.body).unwrap_or(Value::Null)
}

/// `METHOD path` of each request, the query left off.
fn calls(bed: &Bed) -> Vec<String> {
    bed.github
        .requests()
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r.method,
                r.path.split('?').next().unwrap_or_default()
            )
        })
        .collect()
}

/// The states of the statuses posted, in order.
fn states(bed: &Bed) -> Vec<String> {
    bed.github
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/statuses"))
        .map(|r| body(r)["state"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Prism found every request valid against GitHub's description.
async fn assert_valid_for_github(bed: &Bed, run: &Run) {
    let api = bed.api.as_ref().expect("a test with prism");
    let violations = api.violations().await;
    assert!(
        violations.is_empty(),
        "GitHub would refuse requests:\n{}\n{}",
        violations.join("\n"),
        run.dump()
    );
}

fn warnings(run: &Run) -> Vec<String> {
    run.stdout
        .lines()
        .filter_map(|l| l.strip_prefix("::warning"))
        .map(common::unescape_data)
        .collect()
}

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
    let bad_gateway = || Fault::Raw {
        status: 502,
        content_type: "text/html".into(),
        body: "<html><body>502 Bad Gateway</body></html>".into(),
    };
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
