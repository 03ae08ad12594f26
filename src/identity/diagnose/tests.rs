use super::*;
use serde_json::json;

pub(super) const ROLE: &str = "arn:aws:iam::111122223333:role/deploy-payments";
pub(super) const GH: &str =
    "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com";
pub(super) const AUD: &str = "sts.amazonaws.com";

pub(super) fn claims(extra: Value) -> Claims {
    let mut map = json!({
        "iss": "https://token.actions.githubusercontent.com",
        "aud": AUD,
        "sub": "repo:octo-org/payments:ref:refs/heads/main",
        "ref": "refs/heads/main",
        "repository": "octo-org/payments",
        "actor": "mona"
    })
    .as_object()
    .unwrap()
    .clone();
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            map.remove(k);
        } else {
            map.insert(k.clone(), v.clone());
        }
    }
    Claims::from_map(map)
}

/// One Allow statement for the GitHub provider with this Condition block.
pub(super) fn policy_doc(condition: Value) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": GH},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": condition
    }]})
}

/// The usual least-privilege policy: the audience and the exact `sub` of the main branch.
pub(super) fn main_branch_policy() -> Value {
    policy_doc(json!({"StringEquals": {
        "token.actions.githubusercontent.com:aud": AUD,
        "token.actions.githubusercontent.com:sub": "repo:octo-org/payments:ref:refs/heads/main"
    }}))
}

pub(super) fn diagnose(doc: &Value, claims: &Claims) -> Diagnosis {
    let policy = TrustPolicy::parse(&doc.to_string()).unwrap();
    let eval = evaluate(&policy, claims);
    diagnose_policy(ROLE, &policy, &eval, claims, AUD)
}

/// The policy with the diagnosis' suggested statement appended.
pub(super) fn with_fix(doc: &Value, d: &Diagnosis) -> TrustPolicy {
    let mut doc = doc.clone();
    doc["Statement"].as_array_mut().unwrap().push(
        d.suggested_statement
            .clone()
            .expect("a suggested statement"),
    );
    TrustPolicy::parse(&doc.to_string()).unwrap()
}

fn assert_round_trip(doc: &Value, d: &Diagnosis, job: &Claims, other_job: &Claims) {
    let fixed = with_fix(doc, d);
    assert!(
        matches!(evaluate(&fixed, job).decision, Decision::Allowed { .. }),
        "the fix must admit the job"
    );
    assert_eq!(
        evaluate(&fixed, other_job).decision,
        Decision::ImplicitDeny,
        "the fix must admit nothing else"
    );
    // The fragment is exactly the statement's condition, and never a wildcard.
    assert_eq!(
        d.suggested_condition.as_ref(),
        d.suggested_statement.as_ref().map(|s| &s["Condition"])
    );
    let text = d.suggested_condition.as_ref().unwrap().to_string();
    assert!(
        !text.contains('*') && !text.contains("StringLike"),
        "{text}"
    );
}

#[test]
fn environment_instead_of_branch_reads_like_the_example() {
    let doc = policy_doc(json!({
        "StringEquals": {"token.actions.githubusercontent.com:aud": AUD},
        "StringLike": {"token.actions.githubusercontent.com:sub": "repo:octo-org/payments:ref:refs/heads/main"}
    }));
    let job = claims(
        json!({"sub": "repo:octo-org/payments:environment:production", "environment": "production"}),
    );
    let d = diagnose(&doc, &job);
    println!("{d}");
    assert_eq!(
        d.to_string(),
        r#"the trust policy of arn:aws:iam::111122223333:role/deploy-payments does not admit this job
  token   sub         = repo:octo-org/payments:environment:production
          aud         = sts.amazonaws.com
          ref         = refs/heads/main
          environment = production
  policy  statement 1 (Allow): StringLike token.actions.githubusercontent.com:sub
          wants   repo:octo-org/payments:ref:refs/heads/main
          got     repo:octo-org/payments:environment:production
hint: this job runs in the environment "production", so GitHub puts the environment in `sub`
      instead of the branch main.
      To admit this job, and only it, add an Allow statement for
        arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com
      with Action sts:AssumeRoleWithWebIdentity and the condition:
        "StringEquals": { "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                          "token.actions.githubusercontent.com:sub": "repo:octo-org/payments:environment:production" }"#
    );
    assert_eq!(
        d.causes,
        vec![KnownCause::EnvironmentInSub {
            environment: "production".into(),
            branch: Some("main".into())
        }]
    );
    let staging = claims(
        json!({"sub": "repo:octo-org/payments:environment:staging", "environment": "staging"}),
    );
    assert_round_trip(&doc, &d, &job, &staging);
}

#[test]
fn id_form_token_against_a_plain_policy() {
    let doc = main_branch_policy();
    let sub = "repo:octo-org@1342004/payments@88120:ref:refs/heads/main";
    let job =
        claims(json!({"sub": sub, "repository_id": "88120", "repository_owner_id": "1342004"}));
    let d = diagnose(&doc, &job);
    println!("{d}");
    let text = d.to_string();
    assert!(
        text.contains(
            "          repository_id       = 88120\n          repository_owner_id = 1342004\n"
        ),
        "{text}"
    );
    assert!(text.contains(
        "hint: this token's `sub` uses the immutable OWNER@ID/REPO@ID form\n      (repo:octo-org@1342004/payments@88120:ref:refs/heads/main), but the policy names the plain"
    ), "{text}");
    assert_eq!(
        d.causes,
        vec![KnownCause::IdForm {
            token_has_ids: true,
            token_sub: sub.into(),
            policy_value: Some("repo:octo-org/payments:ref:refs/heads/main".into())
        }]
    );
    assert_eq!(
        d.suggested_condition.as_ref().unwrap()["StringEquals"]["token.actions.githubusercontent.com:sub"],
        json!(sub)
    );
    let other = claims(json!({"sub": "repo:octo-org@1342004/payments@88120:ref:refs/heads/dev"}));
    assert_round_trip(&doc, &d, &job, &other);

    // The reverse: the policy was written in the ID form, the token is plain.
    let doc = policy_doc(
        json!({"StringLike": {"token.actions.githubusercontent.com:sub": "repo:octo-org@1342004/payments@88120:*"}}),
    );
    let d = diagnose(&doc, &claims(json!({})));
    assert!(
        matches!(
            d.causes.as_slice(),
            [KnownCause::IdForm {
                token_has_ids: false,
                ..
            }]
        ),
        "{:?}",
        d.causes
    );
    assert!(
        d.to_string()
            .contains("the policy names the immutable OWNER@ID/REPO@ID form"),
        "{d}"
    );
}

#[test]
fn owner_differing_only_in_case() {
    let doc = policy_doc(
        json!({"StringLike": {"token.actions.githubusercontent.com:sub": "repo:Octo-Org/Payments:*"}}),
    );
    let job = claims(json!({}));
    let d = diagnose(&doc, &job);
    println!("{d}");
    assert_eq!(
        d.causes,
        vec![KnownCause::CaseMismatch {
            key: "token.actions.githubusercontent.com:sub".into(),
            wanted: "repo:Octo-Org/Payments:*".into(),
            got: "repo:octo-org/payments:ref:refs/heads/main".into(),
        }]
    );
    let text = d.to_string();
    assert!(text.contains("differs from the token's repo:octo-org/payments:ref:refs/heads/main only in letter case,\n      and condition values are case-sensitive."), "{text}");
    let other = claims(json!({"sub": "repo:octo-org/payments:ref:refs/heads/feature/x"}));
    assert_round_trip(&doc, &d, &job, &other);
}

#[test]
fn audience_mismatch_says_which_input_to_change_and_suggests_no_policy_change() {
    let doc = main_branch_policy();
    let job = claims(json!({"aud": "https://github.com/octo-org"}));
    let d = diagnose(&doc, &job);
    println!("{d}");
    assert_eq!(
        d.causes,
        vec![KnownCause::AudienceMismatch {
            expected: AUD.into(),
            got: vec!["https://github.com/octo-org".into()]
        }]
    );
    assert!(d.to_string().contains(
        "  policy  statement 1 (Allow): StringEquals token.actions.githubusercontent.com:aud\n          wants   sts.amazonaws.com\n          got     https://github.com/octo-org\n"
    ), "{d}");
    let hint = d.hint.as_deref().unwrap().replace('\n', " ");
    assert!(hint.starts_with("the token's aud is https://github.com/octo-org, but the policy expects sts.amazonaws.com;"), "{hint}");
    assert!(hint.ends_with("To admit this job, set the action's `audience` input to sts.amazonaws.com (this token's aud is https://github.com/octo-org); the policy as it is then admits it."), "{hint}");
    assert_eq!(d.suggested_audience.as_deref(), Some(AUD));
    assert_eq!(
        d.suggested_condition, None,
        "the job's sub is admitted; widening the audience is not the fix"
    );
}

#[test]
fn explicit_deny_names_the_statement_and_the_conditions_that_matched() {
    let doc = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Federated": GH}, "Action": "sts:AssumeRoleWithWebIdentity",
         "Condition": {"StringLike": {"token.actions.githubusercontent.com:sub": "repo:octo-org/*"}}},
        {"Sid": "NoPullRequests", "Effect": "Deny", "Principal": "*", "Action": "sts:*",
         "Condition": {"StringLike": {"token.actions.githubusercontent.com:sub": "*:pull_request"}}}
    ]});
    let job =
        claims(json!({"sub": "repo:octo-org/payments:pull_request", "ref": "refs/pull/7/merge"}));
    let d = diagnose(&doc, &job);
    println!("{d}");
    assert_eq!(
        d.headline,
        "the trust policy of arn:aws:iam::111122223333:role/deploy-payments explicitly denies this job (statement 2)"
    );
    assert!(d.to_string().contains(
        "  policy  statement 1 (Allow): admits this job, but an explicit Deny overrides it\n          statement 2 \"NoPullRequests\" (Deny): matches this job, and an explicit Deny overrides every Allow\n            StringLike token.actions.githubusercontent.com:sub\n            wants   *:pull_request\n            got     repo:octo-org/payments:pull_request\n"
    ), "{d}");
    assert_eq!(
        d.causes,
        vec![KnownCause::ExplicitDeny {
            statement: 1,
            sid: Some("NoPullRequests".into())
        }]
    );
    assert!(
        d.hint
            .as_deref()
            .unwrap()
            .contains("no added Allow can fix that")
    );
    assert_eq!(d.suggested_condition, None);
}

#[test]
fn principal_and_action_problems_are_named() {
    let doc = json!({"Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]});
    let job = claims(json!({}));
    let d = diagnose(&doc, &job);
    println!("{d}");
    assert!(d.to_string().contains("  policy  statement 1 (Allow): its principal is not this token's provider (token.actions.githubusercontent.com); it names Service ecs-tasks.amazonaws.com\n          no Allow statement trusts this token's provider (token.actions.githubusercontent.com)"), "{d}");
    assert_eq!(d.causes, vec![KnownCause::NoStatementForProvider]);
    let other = claims(json!({"sub": "repo:octo-org/payments:ref:refs/heads/dev"}));
    assert_round_trip(&doc, &d, &job, &other);

    let doc = json!({"Statement": [{"Effect": "Allow", "Principal": {"Federated": GH}, "Action": "sts:AssumeRole"}]});
    let d = diagnose(&doc, &job);
    assert!(
        d.to_string().contains(
            "statement 1 (Allow): its Action does not cover sts:AssumeRoleWithWebIdentity"
        ),
        "{d}"
    );
    assert_eq!(
        d.causes,
        vec![KnownCause::ActionNotCovered { statement: 0 }]
    );
}

#[test]
fn provider_of_another_account_is_flagged() {
    let doc = json!({"Statement": [{"Effect": "Allow",
        "Principal": {"Federated": "arn:aws:iam::999999999999:oidc-provider/token.actions.githubusercontent.com"},
        "Action": "sts:AssumeRoleWithWebIdentity"}]});
    let job = claims(json!({}));
    let policy = TrustPolicy::parse(&doc.to_string()).unwrap();
    let d = diagnose_access_denied(
        ROLE,
        Some(&policy),
        &job,
        AUD,
        "Not authorized to perform sts:AssumeRoleWithWebIdentity",
    );
    println!("{d}");
    assert_eq!(
        d.headline,
        "the trust policy of arn:aws:iam::111122223333:role/deploy-payments admits this job, yet STS refused it"
    );
    assert_eq!(
        d.evidence[0],
        "  sts     Not authorized to perform sts:AssumeRoleWithWebIdentity"
    );
    assert_eq!(
        d.causes,
        vec![KnownCause::ProviderAccountMismatch {
            statement: 0,
            provider_account: "999999999999".into(),
            role_account: "111122223333".into()
        }]
    );
    assert!(
        d.hint.as_deref().unwrap().contains(
            "names the OIDC provider of account 999999999999, but the role is in account"
        )
    );
}

#[test]
fn access_denied_without_a_policy_explains_from_the_claims() {
    let sub = "repo:octo-org@1342004/payments@88120:environment:production";
    let job = claims(json!({"sub": sub, "environment": "production"}));
    let d = diagnose_access_denied(
        ROLE,
        None,
        &job,
        AUD,
        "Not authorized to perform sts:AssumeRoleWithWebIdentity",
    );
    println!("{d}");
    assert_eq!(
        d.headline,
        "STS refused to let this job assume arn:aws:iam::111122223333:role/deploy-payments (AccessDenied)"
    );
    assert!(
        d.evidence
            .iter()
            .any(|l| l.contains("not given: pass the role's trust policy as input `trust-policy`")),
        "{d}"
    );
    let hint = d.hint.clone().unwrap();
    assert!(hint.starts_with("the likely causes, given this token:\n(1) this job runs in the environment \"production\""), "{hint}");
    assert!(
        hint.contains("(2) this token's `sub` uses the immutable OWNER@ID/REPO@ID form"),
        "{hint}"
    );
    assert!(hint.contains("(3) condition values are case-sensitive: the policy must spell octo-org/payments exactly\n    so."), "{hint}");
    assert!(
        hint.contains("`sub`\n    instead of the branch main."),
        "{hint}"
    );
    assert_eq!(d.causes.len(), 2);
    // The fix admits this job in a policy that admitted nothing, and nothing else.
    let doc = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Federated": GH}, "Action": "sts:AssumeRoleWithWebIdentity",
         "Condition": {"StringEquals": {"token.actions.githubusercontent.com:sub": "repo:octo-org/payments:ref:refs/heads/main"}}}
    ]});
    let other = claims(
        json!({"sub": "repo:octo-org@1342004/payments@88120:environment:staging", "environment": "staging"}),
    );
    assert_round_trip(&doc, &d, &job, &other);
}

#[test]
fn sts_refusals_before_the_policy_point_at_the_provider() {
    let job = claims(json!({}));
    let d = diagnose_access_denied(ROLE, None, &job, AUD, "Incorrect token audience");
    assert_eq!(
        d.causes,
        vec![KnownCause::ProviderAudience {
            audiences: vec![AUD.into()]
        }]
    );
    assert!(
        d.to_string()
            .contains("hint: the token's aud (sts.amazonaws.com) is not among the client IDs"),
        "{d}"
    );
    assert!(d.to_string().contains("\n        aws iam add-client-id-to-open-id-connect-provider --client-id sts.amazonaws.com"), "{d}");
    let d = diagnose_access_denied(
        ROLE,
        None,
        &job,
        AUD,
        "No OpenIDConnect provider found in your account for https://token.actions.githubusercontent.com",
    );
    assert!(matches!(
        d.causes.as_slice(),
        [KnownCause::ProviderMissing { .. }]
    ));
    assert!(d.suggested_condition.is_none());
}

#[test]
fn environment_missing_and_enterprise_provider() {
    let doc = policy_doc(
        json!({"StringEquals": {"token.actions.githubusercontent.com:sub": [
        "repo:octo-org/payments:environment:production", "repo:octo-org/payments:environment:staging"]}}),
    );
    let d = diagnose(&doc, &claims(json!({})));
    assert_eq!(
        d.causes,
        vec![KnownCause::EnvironmentMissing {
            wanted: vec!["production".into(), "staging".into()]
        }]
    );
    assert!(
        d.to_string()
            .contains("give the job `environment: production`"),
        "{d}"
    );

    // An enterprise issuer: the suggestion uses that provider's keys and ARN.
    let job = claims(json!({"iss": "https://token.actions.githubusercontent.com/octo-ent"}));
    let d = diagnose(&doc, &job);
    let statement = d.suggested_statement.clone().unwrap();
    assert_eq!(
        statement["Principal"]["Federated"],
        json!(
            "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com/octo-ent"
        )
    );
    assert!(d.suggested_condition.as_ref().unwrap()["StringEquals"]["token.actions.githubusercontent.com/octo-ent:sub"].is_string());
    assert_eq!(
        statement["Condition"],
        d.suggested_condition.clone().unwrap()
    );
    let fixed = with_fix(&doc, &d);
    assert!(matches!(
        evaluate(&fixed, &job).decision,
        Decision::Allowed { .. }
    ));
}

#[test]
fn unknown_operators_and_absent_values_are_shown() {
    let mut doc = policy_doc(
        json!({"StringEquals": {"token.actions.githubusercontent.com:environment": "production"}}),
    );
    let second = json!({"Effect": "Allow", "Principal": {"Federated": GH}, "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": {"NumericLessThan": {"token.actions.githubusercontent.com:run_attempt": "3"}}});
    doc["Statement"].as_array_mut().unwrap().push(second);
    let d = diagnose(&doc, &claims(json!({})));
    println!("{d}");
    let text = d.to_string();
    let expected = [
        "  policy  statement 1 (Allow): StringEquals token.actions.githubusercontent.com:environment",
        "          wants   production",
        "          got     (absent)",
        "          statement 2 (Allow): NumericLessThan token.actions.githubusercontent.com:run_attempt",
        "          wants   3",
        "          got     (absent)",
        "          note    this check does not evaluate the NumericLessThan operator; the statement is treated as not matching",
    ]
    .join("\n");
    assert!(text.contains(&expected), "{text}");
    assert!(d.causes.contains(&KnownCause::UnevaluatedCondition {
        statement: 1,
        operator: "NumericLessThan".into(),
        key: "token.actions.githubusercontent.com:run_attempt".into()
    }));
}

#[test]
fn an_admitted_job_has_no_hint_and_display_has_no_hint_line() {
    let doc = policy_doc(
        json!({"StringEquals": {"token.actions.githubusercontent.com:sub": "repo:octo-org/payments:ref:refs/heads/main"}}),
    );
    let d = diagnose(&doc, &claims(json!({})));
    assert_eq!(
        d.headline,
        "the trust policy of arn:aws:iam::111122223333:role/deploy-payments admits this job (statement 1)"
    );
    assert!(d.hint.is_none() && d.suggested_condition.is_none());
    assert!(!d.to_string().contains("hint:"));
}
