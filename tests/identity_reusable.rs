//! End-to-end tests of the reusable-workflow and GitHub Enterprise Server forms, through the built
//! binary: `trust-policy --reusable-workflow` and `--issuer` print policies that admit exactly
//! their callers, a job that ran the reusable workflow at another ref is refused by the action
//! with a hint that keeps the restriction to the workflow, and bad values are refused by name.

mod common;

use common::{ACCOUNT, ActionRun, PROVIDER, REPO, Run, role_arn, unique};
use serde_json::{Value, json};
use testbed::{OidcIssuer, StsFault};

const WORKFLOW: &str = "octo-org/deploy-workflows/.github/workflows/deploy.yml";

/// `trust-policy` with these arguments (after the account), asserted to succeed and print JSON.
async fn trust_policy(args: &[&str]) -> (Value, String) {
    let mut all = vec!["trust-policy", "--account", ACCOUNT];
    all.extend_from_slice(args);
    let run = ActionRun::cli(all).run().await;
    run.assert_code(0);
    let policy = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("trust-policy did not print JSON ({e})\n{}", run.dump()));
    (policy, run.stdout)
}

/// `check-trust` of these claims against the policy text: the run, for its code and words.
async fn check_trust(policy: &str, claims: Value) -> Run {
    let scratch = ActionRun::cli(Vec::<String>::new());
    let p = scratch.file("policy.json", policy).display().to_string();
    let c = scratch
        .file("claims.json", &claims.to_string())
        .display()
        .to_string();
    ActionRun::cli(["check-trust", "--policy", &p, "--claims", &c])
        .run()
        .await
}

fn caller(iss: &str, sub: &str, job_workflow_ref: &str) -> Value {
    json!({ "iss": iss, "aud": "sts.amazonaws.com", "sub": sub, "repository": REPO, "job_workflow_ref": job_workflow_ref })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_at_another_ref_is_refused_with_a_hint_that_keeps_the_workflow() {
    let (_, policy) =
        trust_policy(&["--reusable-workflow", &format!("{WORKFLOW}@refs/tags/v1")]).await;
    let issuer = OidcIssuer::start(json!({
        "repository": REPO,
        "ref": "refs/heads/main",
        "job_workflow_ref": format!("{WORKFLOW}@refs/tags/v2"),
    }))
    .await
    .expect("start the OIDC issuer");
    let sts = StsFault::start(None, vec![])
        .await
        .expect("start the STS stand-in");
    let role = unique("deploy");
    let run = ActionRun::new()
        .oidc(&issuer)
        .aws(sts.endpoint())
        .with("role-to-assume", &role_arn(&role))
        .with("aws-region", "us-east-1")
        .with("trust-policy", &policy)
        .run()
        .await;

    run.assert_code(3).assert_nothing_written();
    run.assert_stderr_has(&[
        &format!("StringEquals {PROVIDER}:job_workflow_ref"),
        &format!("wants   {WORKFLOW}@refs/tags/v1"),
        &format!("got     {WORKFLOW}@refs/tags/v2"),
    ]);
    let hint = run.hint();
    let flat = hint.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(&format!(
            "the policy admits only callers of the reusable workflow {WORKFLOW}@refs/tags/v1, but this job ran {WORKFLOW}@refs/tags/v2"
        )),
        "{hint}"
    );
    assert!(
        hint.contains(&format!(
            "\"{PROVIDER}:job_workflow_ref\": \"{WORKFLOW}@refs/tags/v2\""
        )),
        "the fix must keep the job_workflow_ref condition\n{hint}"
    );
    assert!(
        hint.contains(&format!(
            "\"{PROVIDER}:sub\": \"repo:{REPO}:ref:refs/heads/main\""
        )),
        "{hint}"
    );
    run.assert_annotation("Refused", "does not admit this job");
    assert_eq!(
        sts.request_count(),
        0,
        "a request reached STS although the policy refused the job"
    );
}

#[tokio::test]
async fn reusable_workflow_policy_admits_only_its_callers() {
    let gh = "https://token.actions.githubusercontent.com";
    let at = |r: &str| format!("{WORKFLOW}@{r}");
    // Callers from any repository, or only from one repository's main branch.
    let (anywhere, text) = trust_policy(&["--reusable-workflow", &at("refs/heads/main")]).await;
    assert_eq!(
        anywhere["Statement"][0]["Condition"]["StringEquals"]
            [format!("{PROVIDER}:job_workflow_ref")],
        json!(at("refs/heads/main"))
    );
    let (_, main_only) = trust_policy(&[
        "--repo",
        REPO,
        "--branch",
        "main",
        "--reusable-workflow",
        &at("refs/heads/main"),
    ])
    .await;
    let cases = [
        (
            &text,
            caller(
                gh,
                "repo:acme/web:ref:refs/heads/dev",
                &at("refs/heads/main"),
            ),
            0,
        ),
        (
            &text,
            caller(gh, "repo:acme/web:ref:refs/heads/dev", &at("refs/tags/v1")),
            3,
        ),
        (
            &text,
            caller(
                gh,
                "repo:acme/web:ref:refs/heads/dev",
                "acme/web/.github/workflows/ci.yml@refs/heads/dev",
            ),
            3,
        ),
        (
            &main_only,
            caller(
                gh,
                &format!("repo:{REPO}:ref:refs/heads/main"),
                &at("refs/heads/main"),
            ),
            0,
        ),
        (
            &main_only,
            caller(
                gh,
                &format!("repo:{REPO}:ref:refs/heads/dev"),
                &at("refs/heads/main"),
            ),
            3,
        ),
        (
            &main_only,
            caller(
                gh,
                &format!("repo:{REPO}:ref:refs/heads/main"),
                &format!("{REPO}/.github/workflows/ci.yml@refs/heads/main"),
            ),
            3,
        ),
    ];
    for (policy, claims, code) in cases {
        let run = check_trust(policy, claims.clone()).await;
        assert_eq!(run.code, code, "{claims}\n{}", run.dump());
    }
}

#[tokio::test]
async fn ghes_issuer_policy_uses_the_ghes_provider_and_keys() {
    let ghes = "https://ghes.example.com/_services/token";
    let provider = "ghes.example.com/_services/token";
    let (policy, text) =
        trust_policy(&["--repo", REPO, "--branch", "main", "--issuer", ghes]).await;
    let statement = &policy["Statement"][0];
    assert_eq!(
        statement["Principal"]["Federated"],
        json!(format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{provider}"))
    );
    assert_eq!(
        statement["Condition"]["StringEquals"][format!("{provider}:sub")],
        json!(format!("repo:{REPO}:ref:refs/heads/main"))
    );
    assert!(
        !text.contains("token.actions.githubusercontent.com"),
        "{text}"
    );

    let main = format!("repo:{REPO}:ref:refs/heads/main");
    check_trust(&text, caller(ghes, &main, "x"))
        .await
        .assert_code(0);
    // A github.com token is not admitted by the GHES policy, and the fix names the github.com provider.
    let refused = check_trust(
        &text,
        caller("https://token.actions.githubusercontent.com", &main, "x"),
    )
    .await;
    refused.assert_code(3);
    assert!(
        refused
            .hint()
            .contains(&format!("oidc-provider/{PROVIDER}")),
        "{}",
        refused.dump()
    );
    // And the reverse: a GHES token against a github.com policy gets a GHES-shaped fix.
    let (_, github) = trust_policy(&["--repo", REPO, "--branch", "main"]).await;
    let refused = check_trust(&github, caller(ghes, &main, "x")).await;
    refused.assert_code(3);
    let hint = refused.hint();
    assert!(
        hint.contains(&format!("oidc-provider/{provider}"))
            && hint.contains(&format!("\"{provider}:sub\"")),
        "{hint}"
    );
}

#[tokio::test]
async fn bad_issuer_and_workflow_values_are_refused_by_name() {
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "--repo",
                REPO,
                "--branch",
                "main",
                "--issuer",
                "https://evil.example/token",
            ],
            "is not a GitHub Actions issuer",
        ),
        (
            &[
                "--reusable-workflow",
                "octo-org/deploy-workflows/deploy.yml@refs/heads/main",
            ],
            "does not name a .yml or .yaml file under .github/workflows/",
        ),
        (
            &["--reusable-workflow", &format!("{WORKFLOW}@main")],
            "has a short ref",
        ),
        (&["--reusable-workflow", WORKFLOW], "has no @REF"),
    ];
    for (args, words) in cases {
        let mut all = vec!["trust-policy", "--account", ACCOUNT];
        all.extend_from_slice(args);
        let run = ActionRun::cli(all).run().await;
        run.assert_code(2);
        assert!(
            run.stderr.contains(words),
            "{args:?}: wanted {words:?}\n{}",
            run.dump()
        );
        assert!(
            run.stdout.is_empty(),
            "nothing printed on a refusal\n{}",
            run.dump()
        );
    }
}
