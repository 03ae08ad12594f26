use super::*;
use serde_json::json;

fn claims(git_ref: Option<&str>, environment: Option<&str>) -> Claims {
    let mut v = json!({"sub": "repo:o/r:ref:refs/heads/main"});
    if let Some(r) = git_ref {
        v["ref"] = json!(r);
    }
    if let Some(e) = environment {
        v["environment"] = json!(e);
    }
    Claims::from_map(v.as_object().unwrap().clone())
}

fn glob(p: &str) -> Glob {
    Glob::compile(p, false).unwrap()
}

#[test]
fn glob_syntax_table() {
    #[rustfmt::skip]
    let rows: &[(&str, &str, bool)] = &[
        ("main", "main", true),
        ("main", "Main", false),
        ("main", "main2", false),
        ("release/*", "release/1.0", true),
        ("release/*", "release/1.0/hotfix", false),
        ("release/**", "release/1.0/hotfix", true),
        ("release/**", "release/", true),
        ("**", "a/b/c", true),
        ("*", "feature/x", false),
        ("*", "", true),
        ("v?.0", "v1.0", true),
        ("v?.0", "v.0", false),
        ("v?.0", "v10.0", false),
        ("feat.x", "featYx", false),
        ("[abc]x", "bx", true),
        ("[a-c]x", "dx", false),
        ("[!a-c]x", "dx", true),
        ("[^a-c]x", "ax", false),
        ("a\\*b", "a*b", true),
        ("a\\*b", "axb", false),
        ("*-hotfix", "release/1-hotfix", false),
        ("**-hotfix", "release/1-hotfix", true),
        ("a*b*c*d*e*f*g", "abcdefgh", false),
    ];
    for (pattern, text, want) in rows {
        assert_eq!(glob(pattern).matches(text), *want, "{pattern} vs {text}");
    }
}

#[test]
fn parse_splits_trims_and_skips_blanks() {
    let g = Guards::parse(" main ,\n\n release/* , ,\r\n", "\n production \n").unwrap();
    assert_eq!(g.branch_patterns(), vec!["main", "release/*"]);
    assert_eq!(g.environment_patterns(), vec!["production"]);
    assert!(!g.is_empty());
    assert!(Guards::parse("", " \n , ").unwrap().is_empty());
}

#[test]
fn bad_patterns_name_the_input_the_pattern_and_the_fix() {
    let err = Guards::parse("main, feat[ure", "").unwrap_err();
    assert_eq!(
        err.to_string(),
        "allowed-branches: the pattern \"feat[ure\" has a '[' that is never closed with ']'; write branch names or globs such as \
         `main`, `release/*` or `releases/**`, separated by commas or newlines (a pattern starting with `refs/`, such as \
         `refs/tags/v*`, matches the full ref)"
    );
    let problem = |b: &str, e: &str| match Guards::parse(b, e).unwrap_err() {
        GuardError::BadPattern { input, problem, .. } => format!("{input}: {problem}"),
    };
    assert_eq!(
        problem("", "prod uction"),
        "allowed-environments: contains whitespace (branch and environment names cannot)"
    );
    assert_eq!(
        problem("ma\u{7}in", ""),
        "allowed-branches: contains the control character U+0007"
    );
    assert_eq!(
        problem("a[]b", ""),
        "allowed-branches: has an empty character class '[]'"
    );
    assert_eq!(
        problem("[z-a]", ""),
        "allowed-branches: has the backwards range z-a in a character class"
    );
    assert_eq!(
        problem("!main", ""),
        "allowed-branches: starts with '!', but negation is not supported: list what to admit instead"
    );
    assert_eq!(
        problem("main\\", ""),
        "allowed-branches: ends with a lone '\\'"
    );
}

#[test]
fn branch_guard_admits_and_refuses_with_the_job_value() {
    let g = Guards::parse("main\nrelease/*", "").unwrap();
    assert_eq!(g.check(&claims(Some("refs/heads/main"), None)), Ok(()));
    assert_eq!(
        g.check(&claims(Some("refs/heads/release/2.1"), None)),
        Ok(())
    );
    let err = g
        .check(&claims(Some("refs/heads/feature/x"), None))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "this job runs on branch feature/x; allowed-branches admits: main, release/*"
    );
    let err = g.check(&claims(Some("refs/tags/main"), None)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "this job runs on refs/tags/main, which is not a branch; allowed-branches admits: main, release/* \
         (only a pattern starting with refs/, such as refs/tags/v*, admits other refs)"
    );
    assert_eq!(
        g.check(&claims(None, None)).unwrap_err().to_string(),
        "the token has no `ref` claim, so allowed-branches (main, release/*) cannot admit this job"
    );
    assert!(matches!(
        g.check(&claims(Some("refs/pull/3/merge"), None)),
        Err(GuardRefusal::NotABranch { .. })
    ));
}

#[test]
fn full_ref_patterns_admit_tags_and_exact_refs() {
    let g = Guards::parse("refs/tags/v*, refs/heads/main", "").unwrap();
    assert_eq!(g.check(&claims(Some("refs/tags/v1.2.0"), None)), Ok(()));
    assert_eq!(g.check(&claims(Some("refs/heads/main"), None)), Ok(()));
    assert!(g.check(&claims(Some("refs/tags/x1"), None)).is_err());
    assert!(g.check(&claims(Some("refs/heads/dev"), None)).is_err());
}

#[test]
fn environment_guard_requires_an_environment_and_ignores_case() {
    let g = Guards::parse("", "production, staging-*").unwrap();
    assert_eq!(
        g.check(&claims(Some("refs/heads/x"), Some("Production"))),
        Ok(())
    );
    assert_eq!(
        g.check(&claims(Some("refs/heads/x"), Some("staging-eu"))),
        Ok(())
    );
    assert_eq!(
        g.check(&claims(Some("refs/heads/x"), Some("dev")))
            .unwrap_err()
            .to_string(),
        "this job runs in environment dev; allowed-environments admits: production, staging-*"
    );
    assert_eq!(
        g.check(&claims(Some("refs/heads/x"), None))
            .unwrap_err()
            .to_string(),
        "this job has no environment, and allowed-environments admits only: production, staging-*; \
         give the job `environment: <name>` to deploy from it"
    );
    // Empty environment claim counts as none.
    assert!(matches!(
        g.check(&claims(None, Some(""))),
        Err(GuardRefusal::NoEnvironment { .. })
    ));
}

#[test]
fn both_guards_apply_and_no_guard_admits_everything() {
    let g = Guards::parse("main", "production").unwrap();
    assert_eq!(
        g.check(&claims(Some("refs/heads/main"), Some("production"))),
        Ok(())
    );
    assert!(matches!(
        g.check(&claims(Some("refs/heads/dev"), Some("production"))),
        Err(GuardRefusal::Branch { .. })
    ));
    assert!(matches!(
        g.check(&claims(Some("refs/heads/main"), Some("qa"))),
        Err(GuardRefusal::Environment { .. })
    ));
    assert_eq!(
        Guards::parse("", "").unwrap().check(&Claims::default()),
        Ok(())
    );
}
