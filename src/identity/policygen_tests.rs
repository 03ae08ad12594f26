use super::*;
use crate::identity::claims::Claims;
use crate::identity::trust::{Decision, TrustPolicy, evaluate};
use serde_json::json;

fn spec(branches: &[&str], environments: &[&str]) -> PolicySpec {
    PolicySpec {
        partition: "aws".into(),
        account: "111122223333".into(),
        owner: "octo-org".into(),
        repo: "payments".into(),
        branches: branches.iter().map(|s| s.to_string()).collect(),
        environments: environments.iter().map(|s| s.to_string()).collect(),
        id_form: None,
        audience: "sts.amazonaws.com".into(),
        issuer: "https://token.actions.githubusercontent.com".into(),
        reusable_workflow: None,
    }
}

fn job(sub: &str) -> Claims {
    Claims::from_json(&json!({"iss": "https://token.actions.githubusercontent.com", "aud": "sts.amazonaws.com", "sub": sub}).to_string()).unwrap()
}

fn decide(policy: &Value, sub: &str) -> Decision {
    evaluate(&TrustPolicy::parse(&policy.to_string()).unwrap(), &job(sub)).decision
}

#[test]
fn exact_subjects_in_one_statement() {
    let p = generate(&spec(&["main", "refs/heads/release"], &["production"])).unwrap();
    assert_eq!(
        p,
        json!({"Version": "2012-10-17", "Statement": [{
            "Sid": "GitHubActionsExactSubjects",
            "Effect": "Allow",
            "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                "token.actions.githubusercontent.com:sub": [
                    "repo:octo-org/payments:ref:refs/heads/main",
                    "repo:octo-org/payments:ref:refs/heads/release",
                    "repo:octo-org/payments:environment:production"
                ]
            }}
        }]})
    );
}

#[test]
fn round_trip_admits_exactly_the_named_jobs() {
    let p = generate(&spec(&["main"], &["production"])).unwrap();
    assert_eq!(
        decide(&p, "repo:octo-org/payments:ref:refs/heads/main"),
        Decision::Allowed { statement: 0 }
    );
    assert_eq!(
        decide(&p, "repo:octo-org/payments:environment:production"),
        Decision::Allowed { statement: 0 }
    );
    for other in [
        "repo:octo-org/payments:ref:refs/heads/dev",
        "repo:octo-org/payments:environment:staging",
        "repo:octo-org/payments:pull_request",
        "repo:octo-org/other:ref:refs/heads/main",
        "repo:Octo-Org/payments:ref:refs/heads/main",
        "repo:octo-org/payments:ref:refs/tags/main",
    ] {
        assert_eq!(decide(&p, other), Decision::ImplicitDeny, "{other}");
    }
    // The audience is checked too.
    let wrong_aud = Claims::from_json(
        r#"{"aud":"sigstore","sub":"repo:octo-org/payments:ref:refs/heads/main"}"#,
    )
    .unwrap();
    assert_eq!(
        evaluate(&TrustPolicy::parse(&p.to_string()).unwrap(), &wrong_aud).decision,
        Decision::ImplicitDeny
    );
}

#[test]
fn patterns_get_their_own_statement() {
    let p = generate(&spec(&["main", "release/*"], &[])).unwrap();
    let statements = p["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 2);
    assert_eq!(
        statements[1]["Condition"]["StringLike"]["token.actions.githubusercontent.com:sub"],
        json!("repo:octo-org/payments:ref:refs/heads/release/*")
    );
    assert_eq!(
        statements[1]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:aud"],
        json!("sts.amazonaws.com")
    );
    assert_eq!(
        decide(&p, "repo:octo-org/payments:ref:refs/heads/main"),
        Decision::Allowed { statement: 0 }
    );
    assert_eq!(
        decide(&p, "repo:octo-org/payments:ref:refs/heads/release/2.0"),
        Decision::Allowed { statement: 1 }
    );
    assert_eq!(
        decide(&p, "repo:octo-org/payments:ref:refs/heads/feature/x"),
        Decision::ImplicitDeny
    );
    let only_patterns = generate(&spec(&["release/*"], &[])).unwrap();
    assert_eq!(only_patterns["Statement"].as_array().unwrap().len(), 1);
}

#[test]
fn id_form_subjects() {
    let mut s = spec(&["main"], &[]);
    s.id_form = Some(("1342004".into(), "88120".into()));
    s.partition = "aws-us-gov".into();
    let p = generate(&s).unwrap();
    assert_eq!(
        p["Statement"][0]["Principal"]["Federated"],
        json!("arn:aws-us-gov:iam::111122223333:oidc-provider/token.actions.githubusercontent.com")
    );
    assert_eq!(
        decide(
            &p,
            "repo:octo-org@1342004/payments@88120:ref:refs/heads/main"
        ),
        Decision::Allowed { statement: 0 }
    );
    assert_eq!(
        decide(&p, "repo:octo-org/payments:ref:refs/heads/main"),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(
            &p,
            "repo:octo-org@1342004/payments@99999:ref:refs/heads/main"
        ),
        Decision::ImplicitDeny
    );
}

#[test]
fn dollar_brace_in_a_branch_stays_literal() {
    let p = generate(&spec(&["a${b}"], &[])).unwrap();
    assert_eq!(
        decide(&p, "repo:octo-org/payments:ref:refs/heads/a${b}"),
        Decision::Allowed { statement: 0 }
    );
}

#[test]
fn invalid_specs_are_refused_with_reasons() {
    let err = |s: PolicySpec| generate(&s).unwrap_err().to_string();
    assert_eq!(
        err(spec(&[], &[])),
        "name at least one branch or environment to admit: a policy without them would admit every job of octo-org/payments, pull requests included"
    );
    let mut s = spec(&["main"], &[]);
    s.account = "1111-2222-3333".into();
    assert_eq!(
        err(s),
        "the account \"1111-2222-3333\" is not a 12-digit AWS account ID"
    );
    let mut s = spec(&["main"], &[]);
    s.owner = "octo org".into();
    assert_eq!(
        err(s),
        "the owner \"octo org\" is not a GitHub name (letters, digits, '-', '_' and '.')"
    );
    let mut s = spec(&["main"], &[]);
    s.id_form = Some(("12".into(), "x".into()));
    assert_eq!(err(s), "the repository ID \"x\" is not a number");
    let mut s = spec(&["main"], &[]);
    s.audience = " ".into();
    assert_eq!(
        err(s),
        "the audience is empty; GitHub's default for AWS is sts.amazonaws.com"
    );
    let mut s = spec(&["main"], &[]);
    s.partition = "azure".into();
    assert!(err(s).starts_with("the partition \"azure\""));
    assert!(
        err(spec(&["feat:x"], &[]))
            .starts_with("the branch \"feat:x\" contains a character git does not allow")
    );
    assert_eq!(
        err(spec(&["main", " "], &[])),
        "an empty branch name was given; leave it out or name one"
    );
}
