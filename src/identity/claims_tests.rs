use super::*;
use serde_json::json;

fn jwt(payload: &Value) -> String {
    let enc = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    format!(
        "{}.{}.{}",
        enc(r#"{"alg":"RS256"}"#),
        enc(&payload.to_string()),
        enc("sig")
    )
}

#[test]
fn decodes_the_payload_of_a_jwt() {
    let claims = Claims::from_jwt(&jwt(
        &json!({"sub": "repo:o/r:pull_request", "aud": "sts.amazonaws.com"}),
    ))
    .unwrap();
    assert_eq!(claims.sub(), Some("repo:o/r:pull_request"));
    assert_eq!(claims.audiences(), vec!["sts.amazonaws.com"]);
}

#[test]
fn tolerates_padding_whitespace_and_bearer_prefix() {
    let payload = base64::engine::general_purpose::URL_SAFE
        .encode(r#"{"sub":"repo:o/r:ref:refs/heads/main","n":1}"#);
    assert!(
        payload.ends_with('='),
        "the test needs a padded payload: {payload}"
    );
    let (a, b) = payload.split_at(10);
    let token = format!("  Bearer eyJhbGciOiJSUzI1NiJ9.{a}\n  {b}.c2ln \n");
    let claims = Claims::from_jwt(&token).unwrap();
    assert_eq!(claims.git_ref(), None);
    assert_eq!(claims.sub(), Some("repo:o/r:ref:refs/heads/main"));
}

#[test]
fn rejects_what_is_not_a_jwt() {
    for bad in ["", "abc", "a.b", "a.b.c.d.e", ".x.y", "a..c"] {
        let err = Claims::from_jwt(bad).unwrap_err();
        assert!(
            matches!(err, ClaimsError::NotAJwt { .. }),
            "{bad:?}: {err:?}"
        );
        assert!(
            err.to_string().starts_with(
                "the token is not a JWT (expected three dot-separated base64url parts"
            )
        );
    }
    assert!(matches!(
        Claims::from_jwt("a.!!!.c"),
        Err(ClaimsError::Base64(_))
    ));
    let not_json = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("not json");
    assert!(matches!(
        Claims::from_jwt(&format!("a.{not_json}.c")),
        Err(ClaimsError::Json(_))
    ));
    let array = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("[1]");
    let err = Claims::from_jwt(&format!("a.{array}.c")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the claims are not a JSON object (found an array)"
    );
}

#[test]
fn from_json_reads_a_claims_file() {
    let claims =
        Claims::from_json(r#"{"sub":"repo:o/r:environment:prod","environment":"prod"}"#).unwrap();
    assert_eq!(claims.environment(), Some("prod"));
    assert!(matches!(
        Claims::from_json("\"x\""),
        Err(ClaimsError::NotAnObject { found: "a string" })
    ));
    assert!(matches!(Claims::from_json("{"), Err(ClaimsError::Json(_))));
}

#[test]
fn values_follow_iam_context_rules() {
    let c = Claims::from_map(
        json!({
            "s": "x", "a": ["p", "q", 3], "n": 42, "b": true, "z": null, "o": {"k": 1}, "e": []
        })
        .as_object()
        .unwrap()
        .clone(),
    );
    assert_eq!(c.values("s"), Some(vec!["x".into()]));
    assert_eq!(
        c.values("a"),
        Some(vec!["p".into(), "q".into(), "3".into()])
    );
    assert_eq!(c.values("n"), Some(vec!["42".into()]));
    assert_eq!(c.values("b"), Some(vec!["true".into()]));
    assert_eq!(c.values("z"), None);
    assert_eq!(c.values("o"), None);
    assert_eq!(c.values("e"), None);
    assert_eq!(c.values("missing"), None);
    assert_eq!(c.get_ignore_case("S").map(|(k, _)| k), Some("s"));
}

fn subject(sub: &str) -> Subject {
    Subject::parse(sub).unwrap_or_else(|| panic!("{sub} should parse"))
}

#[test]
fn parses_the_standard_sub_forms() {
    let s = subject("repo:octo-org/payments:environment:production");
    assert_eq!(
        (s.owner.as_str(), s.repo.as_str()),
        ("octo-org", "payments")
    );
    assert_eq!(s.context, SubjectContext::Environment("production".into()));
    assert!(!s.is_id_form());
    assert_eq!(
        subject("repo:o/r:pull_request").context,
        SubjectContext::PullRequest
    );
    assert_eq!(
        subject("repo:o/r:ref:refs/heads/feature/x").context,
        SubjectContext::Branch("feature/x".into())
    );
    assert_eq!(
        subject("repo:o/r:ref:refs/tags/v1.2.3").context,
        SubjectContext::Tag("v1.2.3".into())
    );
    assert_eq!(
        subject("repo:o/r:ref:refs/pull/7/merge").context,
        SubjectContext::Ref("refs/pull/7/merge".into())
    );
    // An environment may be named like a key.
    assert_eq!(
        subject("repo:o/r:environment:ref").context,
        SubjectContext::Environment("ref".into())
    );
}

#[test]
fn parses_the_immutable_id_form() {
    let s = subject("repo:octo-org@1342004/payments@88120:ref:refs/heads/main");
    assert_eq!(s.owner, "octo-org");
    assert_eq!(s.owner_id.as_deref(), Some("1342004"));
    assert_eq!(s.repo, "payments");
    assert_eq!(s.repo_id.as_deref(), Some("88120"));
    assert!(s.is_id_form());
    assert_eq!(s.context, SubjectContext::Branch("main".into()));
    // '@' not followed by digits is not an ID, and not a valid name either.
    assert_eq!(Subject::parse("repo:a@b/c@1:pull_request"), None);
    assert_eq!(Subject::parse("repo:a@1/c@:pull_request"), None);
}

#[test]
fn parses_customised_subjects() {
    let s = subject(
        "repo:octo-org/payments:environment:prod:job_workflow_ref:octo-org/shared/.github/workflows/deploy.yml@refs/heads/main",
    );
    assert_eq!(s.context, SubjectContext::Custom);
    assert_eq!(s.pair("environment"), Some("prod"));
    assert_eq!(
        s.pair("job_workflow_ref"),
        Some("octo-org/shared/.github/workflows/deploy.yml@refs/heads/main")
    );
    let s = subject("repository_owner:octo-org:context:prod");
    assert_eq!((s.owner.as_str(), s.repo.as_str()), ("octo-org", ""));
    assert_eq!(
        s.pairs,
        vec![
            ("repository_owner".into(), "octo-org".into()),
            ("context".into(), "prod".into())
        ]
    );
    // A value takes at least one token, so a context value may itself look like `ref:...`.
    let s = subject("repo:o/r:context:ref:refs/heads/main");
    assert_eq!(
        s.pairs,
        vec![("context".into(), "ref:refs/heads/main".into())]
    );
    let s = subject("repo:o/r");
    assert!(s.pairs.is_empty());
    assert_eq!(s.context, SubjectContext::Custom);
    // A ':' inside a value stays in the value.
    assert_eq!(
        subject("repo:o/r:ref:refs/heads/a:b").context,
        SubjectContext::Branch("a:b".into())
    );
}

#[test]
fn garbage_subjects_are_none_and_never_panic() {
    for sub in [
        "",
        ":",
        "::",
        "repo",
        "repo:",
        "repo:noslash",
        "repo:/r:pull_request",
        "repo:o/:pull_request",
        "repo:o/r/x:pull_request",
        "nonsense:o/r",
        "repo:o/r:environment",
        "repo:o/r:environment:",
        "repo:o/r:bogus:x",
        "repository_owner",
        "context:prod",
        "\u{0}:\u{ffff}",
        "repo:o/r::",
        "repo:@/@:ref:",
        "🦀:🦀",
        "repo:o/r:pull_request:pull_request:pull_request",
    ] {
        let parsed = Subject::parse(sub);
        if sub == "repo:o/r:pull_request:pull_request:pull_request" {
            assert_eq!(parsed.unwrap().context, SubjectContext::Custom);
        } else {
            assert!(parsed.is_none(), "{sub:?} parsed as {parsed:?}");
        }
    }
    // Claims without sub, or with a non-string sub, have no subject.
    assert!(Claims::default().subject().is_none());
    assert!(
        Claims::from_json(r#"{"sub": 7}"#)
            .unwrap()
            .subject()
            .is_none()
    );
}

#[test]
fn sanity_warnings_name_issuer_expiry_and_audience() {
    let ok = Claims::from_json(r#"{"iss":"https://token.actions.githubusercontent.com","exp":2000,"aud":"sts.amazonaws.com"}"#).unwrap();
    assert!(ok.sanity_warnings("sts.amazonaws.com", 1000).is_empty());
    let ghes = Claims::from_json(r#"{"iss":"https://token.actions.githubusercontent.com/octo-ent","exp":2000,"aud":["x","sts.amazonaws.com"]}"#).unwrap();
    assert!(ghes.sanity_warnings("sts.amazonaws.com", 1000).is_empty());
    assert_eq!(
        ghes.provider(),
        "token.actions.githubusercontent.com/octo-ent"
    );
    assert_eq!(ok.provider(), "token.actions.githubusercontent.com");

    let bad = Claims::from_json(r#"{"iss":"https://evil.example/token.actions.githubusercontent.com","exp":900,"aud":"sigstore"}"#).unwrap();
    let w = bad.sanity_warnings("sts.amazonaws.com", 1000);
    assert_eq!(w.len(), 3, "{w:#?}");
    assert!(w[0].contains("issuer is https://evil.example/"), "{}", w[0]);
    assert_eq!(
        w[1],
        "the token expired 100 s ago (exp = 900); STS will refuse it"
    );
    assert_eq!(
        w[2],
        "the token's aud is sigstore, not the expected audience sts.amazonaws.com"
    );
    // A look-alike host is not a GitHub issuer.
    let lookalike =
        Claims::from_json(r#"{"iss":"https://token.actions.githubusercontent.com.evil.example"}"#)
            .unwrap();
    assert_eq!(lookalike.provider(), "token.actions.githubusercontent.com");
    assert!(lookalike.sanity_warnings("a", 0)[0].contains("issuer is"));
}

#[test]
fn subject_parsing_never_panics_on_generated_input() {
    // Every sequence of 4 pieces from the characters and words that matter: 12^4 subjects.
    let pieces = [
        "repo",
        ":",
        "/",
        "@",
        "1",
        "o/o",
        "environment",
        "ref",
        "refs/heads/",
        "pull_request",
        "é",
        "*",
    ];
    let mut parsed = 0;
    for n in 0..pieces.len().pow(4) {
        let s: String = (0..4)
            .map(|d| pieces[(n / pieces.len().pow(d)) % pieces.len()])
            .collect();
        if Subject::parse(&s).is_some() {
            parsed += 1;
        }
    }
    assert!(parsed > 0, "some generated subjects are valid");
}
