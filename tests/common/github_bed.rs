//! The GitHub Deployments tests' shared bed: a role assumed with the job's OIDC token (moto's
//! STS), the rollout on the ECS simulator, and GitHub's REST API served by prism from GitHub's
//! own API description (`testbed::GithubApi`, which answers 422 to any request GitHub would
//! reject) behind a recording proxy that keeps every request and, where a test needs an answer
//! the description has no example for (a 403, the runner's own Deployment), gives it instead.
//! Included with `#[path]` by the tests that report to a GitHub Deployment (it lives under
//! `common/` so cargo does not build it as a test of its own).
#![allow(dead_code)]

use serde_json::{Value, json};
use testbed::{
    EcsSimulator, Fault, FaultProxy, GithubApi, Matcher, Moto, OidcIssuer, RecordedRequest,
    Scenario,
};

use crate::common::rollout::{deploy, seed, sim_with};
use crate::common::{ActionRun, Run, role_arn, unique};

/// The shape of a `GITHUB_TOKEN` (an installation token).
pub const TOKEN: &str = "ghs_16C7e42F292c6912E7710c838347Ae178B4a";
/// What the harness sets as GITHUB_SHA.
pub const SHA: &str = "3f1e2d4c5b6a798812f0e1d2c3b4a5968778695a";
pub const DEPLOYMENTS: &str = "/repos/octo-org/payments/deployments";

/// Everything one test runs against.
pub struct Bed {
    pub issuer: OidcIssuer,
    pub sim: EcsSimulator,
    /// Prism, when the test lets requests reach it.
    pub api: Option<GithubApi>,
    /// In front of prism (or answering alone): every request, in order.
    pub github: FaultProxy,
}

/// How GitHub answers in a test.
pub enum Github {
    /// Prism answers everything.
    Prism,
    /// The proxy answers the first requests with these, prism the rest.
    PrismAfter(Vec<Fault>),
    /// No prism: the proxy answers with these, the last one again and again.
    Only(Vec<Fault>),
}

/// A bed whose OIDC token has `claims` (plus the repository), the service `api` behaving as
/// `scenario`, GitHub answering as `github`.
pub async fn bed(claims: Value, scenario: Scenario, github: Github) -> Bed {
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
pub async fn job(bed: &Bed) -> ActionRun {
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
pub async fn production_job(bed: &Bed) -> ActionRun {
    job(bed).await.with("deployment-environment", "production")
}

pub fn task_definition(bed: &Bed) -> String {
    crate::common::rollout::task_definition(&bed.sim, "api")
}

/// GitHub's answer with this status and JSON body.
pub fn json_answer(status: u16, body: &Value) -> Fault {
    Fault::Raw {
        status,
        content_type: "application/json; charset=utf-8".into(),
        body: body.to_string(),
    }
}

/// A load balancer's 502 in front of GitHub: a passing outage.
pub fn bad_gateway() -> Fault {
    Fault::Raw {
        status: 502,
        content_type: "text/html".into(),
        body: "<html><body>502 Bad Gateway</body></html>".into(),
    }
}

pub fn body(request: &RecordedRequest) -> Value {
    serde_json::from_slice(&request.body).unwrap_or(Value::Null)
}

/// `METHOD path` of each request, the query left off.
pub fn calls(bed: &Bed) -> Vec<String> {
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
pub fn states(bed: &Bed) -> Vec<String> {
    bed.github
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/statuses"))
        .map(|r| body(r)["state"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Prism found every request valid against GitHub's description.
pub async fn assert_valid_for_github(bed: &Bed, run: &Run) {
    let api = bed.api.as_ref().expect("a test with prism");
    let violations = api.violations().await;
    assert!(
        violations.is_empty(),
        "GitHub would refuse requests:\n{}\n{}",
        violations.join("\n"),
        run.dump()
    );
}

pub fn warnings(run: &Run) -> Vec<String> {
    run.stdout
        .lines()
        .filter_map(|l| l.strip_prefix("::warning"))
        .map(crate::common::unescape_data)
        .collect()
}
