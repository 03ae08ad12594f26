//! End-to-end tests of the CLI: `deploy` with flags outside Actions (results as `name=value` on
//! stdout, no workflow commands), and the offline `check-trust` / `trust-policy` helpers, including
//! a round trip of a generated policy through `check-trust`.

mod common;

use common::{ACCOUNT, ActionRun, PROVIDER, role_arn, unique};
use serde_json::json;
use testbed::{Moto, OidcIssuer, StsFault};

fn claims(sub: &str, extra: serde_json::Value) -> String {
    let mut c = json!({
        "iss": "https://token.actions.githubusercontent.com",
        "aud": "sts.amazonaws.com",
        "sub": sub,
        "repository": "octo-org/payments",
    });
    if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
        c.extend(extra.clone());
    }
    c.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_outside_actions_prints_outputs_and_no_workflow_commands() {
    let moto = Moto::shared().await.expect("start moto");
    let issuer = OidcIssuer::start(json!({ "repository": "octo-org/payments" }))
        .await
        .unwrap();
    let sts = StsFault::start(Some(moto.endpoint().to_owned()), vec![])
        .await
        .unwrap();
    let role = unique("deploy-cli");
    let token = issuer.mint(json!({}));
    let run = ActionRun::cli(Vec::<String>::new());
    let token_file = run.file("token.jwt", &token);
    let run = run
        .args([
            "deploy",
            "--aws-region",
            "us-east-1",
            "--role-to-assume",
            &role_arn(&role),
            "--web-identity-token-file",
            token_file.to_str().unwrap(),
        ])
        .aws(sts.endpoint())
        .run()
        .await;

    run.assert_code(0);
    assert!(
        !run.stdout
            .lines()
            .chain(run.stderr.lines())
            .any(|l| l.trim_start().starts_with("::")),
        "workflow commands outside Actions\n{}",
        run.dump()
    );
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(format!("aws-account-id={ACCOUNT}").as_str()),
        "{}",
        run.dump()
    );
    let arn = lines
        .iter()
        .find_map(|l| l.strip_prefix("authenticated-arn="))
        .unwrap_or_else(|| panic!("no authenticated-arn\n{}", run.dump()));
    // Outside Actions the default session name falls back to `gha-local`.
    assert_eq!(
        arn,
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/gha-local")
    );
    assert_eq!(
        lines.len(),
        2,
        "stdout carries only the results\n{}",
        run.dump()
    );
    assert!(
        !run.stdout.contains(&token) && !run.stderr.contains(&token),
        "the token is printed\n{}",
        run.dump()
    );
    assert_eq!(
        sts.requests()[0].form_value("WebIdentityToken").as_deref(),
        Some(token.as_str())
    );
    assert_eq!(issuer.request_count(), 0);
}

#[tokio::test]
async fn check_trust_allows_and_refuses_with_the_diagnosis() {
    let run = ActionRun::cli(Vec::<String>::new());
    let policy = run.file(
        "policy.json",
        &common::policy_for_subs(&["repo:octo-org/payments:ref:refs/heads/main"]),
    );
    let allowed = run.file(
        "main.json",
        &claims(
            "repo:octo-org/payments:ref:refs/heads/main",
            json!({"ref": "refs/heads/main"}),
        ),
    );
    let refused = run.file(
        "feature.json",
        &claims(
            "repo:octo-org/payments:ref:refs/heads/feature-x",
            json!({"ref": "refs/heads/feature-x"}),
        ),
    );
    let (p, a, r) = (
        policy.display().to_string(),
        allowed.display().to_string(),
        refused.display().to_string(),
    );
    let scratch_keeper = run;

    let ok = ActionRun::cli(["check-trust", "--policy", &p, "--claims", &a])
        .run()
        .await;
    ok.assert_code(0);
    assert!(
        ok.stdout.starts_with("allowed: statement 1"),
        "{}",
        ok.dump()
    );

    let role = role_arn("deploy-payments");
    let no = ActionRun::cli([
        "check-trust",
        "--policy",
        &p,
        "--claims",
        &r,
        "--role-arn",
        &role,
    ])
    .run()
    .await;
    no.assert_code(3);
    assert!(
        no.stdout.is_empty(),
        "a refusal prints nothing on stdout\n{}",
        no.dump()
    );
    assert!(
        !no.stderr.lines().any(|l| l.starts_with("::")),
        "{}",
        no.dump()
    );
    assert!(
        no.error_block().starts_with(&format!(
            "error: the trust policy of {role} does not admit this job"
        )),
        "{}",
        no.dump()
    );
    no.assert_stderr_has(&[
        "wants   repo:octo-org/payments:ref:refs/heads/main",
        "got     repo:octo-org/payments:ref:refs/heads/feature-x",
    ]);
    assert!(
        no.hint().contains(&format!(
            "\"{PROVIDER}:sub\": \"repo:octo-org/payments:ref:refs/heads/feature-x\""
        )),
        "{}",
        no.dump()
    );
    drop(scratch_keeper);
}

#[tokio::test]
async fn generated_policy_round_trips_through_check_trust() {
    let generated = ActionRun::cli([
        "trust-policy",
        "--account",
        "111122223333",
        "--repo",
        "octo-org/payments",
        "--branch",
        "main",
        "--environment",
        "production",
    ])
    .run()
    .await;
    generated.assert_code(0);
    let policy: serde_json::Value = serde_json::from_str(&generated.stdout).unwrap_or_else(|e| {
        panic!(
            "trust-policy did not print JSON ({e})\n{}",
            generated.dump()
        )
    });
    let text = policy.to_string();
    assert!(
        text.contains(
            "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"
        ),
        "{text}"
    );
    assert!(
        !text.contains('*'),
        "a least-privilege policy names exact subjects: {text}"
    );

    let scratch = ActionRun::cli(Vec::<String>::new());
    let p = scratch
        .file("gen-policy.json", &generated.stdout)
        .display()
        .to_string();
    let cases = [
        (
            "repo:octo-org/payments:ref:refs/heads/main",
            json!({"ref": "refs/heads/main"}),
            0,
        ),
        (
            "repo:octo-org/payments:environment:production",
            json!({"ref": "refs/heads/main", "environment": "production"}),
            0,
        ),
        (
            "repo:octo-org/payments:ref:refs/heads/feature-x",
            json!({"ref": "refs/heads/feature-x"}),
            3,
        ),
        (
            "repo:octo-org/payments:environment:staging",
            json!({"ref": "refs/heads/main", "environment": "staging"}),
            3,
        ),
        (
            "repo:octo-org/payments:pull_request",
            json!({"ref": "refs/pull/7/merge"}),
            3,
        ),
        (
            "repo:octo-org/other:ref:refs/heads/main",
            json!({"ref": "refs/heads/main", "repository": "octo-org/other"}),
            3,
        ),
    ];
    for (i, (sub, extra, code)) in cases.into_iter().enumerate() {
        let c = scratch
            .file(&format!("claims-{i}.json"), &claims(sub, extra))
            .display()
            .to_string();
        let run = ActionRun::cli(["check-trust", "--policy", &p, "--claims", &c])
            .run()
            .await;
        assert_eq!(
            run.code,
            code,
            "check-trust of {sub} against the generated policy\n{}",
            run.dump()
        );
        if code == 3 {
            assert!(
                run.error_block().contains("does not admit this job"),
                "{}",
                run.dump()
            );
            assert!(
                run.hint().contains(sub),
                "the fix should name {sub}\n{}",
                run.dump()
            );
        }
    }
}

#[tokio::test]
async fn cli_usage_errors_exit_2() {
    let run = ActionRun::cli(["check-trust", "--claims", "/nonexistent.json"])
        .run()
        .await;
    run.assert_code(2);
    assert!(run.stderr.contains("--policy"), "{}", run.dump());

    let run = ActionRun::cli([
        "trust-policy",
        "--account",
        "111122223333",
        "--repo",
        "octo-org/payments",
    ])
    .run()
    .await;
    run.assert_code(2);
    assert!(
        run.stderr
            .contains("name at least one branch or environment"),
        "{}",
        run.dump()
    );
}

#[tokio::test]
async fn permissions_policy_prints_the_deploy_roles_least_privilege() {
    let base = [
        "permissions-policy",
        "--account",
        "111122223333",
        "--region",
        "us-east-1",
        "--repository",
        "team/web",
        "--cluster",
        "prod",
        "--service",
        "web",
    ];
    let run = ActionRun::cli(
        base.iter()
            .copied()
            .chain(["--pass-role", "arn:aws:iam::111122223333:role/web-task"]),
    )
    .run()
    .await;
    run.assert_code(0);
    let policy: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "permissions-policy did not print JSON ({e})\n{}",
            run.dump()
        )
    });
    let statements = policy["Statement"].as_array().unwrap();
    let by_sid = |sid: &str| {
        statements
            .iter()
            .find(|s| s["Sid"] == sid)
            .unwrap_or_else(|| panic!("no {sid}: {policy}"))
    };
    assert_eq!(
        by_sid("PassOnlyTheTaskRolesToEcsTasks")["Resource"],
        json!(["arn:aws:iam::111122223333:role/web-task"])
    );
    assert_eq!(
        by_sid("EcsServices")["Resource"],
        json!(["arn:aws:ecs:us-east-1:111122223333:service/prod/web"])
    );
    assert_eq!(
        by_sid("EcrPush")["Resource"],
        json!(["arn:aws:ecr:us-east-1:111122223333:repository/team/web"])
    );

    // A user ARN where a role belongs: exit 2, named, nothing printed.
    let run = ActionRun::cli(
        base.iter()
            .copied()
            .chain(["--pass-role", "arn:aws:iam::111122223333:user/bob"]),
    )
    .run()
    .await;
    run.assert_code(2);
    assert!(
        run.stderr
            .contains("\"arn:aws:iam::111122223333:user/bob\" is not an IAM role ARN"),
        "{}",
        run.dump()
    );
    assert!(run.stdout.is_empty(), "{}", run.dump());
    // A missing required flag is a usage error naming it.
    let run = ActionRun::cli(base[..base.len() - 2].iter().copied())
        .run()
        .await;
    run.assert_code(2);
    assert!(run.stderr.contains("--service"), "{}", run.dump());
}
