use super::*;

const SHA: &str = "3f1e2d4c5b6a798812f0e1d2c3b4a5968778695a";

fn env(pairs: &[(&str, &str)]) -> EnvVars {
    EnvVars::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

fn runner_env() -> EnvVars {
    env(&[
        ("GITHUB_REPOSITORY", "octo-org/payments"),
        ("GITHUB_SHA", SHA),
        ("GITHUB_RUN_ID", "7001"),
        ("GITHUB_SERVER_URL", "https://github.com"),
    ])
}

fn target() -> DeploymentTarget {
    DeploymentTarget::from_env(
        &runner_env(),
        "production",
        None,
        JobEnvironment::Named("production".into()),
    )
    .expect("a complete runner environment")
}

fn deployment(id: u64, sha: &str, environment: &str) -> DeploymentSeen {
    DeploymentSeen {
        id,
        sha: sha.into(),
        environment: environment.into(),
    }
}

fn status(id: u64, state: &str, log_url: Option<&str>) -> StatusSeen {
    StatusSeen {
        id,
        state: state.into(),
        log_url: log_url.map(Into::into),
        target_url: None,
    }
}

/// Deployments with their statuses, as `runner_deployment` takes them.
type Candidates = Vec<(DeploymentSeen, Vec<StatusSeen>)>;

const THIS_JOB: &str = "https://github.com/octo-org/payments/actions/runs/7001/job/99";

#[test]
fn the_runners_deployment_is_recognised_by_commit_environment_run_and_open_state() {
    let cases: Vec<(&str, Candidates, Option<u64>)> = vec![
        (
            "the job's deployment, in progress",
            vec![(
                deployment(5, SHA, "production"),
                vec![status(1, "in_progress", Some(THIS_JOB))],
            )],
            Some(5),
        ),
        (
            "environment names compare without case",
            vec![(
                deployment(5, SHA, "Production"),
                vec![status(1, "in_progress", Some(THIS_JOB))],
            )],
            Some(5),
        ),
        (
            "still queued",
            vec![(
                deployment(5, SHA, "production"),
                vec![status(1, "queued", Some(THIS_JOB))],
            )],
            Some(5),
        ),
        (
            "waiting for approval, a state the request schema lacks",
            vec![(
                deployment(5, SHA, "production"),
                vec![status(1, "waiting", Some(THIS_JOB))],
            )],
            Some(5),
        ),
        (
            "the run URL alone",
            vec![(
                deployment(5, SHA, "production"),
                vec![status(
                    1,
                    "in_progress",
                    Some("https://github.com/octo-org/payments/actions/runs/7001"),
                )],
            )],
            Some(5),
        ),
        (
            "the run in target_url only (older statuses)",
            vec![(
                deployment(5, SHA, "production"),
                vec![StatusSeen {
                    id: 1,
                    state: "in_progress".into(),
                    log_url: None,
                    target_url: Some(THIS_JOB.into()),
                }],
            )],
            Some(5),
        ),
        (
            "another run",
            vec![(
                deployment(5, SHA, "production"),
                vec![status(
                    1,
                    "in_progress",
                    Some("https://github.com/octo-org/payments/actions/runs/70012/job/1"),
                )],
            )],
            None,
        ),
        (
            "a run id that only starts like ours",
            vec![(
                deployment(5, SHA, "production"),
                vec![status(
                    1,
                    "in_progress",
                    Some("https://github.com/octo-org/payments/actions/runs/700199"),
                )],
            )],
            None,
        ),
        (
            "another repository's run",
            vec![(
                deployment(5, SHA, "production"),
                vec![status(
                    1,
                    "in_progress",
                    Some("https://github.com/octo-org/other/actions/runs/7001/job/9"),
                )],
            )],
            None,
        ),
        (
            "another commit",
            vec![(
                deployment(5, "0000000000000000000000000000000000000000", "production"),
                vec![status(1, "in_progress", Some(THIS_JOB))],
            )],
            None,
        ),
        (
            "another environment",
            vec![(
                deployment(5, SHA, "staging"),
                vec![status(1, "in_progress", Some(THIS_JOB))],
            )],
            None,
        ),
        (
            "already finished: a previous attempt's",
            vec![(
                deployment(5, SHA, "production"),
                vec![
                    status(1, "in_progress", Some(THIS_JOB)),
                    status(2, "failure", Some(THIS_JOB)),
                ],
            )],
            None,
        ),
        (
            "the newest status decides, whatever the order",
            vec![(
                deployment(5, SHA, "production"),
                vec![
                    status(3, "in_progress", Some(THIS_JOB)),
                    status(2, "queued", Some(THIS_JOB)),
                ],
            )],
            Some(5),
        ),
        (
            "no statuses yet",
            vec![(deployment(5, SHA, "production"), vec![])],
            None,
        ),
        (
            "an example deployment from elsewhere",
            vec![(
                deployment(42, SHA, "production"),
                vec![status(
                    1,
                    "success",
                    Some("https://example.com/deployment/42/output"),
                )],
            )],
            None,
        ),
        (
            "two open ones: the newest",
            vec![
                (
                    deployment(5, SHA, "production"),
                    vec![status(1, "in_progress", Some(THIS_JOB))],
                ),
                (
                    deployment(6, SHA, "production"),
                    vec![status(2, "in_progress", Some(THIS_JOB))],
                ),
            ],
            Some(6),
        ),
    ];
    let t = target();
    for (case, candidates, expected) in cases {
        assert_eq!(runner_deployment(&t, &candidates), expected, "{case}");
    }
}

#[test]
fn only_a_job_in_the_same_environment_or_an_unknown_one_is_searched() {
    let with = |job| DeploymentTarget {
        job_environment: job,
        ..target()
    };
    assert!(with(JobEnvironment::Named("production".into())).may_have_runner_deployment());
    assert!(with(JobEnvironment::Named("PRODUCTION".into())).may_have_runner_deployment());
    assert!(!with(JobEnvironment::Named("staging".into())).may_have_runner_deployment());
    assert!(!with(JobEnvironment::None).may_have_runner_deployment());
    assert!(with(JobEnvironment::Unknown).may_have_runner_deployment());
}

#[test]
fn the_target_comes_from_the_runners_variables() {
    let t = DeploymentTarget::from_env(
        &runner_env(),
        "production",
        Some("https://shop.example.com"),
        JobEnvironment::Unknown,
    )
    .unwrap();
    assert_eq!(
        (t.owner.as_str(), t.repo.as_str(), t.sha.as_str()),
        ("octo-org", "payments", SHA)
    );
    assert_eq!(
        t.api_url, "https://api.github.com",
        "GitHub.com's API when GITHUB_API_URL is unset"
    );
    assert_eq!(
        t.log_url,
        "https://github.com/octo-org/payments/actions/runs/7001"
    );
    assert_eq!(
        t.environment_url.as_deref(),
        Some("https://shop.example.com")
    );

    let mut ghes = runner_env();
    ghes.set("GITHUB_API_URL", "https://ghe.example.com/api/v3/");
    ghes.set("GITHUB_SERVER_URL", "https://ghe.example.com");
    let t = DeploymentTarget::from_env(&ghes, "production", None, JobEnvironment::Unknown).unwrap();
    assert_eq!(t.api_url, "https://ghe.example.com/api/v3");
    assert_eq!(
        t.log_url,
        "https://ghe.example.com/octo-org/payments/actions/runs/7001"
    );
}

#[test]
fn a_run_outside_actions_names_what_is_missing() {
    for (missing, vars) in [
        (
            "GITHUB_REPOSITORY",
            env(&[("GITHUB_SHA", SHA), ("GITHUB_RUN_ID", "1")]),
        ),
        (
            "GITHUB_SHA",
            env(&[("GITHUB_REPOSITORY", "o/r"), ("GITHUB_RUN_ID", "1")]),
        ),
        (
            "GITHUB_RUN_ID",
            env(&[("GITHUB_REPOSITORY", "o/r"), ("GITHUB_SHA", SHA)]),
        ),
    ] {
        let e = DeploymentTarget::from_env(&vars, "production", None, JobEnvironment::Unknown)
            .unwrap_err();
        assert!(
            matches!(e, ReportError::NotInActions { missing: m } if m == missing),
            "{missing}: {e}"
        );
        assert!(e.to_string().contains("leave `github-token` empty"), "{e}");
    }
    for bad in ["payments", "/payments", "octo-org/", "a/b/c"] {
        let vars = env(&[
            ("GITHUB_REPOSITORY", bad),
            ("GITHUB_SHA", SHA),
            ("GITHUB_RUN_ID", "1"),
        ]);
        assert!(
            matches!(
                DeploymentTarget::from_env(&vars, "p", None, JobEnvironment::Unknown),
                Err(ReportError::BadRepository { .. })
            ),
            "{bad}"
        );
    }
}

#[test]
fn descriptions_fit_githubs_limit_on_one_line() {
    assert_eq!(
        status_description("api, worker\n on  prod"),
        "api, worker on prod"
    );
    let long = "x".repeat(500);
    let cut = status_description(&long);
    assert_eq!(cut.chars().count(), DESCRIPTION_LIMIT);
    assert!(cut.ends_with("..."));
    let exactly = "é".repeat(DESCRIPTION_LIMIT);
    assert_eq!(
        status_description(&exactly),
        exactly,
        "the limit counts characters, not bytes"
    );
}

#[test]
fn a_cancelled_rollout_is_reported_as_a_failure() {
    assert_eq!(Outcome::Success.state(), "success");
    assert_eq!(Outcome::Failure.state(), "failure");
    assert_eq!(Outcome::Cancelled.state(), "failure");
}

#[test]
fn transient_answers_are_retried_and_refusals_are_not() {
    let status = |status: u16| ReportError::Status {
        what: "x",
        status,
        message: String::new(),
    };
    let cases = [
        (status(500), Retry::Transient),
        (status(502), Retry::Transient),
        (status(503), Retry::Transient),
        (status(429), Retry::Transient),
        (status(408), Retry::Transient),
        (status(403), Retry::Transient), // a 403 that stayed a Status is a secondary rate limit
        (status(404), Retry::Fatal),
        (status(409), Retry::Fatal),
        (status(422), Retry::Fatal),
        (
            ReportError::Refused {
                status: 403,
                message: "Resource not accessible by integration".into(),
            },
            Retry::Fatal,
        ),
        (
            ReportError::Refused {
                status: 401,
                message: "Bad credentials".into(),
            },
            Retry::Fatal,
        ),
        (
            ReportError::Unreachable {
                what: "x",
                url: "u".into(),
                detail: "connection reset".into(),
            },
            Retry::Transient,
        ),
        (
            ReportError::BadAnswer {
                what: "x",
                detail: "d".into(),
            },
            Retry::Fatal,
        ),
        (
            ReportError::NotCreated {
                message: "merged".into(),
            },
            Retry::Fatal,
        ),
    ];
    for (error, expected) in cases {
        assert_eq!(classify(&error), expected, "{error}");
    }
}

#[test]
fn a_refusal_names_the_permission_and_a_bad_token_says_so() {
    let refused = ReportError::Refused {
        status: 403,
        message: "Resource not accessible by integration".into(),
    };
    assert!(
        refused
            .to_string()
            .contains("permissions: deployments: write"),
        "{refused}"
    );
    assert!(refused.is_permission());
    let bad = ReportError::Refused {
        status: 401,
        message: "Bad credentials".into(),
    };
    assert!(bad.to_string().contains("not valid"), "{bad}");
    let gave_up = ReportError::GaveUp {
        attempts: 3,
        elapsed: Duration::from_secs(2),
        last: Box::new(ReportError::Status {
            what: "x",
            status: 503,
            message: "down".into(),
        }),
    };
    assert!(!gave_up.is_permission());
    assert!(
        gave_up.to_string().starts_with("3 attempts over 2.0 s"),
        "{gave_up}"
    );
}

#[test]
fn the_requests_bodies_have_githubs_field_names() {
    let t = target();
    let body = NewDeployment {
        git_ref: &t.sha,
        task: "deploy",
        environment: &t.environment,
        description: "d".into(),
        auto_merge: false,
        required_contexts: [],
    };
    assert_eq!(
        serde_json::to_value(&body).unwrap(),
        serde_json::json!({"ref": SHA, "task": "deploy", "environment": "production", "description": "d", "auto_merge": false, "required_contexts": []})
    );
    let status = NewStatus {
        state: "in_progress",
        log_url: &t.log_url,
        environment_url: None,
        description: "d".into(),
    };
    assert_eq!(
        serde_json::to_value(&status).unwrap(),
        serde_json::json!({"state": "in_progress", "log_url": "https://github.com/octo-org/payments/actions/runs/7001", "description": "d"})
    );
}

#[test]
fn an_api_url_that_is_not_http_is_refused_before_any_request() {
    let t = DeploymentTarget {
        api_url: "ftp://ghe.example.com".into(),
        ..target()
    };
    let error = DeploymentReporter::new(t, &Secret::new("ghs_example"), RetryPolicy::default())
        .err()
        .expect("refused");
    assert!(matches!(error, ReportError::BadApiUrl { .. }), "{error}");
}
