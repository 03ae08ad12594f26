//! The rollout reported as a GitHub Deployment (when `github-token` is given): which environment
//! (`deployment-environment`, else the job's own from the OIDC token), `in_progress` before the
//! rollout acts and `success` or `failure` after it; a cancelled job's final status within the
//! seconds it has left. Every problem is a warning annotation that names the fix; the deploy's
//! result never depends on GitHub's answers.

use std::sync::Arc;
use std::time::Duration;

use crate::envvars::EnvVars;
use crate::failure::Failure;
use crate::inputs::{ReportConfig, RolloutConfig};
use crate::retry::RetryPolicy;
use crate::runner::Annotation;
use crate::runner::deployments::{
    DeploymentReporter, DeploymentTarget, JobEnvironment, Outcome, ReportError, Reported,
};

use super::Console;
use super::authenticate::Session;

/// Fewer attempts than the AWS calls get: a report that cannot get through in a few seconds
/// should not hold up the deploy (an outage costs about 30 s per request at worst).
const REPORT_RETRIES: RetryPolicy = RetryPolicy {
    max_attempts: 3,
    base_delay: std::time::Duration::from_millis(500),
    max_delay: std::time::Duration::from_secs(2),
};

/// A cancelled job's final status: GitHub sends SIGTERM (which ends the step at once) 7.5 s
/// after SIGINT, and the rollback requests come first, within their 5 s
/// (`rollout::cancelled::REQUEST_BUDGET`); the status gets what is left.
const CANCELLED_LIMIT: Duration = Duration::from_secs(2);
/// One quick retry, for an attempt that failed fast (a reset, a 502).
const CANCELLED_RETRIES: RetryPolicy = RetryPolicy {
    max_attempts: 2,
    base_delay: Duration::from_millis(200),
    max_delay: Duration::from_millis(200),
};

/// A Deployment this run reports to.
pub struct DeploymentReport {
    reporter: DeploymentReporter,
    reported: Reported,
}

/// Reports the start of the rollout: `None` when there is nothing to report to (no token, no
/// environment, a dry run) or GitHub could not be told (a warning says why). The Deployment is
/// handed to `opened` before its `in_progress` is posted: a cancel from then on gives it its
/// final status (even when `in_progress` did not get through).
pub async fn start(
    report: &ReportConfig,
    rollout: &RolloutConfig,
    session: &Session,
    env: &EnvVars,
    console: &mut Console,
    opened: impl FnOnce(Arc<DeploymentReport>),
) -> Option<Arc<DeploymentReport>> {
    let token = report.github_token.as_ref()?;
    if rollout.dry_run {
        tracing::info!("dry run: no GitHub Deployment is reported");
        return None;
    }
    if env.is_true("ACT") {
        // act's run exists on this machine only: a Deployment on GitHub would point at a log
        // that is nowhere, for a run id (1) that belongs to another run.
        tracing::info!("under act: no GitHub Deployment is reported");
        return None;
    }
    let job_environment = match &session.claims {
        Some(claims) => claims
            .string("environment")
            .map(|e| JobEnvironment::Named(e.to_owned()))
            .unwrap_or(JobEnvironment::None),
        None => JobEnvironment::Unknown,
    };
    let environment = match (&report.deployment_environment, &job_environment) {
        (Some(name), _) => name.clone(),
        (None, JobEnvironment::Named(name)) => name.clone(),
        (None, _) => {
            let why = if session.claims.is_some() {
                "the job has no `environment:`"
            } else {
                "no OIDC token tells the job's environment"
            };
            warn(
                console,
                &format!(
                    "no GitHub Deployment is reported: {why} and `deployment-environment` is empty; set one of them"
                ),
            );
            return None;
        }
    };
    let target = DeploymentTarget::from_env(
        env,
        &environment,
        report.environment_url.as_deref(),
        job_environment,
    );
    let reporter = match target.and_then(|t| DeploymentReporter::new(t, token, REPORT_RETRIES)) {
        Ok(r) => r,
        Err(e) => {
            not_reported(console, &e);
            return None;
        }
    };
    let description = rollout_description(rollout);
    let reported = match reporter.open(&description).await {
        Ok(reported) => reported,
        Err(e) => {
            not_reported(console, &e);
            return None;
        }
    };
    let deployment = Arc::new(DeploymentReport { reporter, reported });
    opened(Arc::clone(&deployment));
    let DeploymentReport { reporter, reported } = &*deployment;
    if let Err(e) = reporter.in_progress(reported.id, &description).await {
        not_reported(console, &e);
        return None;
    }
    let whose = if reported.runner_created {
        "the job's Deployment"
    } else {
        "a new Deployment"
    };
    tracing::info!(
        "GitHub Deployment: {whose} {} to {} is in progress",
        reported.id,
        reporter.target().environment
    );
    Some(deployment)
}

/// Reports how the rollout ended.
pub async fn finish(
    report: Option<&DeploymentReport>,
    result: &Result<(), Failure>,
    rollout: &RolloutConfig,
    console: &mut Console,
) {
    let Some(DeploymentReport { reporter, reported }) = report else {
        return;
    };
    let (outcome, description) = match result {
        Ok(()) => (
            Outcome::Success,
            format!("{}: healthy", rollout_description(rollout)),
        ),
        Err(failure) => (Outcome::Failure, failure.headline.clone()),
    };
    match reporter.finish(reported.id, outcome, &description).await {
        Ok(()) => tracing::info!("GitHub Deployment {}: {}", reported.id, outcome.state()),
        Err(e) => not_reported(console, &e),
    }
}

/// Reports how a cancelled job left the rollout (`description`, e.g. `cancelled (SIGTERM); api:
/// rollback to api:1 requested`): `failure`, or `success` when the rollout had passed its gate
/// before the signal. Bounded by [`CANCELLED_LIMIT`]; a status that does not get through is a
/// warning (the Deployment may then show in progress until GitHub marks it otherwise).
pub async fn cancelled(
    report: &DeploymentReport,
    gate_passed: bool,
    description: &str,
    console: &mut Console,
) {
    let DeploymentReport { reporter, reported } = report;
    let outcome = if gate_passed {
        Outcome::Success
    } else {
        Outcome::Cancelled
    };
    let posted = reporter
        .finish_within(
            reported.id,
            outcome,
            description,
            &CANCELLED_RETRIES,
            CANCELLED_LIMIT,
        )
        .await;
    match posted {
        Ok(()) => tracing::info!(
            "GitHub Deployment {}: {} ({description})",
            reported.id,
            outcome.state()
        ),
        Err(e) => warn(
            console,
            &format!(
                "the cancelled rollout's GitHub Deployment {} was not given its final status, so it may still show in progress: {e}",
                reported.id
            ),
        ),
    }
}

fn rollout_description(rollout: &RolloutConfig) -> String {
    format!("ECS {} on {}", rollout.services.join(", "), rollout.cluster)
}

fn not_reported(console: &mut Console, error: &ReportError) {
    warn(
        console,
        &format!("the rollout is not reported as a GitHub Deployment: {error}"),
    );
}

fn warn(console: &mut Console, text: &str) {
    let _ = console
        .workflow
        .warning(text, &Annotation::titled("GitHub Deployment"));
}
