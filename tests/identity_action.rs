//! End-to-end tests of the identity stage: the built binary run as the GitHub runner runs the
//! container action (inputs from action.yml, a clean environment, the runner's files), against
//! the fake OIDC issuer, moto's STS and the STS fault proxy. Each test asserts the exit code,
//! the words the user reads (stderr's `error:` block and `hint:`, the `::error` annotation),
//! the outputs, and, for failures, that nothing was changed and no request went further than it
//! should have.

mod common;

use common::{
    ACCOUNT, ActionRun, PROVIDER, REPO, Run, assert_masked_before_shown, assert_no_leaks,
    policy_for_subs, role_arn, unique,
};
use serde_json::{Value, json};
use testbed::{Fault, Moto, OidcIssuer, StsFault};

const MAIN_SUB: &str = "repo:octo-org/payments:ref:refs/heads/main";

async fn moto_endpoint() -> String {
    Moto::shared()
        .await
        .expect("start moto (scripts/setup.sh installs it)")
        .endpoint()
        .to_owned()
}

/// An issuer whose tokens describe a job of octo-org/payments; `claims` are merged over that.
async fn issuer(claims: Value) -> OidcIssuer {
    let mut base =
        json!({ "repository": REPO, "repository_owner": "octo-org", "ref": "refs/heads/main" });
    if let (Value::Object(b), Value::Object(c)) = (&mut base, claims) {
        b.extend(c);
    }
    OidcIssuer::start(base)
        .await
        .expect("start the OIDC issuer")
}

/// An STS proxy forwarding to moto after `plan`.
async fn sts_to_moto(plan: Vec<Fault>) -> StsFault {
    StsFault::start(Some(moto_endpoint().await), plan)
        .await
        .expect("start the STS proxy")
}

/// An STS stand-in with no upstream: counts requests; answers with the last planned fault (or 502).
async fn sts_dead_end(plan: Vec<Fault>) -> StsFault {
    StsFault::start(None, plan)
        .await
        .expect("start the STS proxy")
}

/// A job of octo-org/payments asking for a fresh role, in us-east-1.
fn job(issuer: &OidcIssuer, sts: &StsFault, role: &str) -> ActionRun {
    ActionRun::new()
        .oidc(issuer)
        .aws(sts.endpoint())
        .with("role-to-assume", &role_arn(role))
        .with("aws-region", "us-east-1")
}

/// The three credential parts among the masks of a moto-backed run, by their shapes.
fn moto_credentials(run: &Run, token: &str) -> (String, String, String) {
    let masks = run.masks();
    let key = masks
        .iter()
        .find(|m| m.starts_with("ASIA") && m.len() == 20)
        .cloned();
    let session = masks
        .iter()
        .find(|m| m.starts_with("FQoGZXIvYXdzE"))
        .cloned();
    let secret = masks
        .iter()
        .find(|m| m.len() == 40 && !m.starts_with("ASIA") && *m != token)
        .cloned();
    match (key, secret, session) {
        (Some(k), Some(s), Some(t)) => (k, s, t),
        _ => panic!(
            "the credentials are not all masked: {masks:?}\n{}",
            run.dump()
        ),
    }
}

/// An `AssumeRoleWithWebIdentity` answer with credentials the test knows in advance.
fn canned_assume(role: &str, session: &str, key: &str, secret: &str, token: &str) -> Fault {
    let body = format!(
        "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n\
         <AssumeRoleWithWebIdentityResult>\n\
         <SubjectFromWebIdentityToken>{MAIN_SUB}</SubjectFromWebIdentityToken>\n\
         <Audience>sts.amazonaws.com</Audience>\n\
         <AssumedRoleUser><Arn>arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}</Arn><AssumedRoleId>AROAEXAMPLEROLEID:{session}</AssumedRoleId></AssumedRoleUser>\n\
         <Credentials><SessionToken>{token}</SessionToken><SecretAccessKey>{secret}</SecretAccessKey><Expiration>2031-01-01T00:00:00Z</Expiration><AccessKeyId>{key}</AccessKeyId></Credentials>\n\
         <Provider>arn:aws:iam::{ACCOUNT}:oidc-provider/{PROVIDER}</Provider>\n\
         </AssumeRoleWithWebIdentityResult>\n\
         <ResponseMetadata><RequestId>4a1f4b02-0d6c-4b5e-9d43-6c1bfb9d8e11</RequestId></ResponseMetadata>\n\
         </AssumeRoleWithWebIdentityResponse>\n"
    );
    Fault::Raw {
        status: 200,
        content_type: "text/xml".into(),
        body,
    }
}

// 1 ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admitted_job_assumes_the_role_and_publishes_outputs() {
    let issuer = issuer(json!({})).await;
    let sts = sts_to_moto(vec![]).await;
    let role = unique("deploy");
    let run = job(&issuer, &sts, &role)
        .with("trust-policy", &policy_for_subs(&[MAIN_SUB]))
        .interleaved();
    let session = format!("gha-payments-{}-1", run.run_id());
    let run = run.run().await;

    run.assert_code(0).assert_stdout_only_commands();
    assert_eq!(
        run.output("aws-account-id"),
        Some(ACCOUNT),
        "{}",
        run.dump()
    );
    let arn = format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}");
    assert_eq!(
        run.output("authenticated-arn"),
        Some(arn.as_str()),
        "{}",
        run.dump()
    );
    assert!(
        run.summary.contains(&session),
        "the summary does not name the session\n{}",
        run.dump()
    );
    assert!(
        run.stderr.contains("the trust policy admits this job"),
        "{}",
        run.dump()
    );
    assert!(
        run.env_file_text.is_empty(),
        "credentials exported without output-env-credentials\n{}",
        run.dump()
    );

    let token_requests = issuer.requests();
    assert_eq!(token_requests.len(), 1, "{token_requests:?}");
    assert_eq!(
        token_requests[0].audience.as_deref(),
        Some("sts.amazonaws.com")
    );
    assert!(token_requests[0].authorized);

    let calls = sts.requests();
    assert_eq!(calls.len(), 1, "one AssumeRoleWithWebIdentity");
    assert_eq!(
        calls[0].form_value("RoleArn").as_deref(),
        Some(role_arn(&role).as_str())
    );
    assert_eq!(
        calls[0].form_value("RoleSessionName").as_deref(),
        Some(session.as_str())
    );
    assert_eq!(
        calls[0].form_value("DurationSeconds").as_deref(),
        Some("3600")
    );
    let token = calls[0]
        .form_value("WebIdentityToken")
        .expect("the token reached STS");
    let (key, secret, session_token) = moto_credentials(&run, &token);
    assert_credentials_masked(&run, &token, &key, &secret, &session_token, false);
}

// 2 ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_env_credentials_exports_masked_credentials() {
    let issuer = issuer(json!({})).await;
    let sts = sts_to_moto(vec![]).await;
    let run = job(&issuer, &sts, &unique("deploy"))
        .with("aws-region", "eu-west-1")
        .with("output-env-credentials", "true")
        .interleaved()
        .run()
        .await;

    run.assert_code(0);
    let get = |name: &str| {
        run.exported(name)
            .unwrap_or_else(|| panic!("GITHUB_ENV lacks {name}\n{}", run.dump()))
            .to_owned()
    };
    let (key, secret, session_token) = (
        get("AWS_ACCESS_KEY_ID"),
        get("AWS_SECRET_ACCESS_KEY"),
        get("AWS_SESSION_TOKEN"),
    );
    assert_eq!(get("AWS_REGION"), "eu-west-1");
    assert!(key.starts_with("ASIA"), "{key}");
    let token = sts.requests()[0].form_value("WebIdentityToken").unwrap();
    assert_credentials_masked(&run, &token, &key, &secret, &session_token, true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_stay_out_of_github_env_by_default() {
    let issuer = issuer(json!({})).await;
    let role = unique("deploy");
    let (key, secret, session_token) = (
        "ASIAKNOWNKEY4E2ETEST",
        "kN0wnSecretAccessKeyForTheE2eTest0123456",
        "FQoGZXIvYXdzEKnownSessionTokenForE2eTests0123456789abcdef",
    );
    let sts = sts_dead_end(vec![canned_assume(
        &role,
        "fixed-session",
        key,
        secret,
        session_token,
    )])
    .await;
    let run = job(&issuer, &sts, &role)
        .with("role-session-name", "fixed-session")
        .interleaved()
        .run()
        .await;

    run.assert_code(0);
    assert!(
        run.env_file_text.is_empty(),
        "GITHUB_ENV written although output-env-credentials is false\n{}",
        run.dump()
    );
    assert_eq!(
        run.output("authenticated-arn"),
        Some(format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/fixed-session").as_str())
    );
    assert_eq!(
        sts.requests()[0].form_value("RoleSessionName").as_deref(),
        Some("fixed-session")
    );
    let token = sts.requests()[0].form_value("WebIdentityToken").unwrap();
    assert_credentials_masked(&run, &token, key, secret, session_token, false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_debug_logging_leaks_no_secret() {
    let issuer = issuer(json!({})).await;
    let role = unique("deploy");
    let (key, secret, session_token) = (
        "ASIADEBUGKEY4E2ETEST",
        "dEbugSecretAccessKeyForTheE2eTest0123456",
        "FQoGZXIvYXdzEDebugSessionTokenForE2eTests0123456789abcdef",
    );
    let sts = sts_dead_end(vec![canned_assume(
        &role,
        "debug-session",
        key,
        secret,
        session_token,
    )])
    .await;
    let run = job(&issuer, &sts, &role)
        .with("role-session-name", "debug-session")
        .env("RUNNER_DEBUG", "1")
        .interleaved()
        .run()
        .await;

    run.assert_code(0);
    let token = sts.requests()[0].form_value("WebIdentityToken").unwrap();
    assert_credentials_masked(&run, &token, key, secret, session_token, false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mask_aws_account_id_masks_it_before_it_is_shown() {
    let issuer = issuer(json!({})).await;
    let sts = sts_to_moto(vec![]).await;
    let run = job(&issuer, &sts, &unique("deploy"))
        .with("mask-aws-account-id", "true")
        .interleaved()
        .run()
        .await;

    run.assert_code(0);
    assert_eq!(run.output("aws-account-id"), Some(ACCOUNT));
    assert!(
        !run.summary.contains(ACCOUNT) || run.summary.contains("***"),
        "{}",
        run.dump()
    );
    assert_masked_before_shown(&run, "the AWS account id", ACCOUNT);
}

/// A refusal shows the role's and the provider's ARNs: the account id must be masked first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mask_aws_account_id_also_holds_when_sts_refuses() {
    let issuer = issuer(json!({})).await;
    let denied = sts_dead_end(vec![Fault::AccessDenied]).await;
    let run = job(&issuer, &denied, &unique("deploy"))
        .with("mask-aws-account-id", "true")
        .interleaved()
        .run()
        .await;
    run.assert_code(3);
    assert_masked_before_shown(&run, "the AWS account id (refused run)", ACCOUNT);
}

// 3 ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_policy_refusal_explains_and_never_calls_sts() {
    let issuer = issuer(json!({ "ref": "refs/heads/feature-x" })).await;
    let sts = sts_dead_end(vec![]).await;
    let role = unique("deploy");
    let run = job(&issuer, &sts, &role)
        .with("trust-policy", &policy_for_subs(&[MAIN_SUB]))
        .run()
        .await;

    run.assert_code(3).assert_nothing_written();
    let block = run.error_block();
    assert!(
        block.starts_with(&format!(
            "error: the trust policy of {} does not admit this job",
            role_arn(&role)
        )),
        "{}",
        run.dump()
    );
    run.assert_stderr_has(&[
        &format!("StringEquals {PROVIDER}:sub"),
        &format!("wants   {MAIN_SUB}"),
        "got     repo:octo-org/payments:ref:refs/heads/feature-x",
    ]);
    let hint = run.hint();
    assert!(hint.contains("\"StringEquals\""), "{hint}");
    assert!(
        hint.contains(&format!(
            "\"{PROVIDER}:sub\": \"repo:octo-org/payments:ref:refs/heads/feature-x\""
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

// 4 ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_job_against_branch_policy_is_explained() {
    let issuer = issuer(json!({ "environment": "production" })).await;
    let sts = sts_dead_end(vec![]).await;
    let run = job(&issuer, &sts, &unique("deploy"))
        .with("trust-policy", &policy_for_subs(&[MAIN_SUB]))
        .run()
        .await;

    run.assert_code(3).assert_nothing_written();
    run.assert_stderr_has(&["got     repo:octo-org/payments:environment:production"]);
    let hint = run.hint();
    assert!(hint.contains("this job runs in the environment \"production\", so GitHub puts the environment in `sub` instead of the branch"), "{hint}");
    assert!(
        hint.contains(&format!(
            "\"{PROVIDER}:sub\": \"repo:octo-org/payments:environment:production\""
        )),
        "{hint}"
    );
    run.assert_annotation("Refused", "does not admit this job");
    assert_eq!(sts.request_count(), 0);
}

// 5 ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_form_sub_against_plain_policy_is_explained() {
    let id_sub = "repo:octo-org@1342004/payments@88120:ref:refs/heads/main";
    let issuer = issuer(json!({ "sub": id_sub })).await;
    let sts = sts_dead_end(vec![]).await;
    let run = job(&issuer, &sts, &unique("deploy"))
        .with("trust-policy", &policy_for_subs(&[MAIN_SUB]))
        .run()
        .await;

    run.assert_code(3).assert_nothing_written();
    run.assert_stderr_has(&[&format!("got     {id_sub}")]);
    let hint = run.hint();
    assert!(
        hint.contains(&format!(
            "uses the immutable OWNER@ID/REPO@ID form ({id_sub})"
        )),
        "{hint}"
    );
    assert!(
        hint.contains(&format!("the plain OWNER/REPO form ({MAIN_SUB})")),
        "{hint}"
    );
    assert!(
        hint.contains(&format!("\"{PROVIDER}:sub\": \"{id_sub}\"")),
        "{hint}"
    );
    assert_eq!(sts.request_count(), 0);
}

// 6 ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_id_token_permission_is_named() {
    let sts = sts_dead_end(vec![]).await;
    let run = ActionRun::new()
        .aws(sts.endpoint())
        .with("role-to-assume", &role_arn(&unique("deploy")))
        .with("aws-region", "us-east-1")
        .run()
        .await;
    run.assert_code(2).assert_nothing_written();
    run.assert_stderr_has(&[
        "permissions: id-token: write",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
    ]);
    run.assert_annotation("Invalid input", "permissions: id-token: write");
    assert_eq!(sts.request_count(), 0);

    let run = ActionRun::new()
        .env("ACT", "true")
        .aws(sts.endpoint())
        .with("role-to-assume", &role_arn(&unique("deploy")))
        .with("aws-region", "us-east-1")
        .run()
        .await;
    run.assert_code(2).assert_nothing_written();
    run.assert_stderr_has(&[
        "running under act",
        "act -s AWS_ACCESS_KEY_ID -s AWS_SECRET_ACCESS_KEY -s AWS_SESSION_TOKEN",
        "web-identity-token-file",
    ]);
    assert_eq!(sts.request_count(), 0);
}

// 7 ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sts_access_denied_is_diagnosed_from_the_claims_and_not_retried() {
    let issuer = issuer(json!({})).await;
    let sts = sts_dead_end(vec![Fault::AccessDenied]).await;
    let role = unique("deploy");
    let run = job(&issuer, &sts, &role).run().await;

    run.assert_code(3).assert_nothing_written();
    run.assert_stderr_has(&[
        &role_arn(&role),
        "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        MAIN_SUB,
    ]);
    let sub_line = run
        .stderr
        .lines()
        .find(|l| l.contains(" sub ") && l.contains(MAIN_SUB));
    assert!(
        sub_line.is_some(),
        "the evidence does not name the token's sub\n{}",
        run.dump()
    );
    let hint = run.hint();
    assert!(hint.contains("\"StringEquals\""), "{hint}");
    assert!(
        hint.contains(&format!("\"{PROVIDER}:sub\": \"{MAIN_SUB}\"")),
        "{hint}"
    );
    run.assert_annotation("Refused", &role_arn(&role));
    assert_eq!(sts.request_count(), 1, "AccessDenied must not be retried");
}

// 8 ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_internal_errors_are_retried() {
    let issuer = issuer(json!({})).await;
    let sts = sts_to_moto(vec![Fault::Throttling, Fault::InternalError]).await;
    let run = job(&issuer, &sts, &unique("deploy")).run().await;
    run.assert_code(0);
    assert_eq!(sts.request_count(), 3);
    assert!(run.output("authenticated-arn").is_some(), "{}", run.dump());
    // Each retry is logged with what failed: "service error" alone tells the reader nothing.
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("attempt ") && l.contains(" of 5 failed"))
        .collect();
    assert_eq!(warnings.len(), 2, "one warning per retry\n{}", run.dump());
    assert!(
        warnings[0].contains("Throttling"),
        "the first retry does not say STS throttled: {:?}\n{}",
        warnings[0],
        run.dump()
    );
    assert!(
        warnings[1].contains("InternalFailure"),
        "the second retry does not say STS failed internally: {:?}\n{}",
        warnings[1],
        run.dump()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idp_communication_error_is_retried() {
    let issuer = issuer(json!({})).await;
    let sts = sts_to_moto(vec![Fault::IdpCommunicationError]).await;
    let run = job(&issuer, &sts, &unique("deploy")).run().await;
    run.assert_code(0);
    assert_eq!(sts.request_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sts_that_stays_unavailable_gives_up_after_five_attempts() {
    let issuer = issuer(json!({})).await;
    let sts = sts_dead_end(vec![Fault::ServiceUnavailable]).await;
    let run = job(&issuer, &sts, &unique("deploy")).run().await;
    run.assert_code(1).assert_nothing_written();
    assert_eq!(sts.request_count(), 5);
    let block = run.error_block();
    assert!(
        block.contains("5 attempts over "),
        "the error should say how many attempts over how long\n{}",
        run.dump()
    );
    assert!(block.contains("ServiceUnavailable"), "{}", run.dump());
    // The default policy waits 250 ms doubling to 4 s, each wait jittered into its upper half.
    assert!(
        run.elapsed.as_millis() >= 1_800,
        "gave up too fast: {:?}",
        run.elapsed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_service_errors_are_retried() {
    let issuer = issuer(json!({})).await;
    issuer.fail_next(2, 503);
    let sts = sts_to_moto(vec![]).await;
    let run = job(&issuer, &sts, &unique("deploy")).run().await;
    run.assert_code(0);
    assert_eq!(issuer.request_count(), 3);
    assert_eq!(sts.request_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_service_that_stays_down_gives_up_with_the_count() {
    let issuer = issuer(json!({})).await;
    issuer.fail_next(10, 503);
    let sts = sts_dead_end(vec![]).await;
    let run = job(&issuer, &sts, &unique("deploy")).run().await;
    run.assert_code(1).assert_nothing_written();
    assert_eq!(issuer.request_count(), 5);
    assert_eq!(sts.request_count(), 0);
    run.assert_stderr_has(&["5 attempts", "HTTP 503"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_request_token_is_not_retried() {
    let issuer = issuer(json!({})).await;
    let sts = sts_dead_end(vec![]).await;
    let run = job(&issuer, &sts, &unique("deploy"))
        .env(
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            "stale-token-from-another-job",
        )
        .run()
        .await;
    run.assert_code(1).assert_nothing_written();
    assert_eq!(issuer.request_count(), 1, "a 401 must not be retried");
    assert!(!issuer.requests()[0].authorized);
    run.assert_stderr_has(&[
        "refused the request token (HTTP 401)",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    ]);
    assert!(
        !run.stderr.contains("stale-token-from-another-job"),
        "the request token is printed\n{}",
        run.dump()
    );
    assert_eq!(sts.request_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sts_refusals_of_the_token_and_request_are_explained_and_not_retried() {
    let issuer = issuer(json!({})).await;
    let too_long = Fault::QueryError {
        status: 400,
        sender: true,
        code: "ValidationError".into(),
        message: "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            .into(),
    };
    // (fault, exit code, words of the error block, words of the hint)
    let cases = [
        (
            Fault::no_oidc_provider(),
            3,
            "No OpenIDConnect provider found",
            "identity provider",
        ),
        (
            Fault::incorrect_audience(),
            3,
            "Incorrect token audience",
            "`audience`",
        ),
        (
            too_long,
            2,
            "DurationSeconds exceeds the MaxSessionDuration",
            "`role-duration-seconds` is 43200",
        ),
    ];
    for (fault, code, error, hint) in cases {
        let sts = sts_dead_end(vec![fault.clone()]).await;
        let run = job(&issuer, &sts, &unique("deploy"))
            .with("role-duration-seconds", "43200")
            .run()
            .await;
        run.assert_code(code).assert_nothing_written();
        assert!(
            run.error_block().contains(error),
            "{fault:?}\n{}",
            run.dump()
        );
        assert!(
            run.hint().contains(hint),
            "{fault:?}: the hint lacks {hint:?}\n{}",
            run.dump()
        );
        assert_eq!(sts.request_count(), 1, "{fault:?} must not be retried");
    }
}

/// An expired token (a stale `web-identity-token-file`, a long job) is not a provider problem.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_token_hint_says_to_get_a_fresh_token() {
    let issuer = issuer(json!({})).await;
    let sts = sts_dead_end(vec![Fault::ExpiredToken]).await;
    let run = job(&issuer, &sts, &unique("deploy")).run().await;
    run.assert_code(3).assert_nothing_written();
    assert!(
        run.error_block().contains("Token expired"),
        "{}",
        run.dump()
    );
    let hint = run.hint();
    assert!(
        hint.contains("expired") && !hint.contains("thumbprint"),
        "the hint should say the token expired, not blame the provider: {hint}\n{}",
        run.dump()
    );
    assert_eq!(sts.request_count(), 1);
}

// 9 ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_branches_guard_refuses_other_branches_before_sts() {
    let issuer = issuer(json!({ "ref": "refs/heads/feature/x" })).await;
    let sts = sts_dead_end(vec![]).await;
    let run = job(&issuer, &sts, &unique("deploy"))
        .with("allowed-branches", "main, release/*")
        .run()
        .await;
    run.assert_code(3).assert_nothing_written();
    let block = run.error_block();
    assert!(
        block.starts_with("error: the workflow's guard refuses this job"),
        "{}",
        run.dump()
    );
    run.assert_stderr_has(&["allowed-branches", "feature/x", "main, release/*"]);
    run.assert_annotation("Refused", "feature/x");
    assert_eq!(sts.request_count(), 0);

    // The same guard admits a release branch.
    issuer.set_claims(json!({ "repository": REPO, "ref": "refs/heads/release/2026.07" }));
    let moto = sts_to_moto(vec![]).await;
    let run = job(&issuer, &moto, &unique("deploy"))
        .with("allowed-branches", "main, release/*")
        .run()
        .await;
    run.assert_code(0);
    assert_eq!(moto.request_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_environments_guard_refuses_a_job_without_environment() {
    let issuer = issuer(json!({})).await;
    let sts = sts_dead_end(vec![]).await;
    let run = job(&issuer, &sts, &unique("deploy"))
        .with("allowed-environments", "production")
        .run()
        .await;
    run.assert_code(3).assert_nothing_written();
    run.assert_stderr_has(&[
        "allowed-environments",
        "has no environment",
        "production",
        "environment: <name>",
    ]);
    run.assert_annotation("Refused", "allowed-environments");
    assert_eq!(sts.request_count(), 0);
}

// 10 --------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_identity_token_file_replaces_the_oidc_request() {
    let issuer = issuer(json!({})).await;
    let token = issuer.mint(json!({}));
    let sts = sts_to_moto(vec![]).await;
    let run = ActionRun::new()
        .aws(sts.endpoint())
        .with("role-to-assume", &role_arn(&unique("deploy")))
        .with("aws-region", "us-east-1");
    let path = run.file("token.jwt", &format!("{token}\n"));
    let run = run
        .with("web-identity-token-file", path.to_str().unwrap())
        .interleaved()
        .run()
        .await;

    run.assert_code(0);
    assert_eq!(
        issuer.request_count(),
        0,
        "the token file must replace the OIDC request"
    );
    assert_eq!(
        sts.requests()[0].form_value("WebIdentityToken").as_deref(),
        Some(token.as_str())
    );
    let (key, secret, session_token) = moto_credentials(&run, &token);
    assert_credentials_masked(&run, &token, &key, &secret, &session_token, false);

    let sts = sts_dead_end(vec![]).await;
    let run = ActionRun::new()
        .aws(sts.endpoint())
        .with("role-to-assume", &role_arn(&unique("deploy")))
        .with("aws-region", "us-east-1");
    let missing = run.scratch().join("no-such-token.jwt");
    let run = run
        .with("web-identity-token-file", missing.to_str().unwrap())
        .run()
        .await;
    run.assert_code(2).assert_nothing_written();
    assert!(
        run.error_block()
            .starts_with("error: input `web-identity-token-file`"),
        "{}",
        run.dump()
    );
    run.assert_stderr_has(&["no-such-token.jwt", "does not exist"]);
    assert_eq!(sts.request_count(), 0);
}

// 11 --------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_role_the_environment_credentials_are_used() {
    let moto = moto_endpoint().await;
    let (key, secret) = (
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    );
    let run = ActionRun::new()
        .aws(&moto)
        .env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .with("aws-region", "us-east-1")
        .interleaved()
        .run()
        .await;
    run.assert_code(0);
    assert_eq!(
        run.output("aws-account-id"),
        Some(ACCOUNT),
        "{}",
        run.dump()
    );
    let arn = run.output("authenticated-arn").unwrap_or_default();
    assert!(
        arn.starts_with(&format!("arn:aws:sts::{ACCOUNT}:"))
            || arn.starts_with(&format!("arn:aws:iam::{ACCOUNT}:")),
        "{}",
        run.dump()
    );
    assert!(
        run.stderr
            .contains("using the AWS credentials from the environment"),
        "{}",
        run.dump()
    );
    assert_no_leaks(
        &run,
        &[("access key id", key), ("secret access key", secret)],
        false,
    );

    let run = ActionRun::new()
        .aws(&moto)
        .with("aws-region", "us-east-1")
        .run()
        .await;
    run.assert_code(2).assert_nothing_written();
    assert!(
        run.error_block()
            .starts_with("error: no `role-to-assume` and no AWS credentials in the environment"),
        "{}",
        run.dump()
    );
    let hint = run.hint();
    assert!(
        hint.contains("set `role-to-assume`") && hint.contains("id-token: write"),
        "{hint}"
    );
    run.assert_annotation("Invalid input", "role-to-assume");
}

// 12 --------------------------------------------------------------------------------------------

/// One bad-input case: (the `with:` inputs, the input the error must name, words that say what is right).
type BadInput = (Vec<(&'static str, String)>, &'static str, &'static str);

/// Each bad input alone.
fn bad_inputs(scratch: &std::path::Path) -> Vec<BadInput> {
    let role = || ("role-to-assume", role_arn("deploy-validation"));
    let region = || ("aws-region", "us-east-1".to_owned());
    let missing = scratch.join("nowhere.json").display().to_string();
    vec![
        (
            vec![("role-to-assume", "deploy-role".into()), region()],
            "role-to-assume",
            "an IAM role ARN such as `arn:aws:iam::111122223333:role/deploy`",
        ),
        (
            vec![
                ("role-to-assume", "arn:aws:iam::1234:role/x".into()),
                region(),
            ],
            "role-to-assume",
            "12-digit AWS account id",
        ),
        (vec![role()], "aws-region", "is required"),
        (
            vec![role(), ("aws-region", "US-East-1".into())],
            "aws-region",
            "a code such as `us-east-1`",
        ),
        (
            vec![
                (
                    "role-to-assume",
                    "arn:aws-cn:iam::123456789012:role/x".into(),
                ),
                region(),
            ],
            "role-to-assume",
            "a role and a region of the same partition",
        ),
        (
            vec![role(), region(), ("role-duration-seconds", "100".into())],
            "role-duration-seconds",
            "from 900 to 43200",
        ),
        (
            vec![role(), region(), ("role-session-name", "bad name!".into())],
            "role-session-name",
            "2 to 64 characters of letters, digits and `+=,.@_-`",
        ),
        (
            vec![role(), region(), ("audience", "sts amazonaws.com".into())],
            "audience",
            "an audience such as `sts.amazonaws.com`",
        ),
        (
            vec![role(), region(), ("output-env-credentials", "yes".into())],
            "output-env-credentials",
            "`true` or `false`",
        ),
        (
            vec![role(), region(), ("mask-aws-account-id", "1".into())],
            "mask-aws-account-id",
            "`true` or `false`",
        ),
        (
            vec![
                role(),
                region(),
                ("allowed-branches", "main, [release".into()),
            ],
            "allowed-branches",
            "release/*",
        ),
        (
            vec![
                role(),
                region(),
                ("trust-policy", "{\"Statement\": ".into()),
            ],
            "trust-policy",
            "a policy document",
        ),
        (
            vec![role(), region(), ("trust-policy", missing.clone())],
            "trust-policy",
            "a path to a policy JSON file, or the JSON itself",
        ),
        (
            vec![region(), ("trust-policy", policy_for_subs(&[MAIN_SUB]))],
            "trust-policy",
            "`role-to-assume` set as well",
        ),
        (
            vec![role(), region(), ("web-identity-token-file", missing)],
            "web-identity-token-file",
            "a path to a readable file",
        ),
        (
            vec![role(), region(), ("image-tag", "v1".into())],
            "image-tag",
            "`image-source` set as well",
        ),
        (
            vec![
                role(),
                region(),
                ("image-source", "tarball:/tmp/x.tar".into()),
                ("repository", "payments/api".into()),
            ],
            "image-source",
            "`docker-archive:FILE`",
        ),
        (
            vec![role(), region(), ("image-source", "ecr:v1".into())],
            "repository",
            "is required when `image-source` is set",
        ),
        (
            vec![role(), region(), ("wait-for-minutes", "0".into())],
            "wait-for-minutes",
            "from 1 to 360",
        ),
        (
            vec![role(), region(), ("service", "api".into())],
            "service",
            "`cluster` set as well",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_are_refused_by_name_before_any_request() {
    let issuer = issuer(json!({})).await;
    let sts = sts_dead_end(vec![]).await;
    let scratch = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (with, input, right) in bad_inputs(scratch.path()) {
        let mut run = ActionRun::new().oidc(&issuer).aws(sts.endpoint());
        for (name, value) in &with {
            run = run.with(name, value);
        }
        let run = run.run().await;
        let named = format!("error: input `{input}`: ");
        let ok = run.code == 2
            && run.stderr.contains(&named)
            && run.stderr.contains(right)
            && run.output_file.is_empty()
            && run.error_annotations().iter().any(|(p, m)| {
                p.contains("title=Invalid input") && m.contains(&format!("input `{input}`"))
            });
        if !ok {
            failures.push(format!(
                "with {with:?}: wanted exit 2, {named:?} and {right:?}\n{}",
                run.dump()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of the bad inputs were not reported as expected:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert_eq!(
        issuer.request_count(),
        0,
        "an OIDC token was requested despite bad inputs"
    );
    assert_eq!(sts.request_count(), 0, "STS was called despite bad inputs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_bad_inputs_are_listed_together() {
    let issuer = issuer(json!({})).await;
    let sts = sts_dead_end(vec![]).await;
    let run = ActionRun::new()
        .oidc(&issuer)
        .aws(sts.endpoint())
        .with("role-to-assume", "deploy-role")
        .with("role-duration-seconds", "100")
        .with("output-env-credentials", "yes")
        .run()
        .await;
    run.assert_code(2).assert_nothing_written();
    assert!(
        run.error_block().starts_with("error: 4 invalid inputs:"),
        "{}",
        run.dump()
    );
    for input in [
        "role-to-assume",
        "aws-region",
        "role-duration-seconds",
        "output-env-credentials",
    ] {
        assert!(
            run.stderr.contains(&format!("  input `{input}`: ")),
            "{input} is not listed\n{}",
            run.dump()
        );
    }
    assert_eq!((issuer.request_count(), sts.request_count()), (0, 0));
}

/// The annotation is what a reviewer sees on the run page; with several bad inputs it should
/// still say which ones, not only how many.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_bad_inputs_annotation_names_them() {
    let run = ActionRun::new()
        .with("role-to-assume", "deploy-role")
        .with("role-duration-seconds", "100")
        .run()
        .await;
    run.assert_code(2);
    let annotations = run.error_annotations();
    for input in ["role-to-assume", "aws-region", "role-duration-seconds"] {
        assert!(
            annotations
                .iter()
                .any(|(_, m)| m.contains(&format!("`{input}`"))),
            "the ::error annotation does not name `{input}`: {annotations:?}\n{}",
            run.dump()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_inputs_are_checked_before_any_request() {
    let issuer = issuer(json!({})).await;
    let sts = sts_dead_end(vec![]).await;
    let run = job(&issuer, &sts, &unique("deploy"))
        .with("cluster", "prod")
        .run()
        .await;
    run.assert_code(2).assert_nothing_written();
    run.assert_stderr_has(&["input `service`"]);
    assert_eq!((issuer.request_count(), sts.request_count()), (0, 0));
}

// 14 --------------------------------------------------------------------------------------------

/// Lines that a runner would take as a command the attacker wrote: after leading whitespace a
/// `::add-mask::x` or `::error::pwned` (v2 syntax), or `##[error]` anywhere outside one of our
/// own `::` commands (the legacy parser looks anywhere in a line). The runner parses stdout and
/// stderr alike (actions/runner ContainerActionHandler: one OutputManager per stream).
fn injected_commands(run: &Run) -> Vec<String> {
    let mut found = Vec::new();
    for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        for line in text.lines() {
            let t = line.trim_start();
            let v2 = t.starts_with("::add-mask::x")
                || t.starts_with("::error::pwned")
                || t.starts_with("::warning::pwned");
            let legacy = !t.starts_with("::") && line.contains("##[error]");
            if v2 || legacy {
                found.push(format!("{stream}: {line}"));
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_cannot_issue_workflow_commands() {
    let evil_ref = "refs/heads/main\n::add-mask::x\n::error::pwned ##[error]legacy-pwned";
    let evil_sub = "repo:octo-org/payments:ref:refs/heads/main\n::error::pwned\n::add-mask::x";
    let mut report = Vec::new();

    // Refused by the branch guard: the branch lands in the headline.
    let issuer1 = issuer(json!({ "ref": evil_ref })).await;
    let sts = sts_dead_end(vec![]).await;
    let run = job(&issuer1, &sts, &unique("deploy"))
        .with("allowed-branches", "main")
        .run()
        .await;
    run.assert_code(3);
    report.extend(
        injected_commands(&run)
            .into_iter()
            .map(|l| format!("guard refusal: {l}")),
    );

    // Refused by the trust policy: the sub lands in the evidence and the suggested fix.
    let issuer2 = issuer(json!({ "sub": evil_sub })).await;
    let run = job(&issuer2, &sts, &unique("deploy"))
        .with("trust-policy", &policy_for_subs(&[MAIN_SUB]))
        .run()
        .await;
    run.assert_code(3);
    report.extend(
        injected_commands(&run)
            .into_iter()
            .map(|l| format!("policy refusal: {l}")),
    );

    // Refused by STS: the claims are the only evidence.
    let denied = sts_dead_end(vec![Fault::AccessDenied]).await;
    let run = job(&issuer2, &denied, &unique("deploy")).run().await;
    run.assert_code(3);
    report.extend(
        injected_commands(&run)
            .into_iter()
            .map(|l| format!("STS AccessDenied: {l}")),
    );

    // Admitted: the claims are logged on the way.
    let moto = sts_to_moto(vec![]).await;
    let run = job(&issuer1, &moto, &unique("deploy")).run().await;
    run.assert_code(0);
    report.extend(
        injected_commands(&run)
            .into_iter()
            .map(|l| format!("success: {l}")),
    );

    assert!(
        report.is_empty(),
        "text from the token's claims issued workflow commands:\n{}",
        report.join("\n")
    );
}

/// The four secrets of an assume: the OIDC token and the three parts of the credentials.
/// `exported`: the run had `output-env-credentials: true`, so GITHUB_ENV may hold them.
fn assert_credentials_masked(
    run: &Run,
    token: &str,
    key: &str,
    secret: &str,
    session_token: &str,
    exported: bool,
) {
    assert_no_leaks(
        run,
        &[
            ("OIDC token", token),
            ("access key id", key),
            ("secret access key", secret),
            ("session token", session_token),
        ],
        exported,
    );
}
