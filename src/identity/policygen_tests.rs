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

#[test]
fn issuer_and_reusable_workflow_shape_every_statement() {
    let workflow = "octo-org/deploy-workflows/.github/workflows/deploy.yml@refs/tags/v1";
    let ghes = "ghes.example.com/_services/token";
    // (issuer, owner/repo, branches, workflow) -> the provider and the keys of statement 1.
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a [&'a str],
        Option<&'a str>,
        &'a str,
        Value,
    );
    let cases: [Case; 4] = [
        (
            "https://ghes.example.com/_services/token",
            "octo-org/payments",
            &["main"],
            None,
            ghes,
            json!({"StringEquals": {format!("{ghes}:aud"): "sts.amazonaws.com", format!("{ghes}:sub"): "repo:octo-org/payments:ref:refs/heads/main"}}),
        ),
        (
            "https://token.actions.githubusercontent.com/octo-ent",
            "octo-org/payments",
            &["main"],
            None,
            "token.actions.githubusercontent.com/octo-ent",
            json!({"StringEquals": {"token.actions.githubusercontent.com/octo-ent:aud": "sts.amazonaws.com", "token.actions.githubusercontent.com/octo-ent:sub": "repo:octo-org/payments:ref:refs/heads/main"}}),
        ),
        (
            "https://token.actions.githubusercontent.com",
            "/",
            &[],
            Some(workflow),
            "token.actions.githubusercontent.com",
            json!({"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com", "token.actions.githubusercontent.com:job_workflow_ref": workflow}}),
        ),
        (
            "https://token.actions.githubusercontent.com",
            "octo-org/payments",
            &[],
            Some(workflow),
            "token.actions.githubusercontent.com",
            json!({"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com", "token.actions.githubusercontent.com:job_workflow_ref": workflow},
                "StringLike": {"token.actions.githubusercontent.com:sub": "repo:octo-org/payments:*"}}),
        ),
    ];
    for (issuer, repo, branches, reusable, provider, condition) in cases {
        let (owner, repo) = repo.split_once('/').unwrap();
        let spec = PolicySpec {
            issuer: issuer.into(),
            owner: owner.into(),
            repo: repo.into(),
            reusable_workflow: reusable.map(str::to_string),
            ..spec(branches, &[])
        };
        let p = generate(&spec).unwrap_or_else(|e| panic!("{issuer} {reusable:?}: {e}"));
        let s = &p["Statement"][0];
        assert_eq!(
            s["Principal"]["Federated"],
            json!(format!(
                "arn:aws:iam::111122223333:oidc-provider/{provider}"
            ))
        );
        assert_eq!(s["Condition"], condition, "{issuer} {reusable:?}");
    }
}

#[test]
fn bad_issuers_and_workflows_are_refused() {
    let with = |issuer: &str, workflow: Option<&str>| PolicySpec {
        issuer: issuer.into(),
        reusable_workflow: workflow.map(str::to_string),
        ..spec(&["main"], &[])
    };
    let gh = "https://token.actions.githubusercontent.com";
    let cases = [
        (
            with("https://evil.example/token", None),
            "is not a GitHub Actions issuer",
        ),
        (
            with("http://ghes.example.com/_services/token", None),
            "is not a GitHub Actions issuer",
        ),
        (
            with(gh, Some("octo-org/x/.github/workflows/d.yml")),
            "has no @REF",
        ),
        (
            with(gh, Some("octo-org/x/.github/workflows/d.yml@v1")),
            "has a short ref",
        ),
        (
            with(gh, Some("octo-org/x/workflows/d.yml@refs/heads/main")),
            "under .github/workflows/",
        ),
        (
            with(gh, Some("octo-org/.github/workflows/d.yml@refs/heads/main")),
            "under .github/workflows/",
        ),
    ];
    for (spec, words) in cases {
        let e = generate(&spec).unwrap_err().to_string();
        assert!(e.contains(words), "{spec:?}: {e}");
    }
    // Branches without a repository cannot be admitted for a reusable workflow's callers.
    let no_repo = PolicySpec {
        owner: String::new(),
        repo: String::new(),
        ..with(gh, Some("o/r/.github/workflows/d.yml@refs/heads/main"))
    };
    assert_eq!(generate(&no_repo), Err(PolicyGenError::NoRepository));
    let sha = "0123456789abcdef0123456789abcdef01234567";
    assert!(
        generate(&with(
            gh,
            Some(&format!("o/r/.github/workflows/d.yml@{sha}"))
        ))
        .is_ok()
    );
}
