//! The claims of a GitHub Actions OIDC token: realistic defaults, overrides merged over them,
//! and the claims GitHub derives from others (`sub`, `repository_owner`, `workflow_ref`, `aud`).
//!
//! Merge rules: a key given with a value replaces the default; a key given as `null` is removed
//! (to test a token lacking a claim) and is not derived again. `sub` is derived only when not
//! given: `repo:<repository>:environment:<environment>` when the job has an environment, else
//! `repo:<repository>:pull_request` for `pull_request` events, else
//! `repo:<repository>:ref:<ref>`.

use serde_json::{Map, Value, json};

use crate::net::{random_uuid, unix_now};

/// The `iss` of GitHub Actions tokens.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The audience AWS's configure-aws-credentials requests, used by `OidcIssuer::mint` by default.
pub const STS_AUDIENCE: &str = "sts.amazonaws.com";
/// Seconds a token is valid for, as GitHub issues them.
pub const TOKEN_LIFETIME_SECS: u64 = 300;

const DEFAULT_SHA: &str = "3f1e2d4c5b6a798812f0e1d2c3b4a5968778695a";

/// The claims GitHub would put in a token for a push to `main` of `octo-org/octo-repo`, before
/// the derived ones.
pub fn default_claims() -> Map<String, Value> {
    let v = json!({
        "ref": "refs/heads/main",
        "sha": DEFAULT_SHA,
        "repository": "octo-org/octo-repo",
        "repository_id": "690000001",
        "repository_owner_id": "90000001",
        "repository_visibility": "private",
        "run_id": "9000000001",
        "run_number": "42",
        "run_attempt": "1",
        "actor": "octocat",
        "actor_id": "583231",
        "workflow": "deploy",
        "head_ref": "",
        "base_ref": "",
        "event_name": "push",
        "ref_type": "branch",
        "ref_protected": "true",
        "workflow_sha": DEFAULT_SHA,
        "job_workflow_sha": DEFAULT_SHA,
        "runner_environment": "github-hosted",
    });
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

/// The full claim set of one token: defaults, then each of `layers` merged in order, then the
/// derived claims and `iss`/`aud`/`iat`/`nbf`/`exp`/`jti` where not given. `audience` is what
/// the token request asked for; an `aud` in the layers wins over it (to force a wrong one).
pub fn github_claims(layers: &[&Value], audience: Option<&str>) -> Value {
    let mut claims = default_claims();
    let mut given = Map::new();
    for layer in layers {
        if let Value::Object(m) = layer {
            for (k, v) in m {
                given.insert(k.clone(), v.clone());
            }
        }
    }
    for (k, v) in &given {
        if v.is_null() {
            claims.remove(k);
        } else {
            claims.insert(k.clone(), v.clone());
        }
    }
    let text =
        |c: &Map<String, Value>, k: &str| c.get(k).and_then(Value::as_str).map(str::to_owned);
    let repository = text(&claims, "repository").unwrap_or_default();
    let git_ref = text(&claims, "ref").unwrap_or_default();
    let mut derive = |k: &str, v: Value| {
        if !given.contains_key(k) {
            claims.insert(k.to_owned(), v);
        }
    };
    let owner = repository.split('/').next().unwrap_or_default().to_owned();
    derive("repository_owner", json!(owner));
    let workflow_ref = format!("{repository}/.github/workflows/deploy.yml@{git_ref}");
    derive("workflow_ref", json!(workflow_ref));
    derive("job_workflow_ref", json!(workflow_ref));
    let now = unix_now();
    derive("iss", json!(GITHUB_ISSUER));
    derive("iat", json!(now));
    derive("nbf", json!(now));
    derive("exp", json!(now + TOKEN_LIFETIME_SECS));
    derive("jti", json!(random_uuid()));
    let aud = audience
        .map(str::to_owned)
        .unwrap_or_else(|| format!("https://github.com/{owner}"));
    derive("aud", json!(aud));
    let environment = text(&claims, "environment");
    let event = text(&claims, "event_name").unwrap_or_default();
    let sub = match environment {
        Some(env) => format!("repo:{repository}:environment:{env}"),
        None if event == "pull_request" => format!("repo:{repository}:pull_request"),
        None => format!("repo:{repository}:ref:{git_ref}"),
    };
    if !given.contains_key("sub") {
        claims.insert("sub".into(), json!(sub));
    }
    Value::Object(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_sub_and_owner_from_overrides() {
        let c = github_claims(
            &[&json!({"repository": "acme/api", "environment": "prod"})],
            Some("sts.amazonaws.com"),
        );
        assert_eq!(c["sub"], "repo:acme/api:environment:prod");
        assert_eq!(c["repository_owner"], "acme");
        assert_eq!(c["aud"], "sts.amazonaws.com");
        assert_eq!(c["iss"], GITHUB_ISSUER);
        assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 300);
    }

    #[test]
    fn null_removes_and_explicit_wins() {
        let c = github_claims(
            &[&json!({"sub": "custom", "actor": null, "aud": "wrong"})],
            Some("sts.amazonaws.com"),
        );
        assert_eq!(c["sub"], "custom");
        assert!(c.get("actor").is_none());
        assert_eq!(c["aud"], "wrong");
        let pr = github_claims(&[&json!({"event_name": "pull_request"})], None);
        assert_eq!(pr["sub"], "repo:octo-org/octo-repo:pull_request");
        assert_eq!(pr["aud"], "https://github.com/octo-org");
    }
}
