//! Tables for input parsing and validation: every rule's accepted and refused values, and the
//! words of each error.

use std::collections::BTreeMap;

use super::*;
use crate::envvars::EnvVars;

const ROLE: &str = "arn:aws:iam::111122223333:role/deploy";

fn raw(pairs: &[(&str, &str)]) -> RawInputs {
    let flags: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    RawInputs::from_flags(&flags)
}

fn ctx() -> EnvVars {
    EnvVars::from_pairs([
        ("GITHUB_REPOSITORY", "octo-org/payments"),
        ("GITHUB_RUN_ID", "9876543210"),
        ("GITHUB_RUN_ATTEMPT", "2"),
        ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
    ])
}

/// The problems validation reports, as (input, problem) pairs.
fn problems(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    match Config::validate(&raw(pairs), &ctx()) {
        Ok(_) => Vec::new(),
        Err(InputErrors(list)) => list
            .into_iter()
            .map(|p| (p.input.clone(), p.to_string()))
            .collect(),
    }
}

fn assert_refused(pairs: &[(&str, &str)], input: &str, words: &str) {
    let found = problems(pairs);
    assert!(
        found
            .iter()
            .any(|(i, text)| i == input && text.contains(words)),
        "expected a problem with `{input}` containing {words:?}, got {found:#?}"
    );
}

#[test]
fn action_yml_declares_every_input_the_validator_reads() {
    let names: Vec<&str> = declared_inputs().iter().map(|d| d.name.as_str()).collect();
    for expected in [
        "role-to-assume",
        "aws-region",
        "audience",
        "role-session-name",
        "role-duration-seconds",
        "web-identity-token-file",
        "trust-policy",
        "allowed-branches",
        "allowed-environments",
        "output-env-credentials",
        "mask-aws-account-id",
        "image-source",
        "repository",
        "image-tag",
        "image-tags",
        "registry-endpoint",
        "create-repository",
        "scan-severity-threshold",
        "scan-wait-minutes",
        "cluster",
        "service",
        "container-name",
        "containers",
        "task-definition",
        "wait-for-minutes",
        "wait-until",
        "force-new-deployment",
        "rollback",
        "dry-run",
        "health-check-url",
        "health-check-successes",
        "when-busy",
        "show-task-logs",
        "github-token",
        "deployment-environment",
        "environment-url",
    ] {
        assert!(
            names.contains(&expected),
            "action.yml lacks input {expected}"
        );
    }
    assert_eq!(
        names.len(),
        36,
        "an input was added to action.yml: give it a rule and a row here"
    );
    let region = declared_inputs()
        .iter()
        .find(|d| d.name == "aws-region")
        .unwrap();
    assert!(region.required);
}

#[test]
fn env_names_follow_the_runner() {
    assert_eq!(input_env_name("role-to-assume"), "INPUT_ROLE-TO-ASSUME");
    assert_eq!(input_env_name("some input"), "INPUT_SOME_INPUT");
}

#[test]
fn action_env_applies_defaults_and_treats_blank_as_absent() {
    let env = EnvVars::from_pairs([
        ("INPUT_AWS-REGION", " us-east-1 "),
        ("INPUT_AUDIENCE", ""),
        ("INPUT_ROLE-TO-ASSUME", ROLE),
    ]);
    let raw = RawInputs::from_action_env(&env);
    assert_eq!(raw.get("aws-region"), Some("us-east-1"));
    // A blank variable is "absent", exactly as @actions/core reads it; the default is not re-applied
    // because the runner already decided the value.
    assert_eq!(raw.get("audience"), None);
    assert_eq!(raw.get("role-duration-seconds"), Some("3600"));
    assert_eq!(raw.get("rollback"), Some("true"));
}

#[test]
fn a_minimal_identity_config_validates_with_defaults() {
    let config = Config::validate(
        &raw(&[("aws-region", "eu-west-1"), ("role-to-assume", ROLE)]),
        &ctx(),
    )
    .expect("valid");
    let id = &config.identity;
    assert_eq!(id.role.as_ref().unwrap().account, "111122223333");
    assert_eq!(id.audience, "sts.amazonaws.com");
    assert_eq!(id.session_name, "gha-payments-9876543210-2");
    assert_eq!(id.duration.as_secs(), 3600);
    assert!(config.image.is_none() && config.rollout.is_none());
}

#[test]
fn region_is_required_because_the_runner_does_not_enforce_it() {
    assert_refused(&[("role-to-assume", ROLE)], "aws-region", "is required");
}

#[test]
fn role_arn_rules() {
    let cases = [
        ("arn:aws:iam::111122223333:user/deploy", "not a role"),
        ("arn:aws:iam::1111:role/deploy", "12-digit"),
        ("arn:aws:s3::111122223333:role/deploy", "not `iam`"),
        ("arn:azure:iam::111122223333:role/deploy", "partition"),
        (
            "arn:aws:iam:us-east-1:111122223333:role/deploy",
            "no region",
        ),
        ("deploy", "not an ARN"),
        ("arn:aws:iam::111122223333:role/has space", "role name"),
    ];
    for (arn, words) in cases {
        assert_refused(
            &[("aws-region", "us-east-1"), ("role-to-assume", arn)],
            "role-to-assume",
            words,
        );
    }
    for ok in [
        "arn:aws:iam::111122223333:role/path/to/deploy",
        "arn:aws-us-gov:iam::111122223333:role/x+y=z,a.b@c_d-e",
    ] {
        let region = if ok.contains("gov") {
            "us-gov-west-1"
        } else {
            "us-east-1"
        };
        assert!(
            problems(&[("aws-region", region), ("role-to-assume", ok)]).is_empty(),
            "{ok} refused"
        );
    }
}

#[test]
fn role_and_region_must_share_a_partition() {
    assert_refused(
        &[
            ("aws-region", "us-east-1"),
            ("role-to-assume", "arn:aws-cn:iam::111122223333:role/r"),
        ],
        "role-to-assume",
        "partition `aws-cn` but region",
    );
    assert!(
        problems(&[
            ("aws-region", "cn-north-1"),
            ("role-to-assume", "arn:aws-cn:iam::111122223333:role/r")
        ])
        .is_empty()
    );
}

#[test]
fn scalar_rules() {
    let base = [("aws-region", "us-east-1"), ("role-to-assume", ROLE)];
    let cases: &[(&str, &str, &str)] = &[
        ("aws-region", "US-EAST-1", "not an AWS region"),
        ("aws-region", "useast1", "not an AWS region"),
        ("role-duration-seconds", "899", "from 900 to 43200"),
        ("role-duration-seconds", "43201", "from 900 to 43200"),
        ("role-duration-seconds", "1h", "from 900 to 43200"),
        ("role-session-name", "a", "2 to 64"),
        ("role-session-name", "has/slash", "not a valid session name"),
        ("audience", "two words", "whitespace"),
        ("output-env-credentials", "yes", "`true` or `false`"),
        ("mask-aws-account-id", "1", "`true` or `false`"),
        (
            "web-identity-token-file",
            "/nonexistent/token",
            "does not exist",
        ),
        (
            "trust-policy",
            "/nonexistent/policy.json",
            "cannot read file",
        ),
        (
            "trust-policy",
            "{not json",
            "inline JSON: the trust policy is not valid JSON (key must be a string at line 1 column 2)",
        ),
    ];
    for (input, value, words) in cases {
        let mut pairs = base.to_vec();
        pairs.retain(|(k, _)| k != input);
        pairs.push((input, value));
        assert_refused(&pairs, input, words);
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let found = problems(&[
        ("aws-region", "nowhere"),
        ("role-to-assume", "x"),
        ("role-duration-seconds", "5"),
    ]);
    let inputs: Vec<&str> = found.iter().map(|(i, _)| i.as_str()).collect();
    assert_eq!(
        inputs,
        ["aws-region", "role-to-assume", "role-duration-seconds"]
    );
}

#[test]
fn oidc_only_inputs_need_a_role() {
    assert_refused(
        &[("aws-region", "us-east-1"), ("allowed-branches", "main")],
        "allowed-branches",
        "only used with `role-to-assume`",
    );
    assert_refused(
        &[("aws-region", "us-east-1"), ("trust-policy", "{}")],
        "trust-policy",
        "only used with `role-to-assume`",
    );
}

#[test]
fn image_inputs() {
    let base = [("aws-region", "us-east-1"), ("role-to-assume", ROLE)];
    let with = |extra: &[(&'static str, &'static str)]| [base.as_slice(), extra].concat();
    assert_refused(
        &with(&[("image-source", "ecr:v1")]),
        "repository",
        "is required",
    );
    assert_refused(
        &with(&[("image-source", "tarball:x"), ("repository", "app")]),
        "image-source",
        "unknown",
    );
    assert_refused(
        &with(&[("image-source", "ecr:v1"), ("repository", "App")]),
        "repository",
        "not a valid ECR repository",
    );
    assert_refused(
        &with(&[
            ("image-source", "ecr:v1"),
            ("repository", "app"),
            ("image-tag", "-bad"),
        ]),
        "image-tag",
        "not a valid image tag",
    );
    assert_refused(
        &with(&[
            ("image-source", "ecr:v1"),
            ("repository", "app"),
            ("scan-severity-threshold", "SEVERE"),
        ]),
        "scan-severity-threshold",
        "not a severity",
    );
    for minutes in ["0", "61", "soon"] {
        assert_refused(
            &with(&[
                ("image-source", "ecr:v1"),
                ("repository", "app"),
                ("scan-wait-minutes", minutes),
            ]),
            "scan-wait-minutes",
            "out of range or not a number",
        );
    }
    assert_refused(
        &with(&[("repository", "app")]),
        "repository",
        "`image-source` is empty",
    );
    assert_refused(
        &with(&[
            ("image-source", "oci:./no/such/layout"),
            ("repository", "app"),
        ]),
        "image-source",
        "does not exist",
    );
    let layout = tempfile::tempdir().unwrap();
    let source = format!("oci:{}:v1", layout.path().display());
    let source: &'static str = Box::leak(source.into_boxed_str());
    let config = Config::validate(
        &raw(&with(&[
            ("image-source", source),
            ("repository", "team/app"),
            ("image-tags", "latest, v1"),
        ])),
        &ctx(),
    )
    .unwrap();
    let image = config.image.unwrap();
    assert_eq!(
        image.source,
        ImageSource::Local(crate::image::SourceRef::Oci {
            path: layout.path().to_owned(),
            reference: Some("v1".into())
        })
    );
    assert_eq!(
        image.tags,
        ["0123456789abcdef0123456789abcdef01234567", "latest", "v1"]
    );
    assert_eq!(
        (image.scan_wait, image.dry_run),
        (std::time::Duration::from_secs(600), false)
    );
    let config = Config::validate(
        &raw(&with(&[
            ("image-source", source),
            ("repository", "app"),
            ("scan-wait-minutes", "2"),
            ("dry-run", "true"),
        ])),
        &ctx(),
    )
    .unwrap();
    let image = config.image.unwrap();
    assert_eq!(
        (image.scan_wait, image.dry_run),
        (std::time::Duration::from_secs(120), true)
    );
}

#[test]
fn rollout_inputs() {
    let base = [("aws-region", "us-east-1"), ("role-to-assume", ROLE)];
    let with = |extra: &[(&'static str, &'static str)]| [base.as_slice(), extra].concat();
    assert_refused(&with(&[("cluster", "prod")]), "service", "is required");
    assert_refused(
        &with(&[("service", "api")]),
        "service",
        "`cluster` is empty",
    );
    assert_refused(
        &with(&[
            ("cluster", "prod"),
            ("service", "api"),
            ("wait-for-minutes", "361"),
        ]),
        "wait-for-minutes",
        "from 1 to 360",
    );
    assert_refused(
        &with(&[
            ("cluster", "prod"),
            ("service", "api"),
            ("health-check-url", "ftp://x"),
        ]),
        "health-check-url",
        "not an http(s) URL",
    );
    assert_refused(
        &with(&[
            ("cluster", "prod"),
            ("service", "api"),
            ("containers", "api"),
        ]),
        "containers",
        "not `name=image`",
    );
    assert_refused(
        &with(&[
            ("cluster", "prod"),
            ("service", "api"),
            ("containers", "api=r/a:1\napi=r/a:2"),
        ]),
        "containers",
        "names `api` twice",
    );
    assert_refused(
        &with(&[
            ("cluster", "prod"),
            ("service", "api"),
            ("rollback", "maybe"),
        ]),
        "rollback",
        "`true` or `false`",
    );
    assert_refused(
        &with(&[
            ("cluster", "prod"),
            ("service", "api"),
            ("when-busy", "queue"),
        ]),
        "when-busy",
        "`wait`, `refuse` or `replace`",
    );
    // The one guard for `container-name` with nothing to push: the rollout relies on it.
    assert_refused(
        &with(&[
            ("cluster", "prod"),
            ("service", "api"),
            ("container-name", "api"),
        ]),
        "container-name",
        "`image-source` is empty, so this run pushes none",
    );
    let config = Config::validate(
        &raw(&with(&[
            ("cluster", "prod"),
            ("service", "api,\nworker"),
            ("wait-for-minutes", "360"),
        ])),
        &ctx(),
    )
    .unwrap();
    let rollout = config.rollout.unwrap();
    assert_eq!(rollout.services, ["api", "worker"]);
    assert_eq!(rollout.wait.as_secs(), 360 * 60);
    assert!(rollout.rollback, "rollback defaults to true");
    assert_eq!(rollout.when_busy, crate::rollout::busy::WhenBusy::Wait);
    assert!(rollout.show_task_logs, "show-task-logs defaults to true");
}

#[test]
fn show_task_logs_is_a_boolean() {
    let rollout = |value: &'static str| {
        [
            ("aws-region", "eu-west-1"),
            ("role-to-assume", ROLE),
            ("cluster", "prod"),
            ("service", "api"),
            ("show-task-logs", value),
        ]
    };
    assert_refused(&rollout("sometimes"), "show-task-logs", "`true` or `false`");
    let off = Config::validate(&raw(&rollout("false")), &ctx()).unwrap();
    assert!(!off.rollout.unwrap().show_task_logs);
}

#[test]
fn default_session_name_is_sanitised_and_keeps_the_run_id() {
    let env = EnvVars::from_pairs([
        (
            "GITHUB_REPOSITORY",
            "o/a-very-long-repository-name-that-goes-on-and-on-and-on-forever",
        ),
        ("GITHUB_RUN_ID", "12345678901"),
        ("GITHUB_RUN_ATTEMPT", "1"),
    ]);
    let name = rules::default_session_name(&env);
    assert!(name.len() <= 64, "{name}");
    assert!(name.ends_with("-12345678901-1"), "{name}");
    assert_eq!(
        rules::default_session_name(&EnvVars::default()),
        "gha-local"
    );
    let odd = EnvVars::from_pairs([("GITHUB_REPOSITORY", "o/r~x"), ("GITHUB_RUN_ID", "1")]);
    assert_eq!(rules::default_session_name(&odd), "gha-r-x-1");
}

#[test]
fn report_inputs_need_a_token_and_a_url_must_be_one() {
    let base = [("aws-region", "eu-west-1"), ("role-to-assume", ROLE)];
    let with = |extra: &[(&'static str, &'static str)]| {
        base.iter().chain(extra).copied().collect::<Vec<_>>()
    };
    let token = ("github-token", "ghs_exampletoken0000000000000000000000");
    assert_refused(
        &with(&[token, ("environment-url", "shop.example.com")]),
        "environment-url",
        "is not an http(s) URL",
    );
    assert_refused(
        &with(&[token, ("environment-url", "https://shop example.com")]),
        "environment-url",
        "is not an http(s) URL",
    );
    assert_refused(
        &with(&[("environment-url", "https://shop.example.com")]),
        "environment-url",
        "`github-token` is empty",
    );
    assert_refused(
        &with(&[("deployment-environment", "production")]),
        "deployment-environment",
        "`github-token` is empty",
    );

    let config = Config::validate(
        &raw(&with(&[
            token,
            ("deployment-environment", "production"),
            ("environment-url", "https://shop.example.com"),
        ])),
        &ctx(),
    )
    .expect("valid");
    assert_eq!(
        config.report.github_token.as_ref().map(|t| t.expose()),
        Some(token.1)
    );
    assert_eq!(
        config.report.deployment_environment.as_deref(),
        Some("production")
    );
    assert_eq!(
        config.report.environment_url.as_deref(),
        Some("https://shop.example.com")
    );
    assert!(
        !format!("{:?}", config.report).contains(token.1),
        "the token never shows in Debug"
    );

    let quiet = Config::validate(&raw(&base), &ctx()).expect("valid");
    assert!(
        quiet.report.github_token.is_none(),
        "no token by default: no GitHub Deployment"
    );
}
