//! End to end: the binary in the environment `act` gives a container action. act runs the
//! action's image with Docker, which these machines lack, so the test drives the binary the way
//! act would: the runner's files and inputs as usual, `ACT=true`, act's `GITHUB_*` values
//! (run id 1, actor `nektos/act`, GitHub.com's URLs, an empty `GITHUB_TOKEN`, no run attempt),
//! and no `ACTIONS_ID_TOKEN_REQUEST_*`: act has no OIDC token service.
//!
//! Checked: a role without a token file stops with exit 2 saying that act gives no OIDC token
//! and what to do instead, before any AWS call; `web-identity-token-file` works; AWS
//! credentials from the environment work, and no GitHub Deployment is reported from act.

mod common;

use common::{ActionRun, Run, assert_no_leaks, role_arn, unique};
use serde_json::json;
use testbed::ecs::{SIM_ACCOUNT, SIM_REGION};
use testbed::{EcsSimulator, FaultProxy, Matcher, Moto, OidcIssuer, Scenario, ServiceSeed};

/// A step under `act -j deploy` in a clone of octo-org/payments.
fn under_act() -> ActionRun {
    let mut run = ActionRun::new()
        .env("ACT", "true")
        .env("GITHUB_ACTOR", "nektos/act")
        .env("GITHUB_RUN_ID", "1")
        .env("GITHUB_RUN_NUMBER", "1")
        .env("GITHUB_JOB", "deploy")
        .env("GITHUB_WORKFLOW", "deploy")
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_API_URL", "https://api.github.com")
        .env("GITHUB_GRAPHQL_URL", "https://api.github.com/graphql")
        .env("GITHUB_EVENT_PATH", "/var/run/act/workflow/event.json")
        .env("GITHUB_TOKEN", "")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .without_env("GITHUB_RUN_ATTEMPT");
    for var in [
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    ] {
        run = run.without_env(var);
    }
    run
}

/// A dead end for AWS: counts whatever reaches it.
async fn aws_dead_end() -> FaultProxy {
    FaultProxy::start(None, Vec::new(), Matcher::All, "")
        .await
        .expect("start the proxy")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_without_a_token_file_says_act_has_no_oidc_token_and_what_to_do() {
    let aws = aws_dead_end().await;
    let run = under_act()
        .aws(aws.endpoint())
        .with("role-to-assume", &role_arn(&unique("deploy")))
        .with("aws-region", "us-east-1")
        .run()
        .await;

    run.assert_code(2).assert_nothing_written();
    let error = run.error_block();
    assert!(
        error.contains("running under act, which has no OIDC token service"),
        "{}",
        run.dump()
    );
    let hint = run.hint();
    for fix in [
        "act -s AWS_ACCESS_KEY_ID -s AWS_SECRET_ACCESS_KEY -s AWS_SESSION_TOKEN",
        "leave `role-to-assume` empty",
        "web-identity-token-file",
        "!env.ACT",
    ] {
        assert!(hint.contains(fix), "the hint lacks {fix:?}: {hint}");
    }
    run.assert_annotation("Invalid input", "running under act");
    assert_eq!(aws.request_count(), 0, "nothing reached AWS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_file_assumes_the_role_under_act() {
    let moto = Moto::shared()
        .await
        .expect("start moto (scripts/setup.sh installs it)");
    let issuer = OidcIssuer::start(json!({}))
        .await
        .expect("start the issuer");
    let token =
        issuer.mint(json!({ "repository": "octo-org/payments", "environment": "production" }));
    let role = unique("deploy");
    let job = under_act()
        .aws(moto.endpoint())
        .with("role-to-assume", &role_arn(&role))
        .with("aws-region", "us-east-1")
        .interleaved();
    let token_file = job.file("token.jwt", &format!("{token}\n"));
    let run = job
        .with(
            "web-identity-token-file",
            token_file.to_str().expect("a UTF-8 path"),
        )
        .run()
        .await;

    run.assert_code(0);
    let arn = run.output("authenticated-arn").unwrap_or_default();
    assert!(
        arn.contains(&format!("assumed-role/{role}/gha-payments-1")),
        "act's run id, no attempt: {arn}\n{}",
        run.dump()
    );
    assert!(
        run.summary
            .contains("`repo:octo-org/payments:environment:production`"),
        "the identity section names the job\n{}",
        run.dump()
    );
    assert_no_leaks(&run, &[("web-identity token", &token)], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_from_the_environment_deploy_under_act_and_report_no_github_deployment() {
    let moto = Moto::shared()
        .await
        .expect("start moto (scripts/setup.sh installs it)");
    let sim = EcsSimulator::start()
        .await
        .expect("start the ECS simulator");
    sim.seed_service(ServiceSeed {
        cluster: "prod".into(),
        service: "api".into(),
        desired_count: 2,
        scenario: Scenario::HealthyRolling,
        ..ServiceSeed::default()
    })
    .expect("seed a service");
    let old = sim.service("prod", "api").expect("seeded").task_definition;
    let github = FaultProxy::start(None, Vec::new(), Matcher::All, "")
        .await
        .expect("start the proxy");
    let image = format!(
        "{SIM_ACCOUNT}.dkr.ecr.{SIM_REGION}.amazonaws.com/app@sha256:{}",
        "ab".repeat(32)
    );
    // `act -s AWS_ACCESS_KEY_ID -s AWS_SECRET_ACCESS_KEY` and a step `env:` passing them on.
    let mut job = under_act()
        .env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
        .env(
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        )
        .env("AWS_ENDPOINT_URL_STS", moto.endpoint())
        .env("OIDC_ECS_DEPLOY_POLL_SECONDS", "0")
        .env("GITHUB_API_URL", github.endpoint())
        .with("aws-region", SIM_REGION)
        .with("cluster", "prod")
        .with("service", "api")
        .with("containers", &format!("app={image}"))
        .with("github-token", "ghp_actLocalTokenExample000000000000000")
        .with("deployment-environment", "production");
    for (k, v) in sim.env() {
        job = job.env(&k, &v);
    }
    let run: Run = job.run().await;

    run.assert_code(0);
    assert_ne!(
        sim.service("prod", "api").expect("seeded").task_definition,
        old,
        "deployed\n{}",
        run.dump()
    );
    assert!(
        run.stderr
            .contains("under act: no GitHub Deployment is reported"),
        "{}",
        run.dump()
    );
    assert_eq!(
        github.request_count(),
        0,
        "act's run is local: nothing goes to GitHub"
    );
    assert!(
        run.summary.contains("credentials from the environment"),
        "{}",
        run.dump()
    );
}
