//! The fix each refusal gets: complete (the `audience` input, then one statement), true about
//! the token, and shaped by the token's issuer and by a reusable-workflow restriction.

use super::suggest::with_audience;
use super::tests::{AUD, ROLE, claims, diagnose, policy_doc};
use super::*;
use serde_json::json;

const GHES: &str = "ghes.example.com/_services/token";

/// Applies the whole fix (audience input, then statement) and asserts it admits the job.
fn assert_fix_admits(doc: &Value, job: &Claims, d: &Diagnosis) {
    let job = match &d.suggested_audience {
        Some(aud) => with_audience(job, aud),
        None => job.clone(),
    };
    let mut doc = doc.clone();
    if let Some(s) = &d.suggested_statement {
        doc["Statement"].as_array_mut().unwrap().push(s.clone());
    }
    let fixed = TrustPolicy::parse(&doc.to_string()).unwrap();
    assert!(
        matches!(evaluate(&fixed, &job).decision, Decision::Allowed { .. }),
        "the fix does not admit the job:\n{d}"
    );
}

fn one_line_hint(d: &Diagnosis) -> String {
    d.hint.clone().unwrap_or_default().replace('\n', " ")
}

#[test]
fn a_condition_that_can_never_match_gets_a_statement_and_no_claim_about_sub() {
    let doc = policy_doc(json!({
        "Null": {"token.actions.githubusercontent.com:aud": "true"},
        "StringEquals": {"token.actions.githubusercontent.com:sub": "repo:octo-org/payments:ref:refs/heads/main"}
    }));
    let job = claims(json!({}));
    let d = diagnose(&doc, &job);
    let hint = one_line_hint(&d);
    assert!(!hint.contains("no `sub`"), "{hint}");
    assert!(hint.contains("add an Allow statement"), "{hint}");
    assert_eq!(d.suggested_audience, None);
    assert_fix_admits(&doc, &job, &d);
}

#[test]
fn another_audience_without_an_aud_condition_is_fixed_by_the_audience_input() {
    let doc = policy_doc(
        json!({"StringEquals": {"token.actions.githubusercontent.com:sub": "repo:octo-org/payments:ref:refs/heads/dev"}}),
    );
    let job = claims(json!({"aud": "https://github.com/octo-org"}));
    let d = diagnose(&doc, &job);
    let hint = one_line_hint(&d);
    assert_eq!(d.suggested_audience.as_deref(), Some(AUD));
    assert!(hint.contains("To admit this job, and only it, set the action's `audience` input to sts.amazonaws.com (this token's aud is https://github.com/octo-org), and add an Allow statement"), "{hint}");
    assert_eq!(
        d.suggested_condition.as_ref().unwrap()["StringEquals"]["token.actions.githubusercontent.com:aud"],
        json!(AUD)
    );
    assert_fix_admits(&doc, &job, &d);
    // Without the audience change, the statement alone would not admit this token.
    let mut alone = doc.clone();
    alone["Statement"]
        .as_array_mut()
        .unwrap()
        .push(d.suggested_statement.clone().unwrap());
    let alone = TrustPolicy::parse(&alone.to_string()).unwrap();
    assert_eq!(evaluate(&alone, &job).decision, Decision::ImplicitDeny);
}

#[test]
fn several_causes_at_once_are_all_named_and_all_fixed() {
    let doc = policy_doc(json!({
        "StringEquals": {"token.actions.githubusercontent.com:aud": "https://github.com/octo-org"},
        "StringLike": {"token.actions.githubusercontent.com:sub": "repo:Octo-Org/payments:ref:refs/heads/main"}
    }));
    let job = claims(
        json!({"sub": "repo:octo-org/payments:environment:production", "environment": "production"}),
    );
    let d = diagnose(&doc, &job);
    let kinds: Vec<&str> = d
        .causes
        .iter()
        .map(|c| match c {
            KnownCause::EnvironmentInSub { .. } => "environment",
            KnownCause::AudienceMismatch { .. } => "audience",
            _ => "other",
        })
        .collect();
    assert!(
        kinds.contains(&"environment") && kinds.contains(&"audience"),
        "{:?}",
        d.causes
    );
    assert_eq!(
        d.suggested_audience.as_deref(),
        Some("https://github.com/octo-org")
    );
    let condition = &d.suggested_condition.as_ref().unwrap()["StringEquals"];
    assert_eq!(
        condition["token.actions.githubusercontent.com:sub"],
        json!("repo:octo-org/payments:environment:production")
    );
    assert_eq!(
        condition["token.actions.githubusercontent.com:aud"],
        json!("https://github.com/octo-org")
    );
    assert_fix_admits(&doc, &job, &d);
}

#[test]
fn the_policy_expects_each_value_once() {
    let doc = policy_doc(json!({"StringEquals": {
        "token.actions.githubusercontent.com:aud": ["https://github.com/acme", "https://github.com/acme"],
        "token.actions.githubusercontent.com:sub": "repo:octo-org/payments:ref:refs/heads/main"
    }}));
    let job = claims(json!({}));
    let d = diagnose(&doc, &job);
    let hint = one_line_hint(&d);
    assert!(
        hint.contains("but the policy expects https://github.com/acme;"),
        "{hint}"
    );
    assert_eq!(
        d.suggested_audience.as_deref(),
        Some("https://github.com/acme")
    );
    assert_eq!(
        d.suggested_statement, None,
        "the audience alone admits this job"
    );
    assert_fix_admits(&doc, &job, &d);
}

#[test]
fn a_ghes_token_is_judged_by_its_own_provider() {
    let job = claims(json!({"iss": format!("https://{GHES}")}));
    let ghes_policy = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": format!("arn:aws:iam::111122223333:oidc-provider/{GHES}")},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {format!("{GHES}:aud"): AUD, format!("{GHES}:sub"): "repo:octo-org/payments:ref:refs/heads/main"}}
    }]});
    let d = diagnose(&ghes_policy, &job);
    assert!(d.headline.ends_with("admits this job (statement 1)"), "{d}");

    // A github.com policy refuses it, and the fix is GHES-shaped.
    let github_policy = super::tests::main_branch_policy();
    let d = diagnose(&github_policy, &job);
    assert!(d.headline.ends_with("does not admit this job"), "{d}");
    let statement = d.suggested_statement.clone().unwrap();
    assert_eq!(
        statement["Principal"]["Federated"],
        json!(format!("arn:aws:iam::111122223333:oidc-provider/{GHES}"))
    );
    assert_eq!(
        statement["Condition"]["StringEquals"][format!("{GHES}:sub")],
        json!("repo:octo-org/payments:ref:refs/heads/main")
    );
    let hint = one_line_hint(&d);
    assert!(
        !hint.contains("oidc-provider/token.actions.githubusercontent.com"),
        "{hint}"
    );
    assert!(
        d.to_string()
            .contains(&format!("not this token's provider ({GHES})")),
        "{d}"
    );
    assert_fix_admits(&github_policy, &job, &d);
}

#[test]
fn a_refused_reusable_workflow_ref_is_fixed_in_its_own_condition() {
    let wanted = "octo-org/deploy-workflows/.github/workflows/deploy.yml@refs/tags/v1";
    let ran = "octo-org/deploy-workflows/.github/workflows/deploy.yml@refs/tags/v2";
    let doc = policy_doc(json!({"StringEquals": {
        "token.actions.githubusercontent.com:aud": AUD,
        "token.actions.githubusercontent.com:job_workflow_ref": wanted
    }}));
    let job = claims(json!({"job_workflow_ref": ran}));
    let d = diagnose(&doc, &job);
    assert!(
        d.causes.contains(&KnownCause::WorkflowRefMismatch {
            wanted: vec![wanted.into()],
            got: Some(ran.into())
        }),
        "{:?}",
        d.causes
    );
    let condition = &d.suggested_condition.as_ref().unwrap()["StringEquals"];
    assert_eq!(
        condition["token.actions.githubusercontent.com:job_workflow_ref"],
        json!(ran),
        "the fix keeps the restriction to the reusable workflow"
    );
    assert_eq!(
        condition["token.actions.githubusercontent.com:sub"],
        json!("repo:octo-org/payments:ref:refs/heads/main")
    );
    let hint = one_line_hint(&d);
    assert!(hint.contains(&format!("the policy admits only callers of the reusable workflow {wanted}, but this job ran {ran}")), "{hint}");
    assert_fix_admits(&doc, &job, &d);
    // The fix admits no job that ran another workflow, even from the same branch.
    let mut fixed = doc.clone();
    fixed["Statement"]
        .as_array_mut()
        .unwrap()
        .push(d.suggested_statement.clone().unwrap());
    let fixed = TrustPolicy::parse(&fixed.to_string()).unwrap();
    let other = claims(
        json!({"job_workflow_ref": "octo-org/payments/.github/workflows/ci.yml@refs/heads/main"}),
    );
    assert_eq!(evaluate(&fixed, &other).decision, Decision::ImplicitDeny);
}

#[test]
fn an_explicit_deny_gets_no_allow_and_says_why() {
    let doc = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Federated": super::tests::GH}, "Action": "sts:AssumeRoleWithWebIdentity"},
        {"Sid": "NoDev", "Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRoleWithWebIdentity",
         "Condition": {"StringLike": {"token.actions.githubusercontent.com:sub": "*:ref:refs/heads/main"}}}
    ]});
    let policy = TrustPolicy::parse(&doc.to_string()).unwrap();
    let job = claims(json!({"aud": "other"}));
    let d = diagnose_policy(ROLE, &policy, &evaluate(&policy, &job), &job, AUD);
    assert_eq!(
        (
            d.suggested_audience.as_ref(),
            d.suggested_statement.as_ref()
        ),
        (None, None)
    );
    let hint = one_line_hint(&d);
    assert!(
        hint.contains(
            "statement 2 \"NoDev\" denies this job, and an explicit Deny overrides every Allow"
        ),
        "{hint}"
    );
}
