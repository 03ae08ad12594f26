//! End to end: a rollout whose credentials expire during the run gets new ones without being
//! interrupted. The built binary assumes a role through the STS stand-in (canned
//! AssumeRoleWithWebIdentity answers; the first set expires a minute from now, so it is stale at
//! once: within the five minutes before expiry in which the provider renews), then rolls out
//! against the ECS simulator through a recording proxy, which keeps every request's
//! `Authorization` header (the simulator's `CallRecord` does not).
//!
//! A second rollout starts on credentials that are still fresh and watches with a 2 s poll:
//! they are renewed mid-watch, and the watch carries on with the new key.
//!
//! Checked: the run succeeds; STS and the OIDC issuer were asked more than once; every
//! credential set and every token is masked and never shown; every ECS, ELBv2 and Logs request
//! was signed with the renewed access key. And a renewal STS refuses fails the rollout with a
//! message that says the renewal failed and why.

mod common;

use std::time::{Duration, SystemTime};

use common::rollout::{deploy, seed, sim_with, task_definition};
use common::{ACCOUNT, ActionRun, PROVIDER, assert_no_leaks, role_arn, unique};
use serde_json::json;
use testbed::{EcsSimulator, Fault, FaultProxy, Matcher, OidcIssuer, Scenario, StsFault};
const SESSION: &str = "fixed-session";

struct CredentialSet {
    key: &'static str,
    secret: &'static str,
    token: &'static str,
}

const FIRST: CredentialSet = CredentialSet {
    key: "ASIAFIRSTSETKEY00001",
    secret: "firstSecretAccessKey0000000000000000000001",
    token: "FwoGZXIvYXdzEFirstSessionToken00000000000000000001",
};
const RENEWED: CredentialSet = CredentialSet {
    key: "ASIARENEWEDSETKEY002",
    secret: "renewedSecretAccessKey00000000000000000002",
    token: "FwoGZXIvYXdzERenewedSessionToken000000000000000002",
};

/// An AssumeRoleWithWebIdentity answer with `set`, expiring at `expiration`.
fn canned_assume(role: &str, set: &CredentialSet, expiration: SystemTime) -> Fault {
    let expiration = aws_smithy_types::DateTime::from(expiration)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .expect("format the expiration");
    let (key, secret, token) = (set.key, set.secret, set.token);
    let body = format!(
        "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n\
         <AssumeRoleWithWebIdentityResult>\n\
         <SubjectFromWebIdentityToken>repo:octo-org/payments:ref:refs/heads/main</SubjectFromWebIdentityToken>\n\
         <Audience>sts.amazonaws.com</Audience>\n\
         <AssumedRoleUser><Arn>arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{SESSION}</Arn><AssumedRoleId>AROAEXAMPLEROLEID:{SESSION}</AssumedRoleId></AssumedRoleUser>\n\
         <Credentials><SessionToken>{token}</SessionToken><SecretAccessKey>{secret}</SecretAccessKey><Expiration>{expiration}</Expiration><AccessKeyId>{key}</AccessKeyId></Credentials>\n\
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

fn a_minute_from_now() -> SystemTime {
    SystemTime::now() + Duration::from_secs(60)
}

fn in_a_day() -> SystemTime {
    SystemTime::now() + Duration::from_secs(24 * 3600)
}

struct Bed {
    issuer: OidcIssuer,
    sts: StsFault,
    sim: EcsSimulator,
    /// In front of the simulator: records every request with its headers.
    recorder: FaultProxy,
    role: String,
}

async fn bed(sts_plan: impl FnOnce(&str) -> Vec<Fault>) -> Bed {
    let issuer = OidcIssuer::start(json!({ "repository": "octo-org/payments", "repository_owner": "octo-org", "ref": "refs/heads/main" }))
        .await
        .expect("start the OIDC issuer");
    let role = unique("deploy");
    // No upstream: each AssumeRoleWithWebIdentity takes the next canned answer (the last repeats).
    let sts = StsFault::start(None, sts_plan(&role))
        .await
        .expect("start the STS stand-in");
    let sim = sim_with(vec![seed("api", Scenario::HealthyRolling)]).await;
    let recorder = FaultProxy::start(
        Some(sim.endpoint().to_owned()),
        Vec::new(),
        Matcher::All,
        "",
    )
    .await
    .expect("start the recording proxy");
    Bed {
        issuer,
        sts,
        sim,
        recorder,
        role,
    }
}

fn job(bed: &Bed, poll_seconds: &str) -> ActionRun {
    let mut run = deploy(&bed.sim, "api")
        .oidc(&bed.issuer)
        .aws(bed.sts.endpoint())
        .env("OIDC_ECS_DEPLOY_POLL_SECONDS", poll_seconds)
        .with("role-to-assume", &role_arn(&bed.role))
        .with("role-session-name", SESSION)
        .interleaved();
    // ECS, ELBv2 and Logs through the recorder instead.
    for (k, _) in bed.sim.env() {
        run = run.env(&k, bed.recorder.endpoint());
    }
    run
}

/// The access key of a SigV4 `Authorization` header (`... Credential=AKID/date/region/...`).
fn signing_key(authorization: &str) -> Option<&str> {
    authorization.split("Credential=").nth(1)?.split('/').next()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_that_expire_during_the_rollout_are_renewed() {
    let bed = bed(|role| {
        vec![
            canned_assume(role, &FIRST, a_minute_from_now()),
            canned_assume(role, &RENEWED, in_a_day()),
        ]
    })
    .await;
    let old = task_definition(&bed.sim, "api");
    let run = job(&bed, "0").run().await;

    run.assert_code(0).assert_stdout_only_commands();
    assert_ne!(task_definition(&bed.sim, "api"), old, "{}", run.dump());
    assert!(
        run.stderr.contains("credentials renewed, valid until"),
        "{}",
        run.dump()
    );
    assert!(
        !run.stdout.contains("::warning") || !run.stdout.contains("credentials expire"),
        "{}",
        run.dump()
    );

    // STS and the OIDC issuer were asked again, with the same role, session name and duration.
    let assumes = bed.sts.requests();
    assert!(
        assumes.len() > 1,
        "STS saw {} AssumeRoleWithWebIdentity\n{}",
        assumes.len(),
        run.dump()
    );
    for r in &assumes {
        assert_eq!(
            r.form_value("RoleArn").as_deref(),
            Some(role_arn(&bed.role).as_str())
        );
        assert_eq!(r.form_value("RoleSessionName").as_deref(), Some(SESSION));
        assert_eq!(r.form_value("DurationSeconds").as_deref(), Some("3600"));
    }
    assert!(
        bed.issuer.request_count() > 1,
        "the OIDC issuer saw {} token requests\n{}",
        bed.issuer.request_count(),
        run.dump()
    );

    // Every credential set and every token is masked before use and never shown.
    let tokens: Vec<String> = run
        .masks()
        .into_iter()
        .filter(|m| m.starts_with("eyJ"))
        .collect();
    assert!(
        tokens.len() >= 2,
        "a token is masked each time one is fetched: {tokens:?}\n{}",
        run.dump()
    );
    let web_tokens: Vec<(&str, &str)> = tokens
        .iter()
        .map(|t| ("web-identity token", t.as_str()))
        .collect();
    assert_no_leaks(&run, &web_tokens, false);
    for set in [&FIRST, &RENEWED] {
        assert_no_leaks(
            &run,
            &[
                ("access key id", set.key),
                ("secret access key", set.secret),
                ("session token", set.token),
            ],
            false,
        );
    }

    // Every request the simulator answered was signed with the renewed key.
    let requests = bed.recorder.requests();
    assert!(
        requests.len() > 3,
        "{} requests reached the simulator\n{}",
        requests.len(),
        run.dump()
    );
    for r in &requests {
        let key = r.header("authorization").and_then(signing_key);
        assert_eq!(
            key,
            Some(RENEWED.key),
            "{} {} was not signed with the renewed key\n{}",
            r.method,
            r.path,
            run.dump()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_renewal_fails_the_rollout_and_says_why() {
    let bed = bed(|role| {
        vec![
            canned_assume(role, &FIRST, a_minute_from_now()),
            Fault::ExpiredToken,
        ]
    })
    .await;
    let old = task_definition(&bed.sim, "api");
    let run = job(&bed, "0").run().await;

    assert_ne!(run.code, 0, "{}", run.dump());
    run.assert_stderr_has(&[
        "renewing the AWS credentials failed",
        "ExpiredTokenException",
    ]);
    assert!(bed.sts.request_count() > 1, "{}", run.dump());
    // Nothing was changed with stale credentials, and nothing reached the simulator.
    assert_eq!(task_definition(&bed.sim, "api"), old, "{}", run.dump());
    assert!(bed.recorder.requests().is_empty(), "{}", run.dump());
    assert_no_leaks(
        &run,
        &[
            ("access key id", FIRST.key),
            ("secret access key", FIRST.secret),
            ("session token", FIRST.token),
        ],
        false,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_renewed_during_the_watch_without_interrupting_it() {
    // Fresh for about six seconds more (renewal comes 5 minutes before expiry); the watch takes
    // at least four 4 s polls. The margins on both sides (the deployment starts well within six
    // seconds of the assume, and ends well after it) keep the order stable on a loaded machine.
    let first_expires = SystemTime::now() + Duration::from_secs(5 * 60 + 6);
    let bed = bed(|role| {
        vec![
            canned_assume(role, &FIRST, first_expires),
            canned_assume(role, &RENEWED, in_a_day()),
        ]
    })
    .await;
    let run = job(&bed, "4").run().await;

    run.assert_code(0);
    assert_eq!(bed.sts.request_count(), 2, "{}", run.dump());
    assert_eq!(bed.issuer.request_count(), 2, "{}", run.dump());
    let lines: Vec<&str> = run.combined.lines().collect();
    let started = lines
        .iter()
        .position(|l| l.contains("deployment ecs-svc/") && l.contains("started"));
    let renewed = lines
        .iter()
        .position(|l| l.contains("credentials renewed, valid until"));
    let healthy = lines
        .iter()
        .position(|l| l.contains("healthy: api serves "));
    assert!(
        matches!((started, renewed, healthy), (Some(s), Some(r), Some(h)) if s < r && r < h),
        "the renewal should fall between the start of the deployment and its end\n{}",
        run.dump()
    );

    // The first requests use the first key, the rest the renewed one, with one switch.
    let keys: Vec<String> = bed
        .recorder
        .requests()
        .iter()
        .map(|r| {
            r.header("authorization")
                .and_then(signing_key)
                .unwrap_or("(unsigned)")
                .to_owned()
        })
        .collect();
    let switch = keys
        .iter()
        .position(|k| k == RENEWED.key)
        .unwrap_or_else(|| panic!("the renewed key was never used: {keys:?}\n{}", run.dump()));
    assert!(switch > 0, "the first key was never used: {keys:?}");
    assert!(keys[..switch].iter().all(|k| k == FIRST.key), "{keys:?}");
    assert!(keys[switch..].iter().all(|k| k == RENEWED.key), "{keys:?}");
    for set in [&FIRST, &RENEWED] {
        assert_no_leaks(
            &run,
            &[
                ("access key id", set.key),
                ("secret access key", set.secret),
                ("session token", set.token),
            ],
            false,
        );
    }
}
