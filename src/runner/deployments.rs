//! GitHub Deployments over the REST API (through octocrab): a rollout reported as a Deployment
//! of the commit (`GITHUB_SHA`) to an environment, with an `in_progress` status when it starts
//! and `success` or `failure` when it ends (a cancelled job's too: [`Outcome::Cancelled`]), each
//! carrying the environment's URL and the run's log URL
//! (`GITHUB_SERVER_URL/GITHUB_REPOSITORY/actions/runs/GITHUB_RUN_ID`).
//!
//! A job with `environment:` already has a Deployment: the runner creates one for the job's
//! commit and environment and keeps it `in_progress` (earlier `queued`/`waiting`) while the job
//! runs, its statuses pointing at the run (`.../actions/runs/RUN_ID/job/JOB_ID`). That is the
//! Deployment this run reports to ([`runner_deployment`]); a new one is created only when none
//! matches, so a job never shows two Deployments for one rollout.
//!
//! Requests go to `GITHUB_API_URL` (GitHub Enterprise Server's `https://HOST/api/v3`), default
//! `https://api.github.com`. Reporting is a side channel: every failure is a [`ReportError`]
//! whose text names the fix, for the caller to show as a warning; none fails a deploy. Transient
//! answers (5xx, 429, a secondary rate limit, a dropped or hung connection) are retried.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::envvars::EnvVars;
use crate::retry::{self, Retry, RetryPolicy};
use crate::secret::Secret;

/// GitHub refuses a status description longer than this (the API documents the limit).
pub const DESCRIPTION_LIMIT: usize = 140;
/// One request's limit: a hung connection counts as transient and is retried.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Candidates whose statuses are read when looking for the runner's Deployment: the runner's is
/// among the newest for the commit and environment, and every candidate costs one request.
const CANDIDATES: usize = 3;
/// What a token without the permission is told.
const PERMISSION_FIX: &str = "give the job `permissions: deployments: write` (a job-level `permissions:` block replaces the workflow's), or pass a token that has it";

/// Whether the job itself runs in a GitHub environment, as far as this run can tell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobEnvironment {
    /// The OIDC token's `environment` claim: the runner created a Deployment for it.
    Named(String),
    /// The token has no `environment` claim: the runner created no Deployment.
    None,
    /// No token was read (credentials from the environment): look, in case.
    Unknown,
}

/// Where and what to report, from the runner's variables and the inputs.
#[derive(Clone, Debug)]
pub struct DeploymentTarget {
    /// `GITHUB_API_URL` without a trailing slash.
    pub api_url: String,
    pub owner: String,
    pub repo: String,
    pub sha: String,
    pub run_id: String,
    /// The run's page: the status's `log_url`.
    pub log_url: String,
    pub environment: String,
    pub environment_url: Option<String>,
    pub job_environment: JobEnvironment,
}

impl DeploymentTarget {
    /// The target for `environment` from the runner's `GITHUB_*` variables, or which of them is
    /// missing (a CLI run outside Actions has none).
    pub fn from_env(
        env: &EnvVars,
        environment: &str,
        environment_url: Option<&str>,
        job_environment: JobEnvironment,
    ) -> Result<Self, ReportError> {
        let var = |name: &'static str| {
            env.non_empty(name)
                .ok_or(ReportError::NotInActions { missing: name })
        };
        let repository = var("GITHUB_REPOSITORY")?;
        let Some((owner, repo)) = repository
            .split_once('/')
            .filter(|(o, r)| !o.is_empty() && !r.is_empty() && !r.contains('/'))
        else {
            return Err(ReportError::BadRepository {
                repository: repository.to_owned(),
            });
        };
        let (sha, run_id) = (var("GITHUB_SHA")?, var("GITHUB_RUN_ID")?);
        let server = env
            .non_empty("GITHUB_SERVER_URL")
            .unwrap_or("https://github.com")
            .trim_end_matches('/');
        let api_url = env
            .non_empty("GITHUB_API_URL")
            .unwrap_or("https://api.github.com")
            .trim_end_matches('/');
        Ok(DeploymentTarget {
            api_url: api_url.to_owned(),
            owner: owner.to_owned(),
            repo: repo.to_owned(),
            sha: sha.to_owned(),
            run_id: run_id.to_owned(),
            log_url: format!("{server}/{repository}/actions/runs/{run_id}"),
            environment: environment.to_owned(),
            environment_url: environment_url.map(str::to_owned),
            job_environment,
        })
    }

    /// Whether the runner may have created a Deployment for this environment in this job.
    fn may_have_runner_deployment(&self) -> bool {
        match &self.job_environment {
            JobEnvironment::Named(name) => name.eq_ignore_ascii_case(&self.environment),
            JobEnvironment::None => false,
            JobEnvironment::Unknown => true,
        }
    }
}

/// The end of a rollout, as a Deployment status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    /// The job was cancelled before the rollout passed its gate. GitHub has no `cancelled`
    /// state: this is `failure` (the deployment did not happen as asked), its description
    /// saying it was cancelled and what became of the services. Not `error` (GitHub's word for
    /// the deploying tool failing) nor `inactive` (a Deployment that served and was replaced;
    /// a transient environment's shows as destroyed).
    Cancelled,
}

impl Outcome {
    /// The status's `state`.
    pub fn state(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure | Outcome::Cancelled => "failure",
        }
    }
}

/// Why a report did not reach GitHub. Each message says what to change.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(
        "{missing} is not set, so there is no commit and repository to report a Deployment for (outside GitHub Actions, leave `github-token` empty)"
    )]
    NotInActions { missing: &'static str },
    #[error("GITHUB_REPOSITORY is `{repository}`, not OWNER/REPO")]
    BadRepository { repository: String },
    #[error("GITHUB_API_URL `{url}` is not a URL: {reason}")]
    BadApiUrl { url: String, reason: String },
    #[error("GitHub refused the token (HTTP {status}: {message}); {}", if *status == 401 { "it is not valid (expired, revoked, or for another GitHub host)" } else { PERMISSION_FIX })]
    Refused { status: u16, message: String },
    #[error("GitHub answered HTTP {status} to {what}: {message}")]
    Status {
        what: &'static str,
        status: u16,
        message: String,
    },
    #[error("GitHub accepted the Deployment request without creating one: {message}")]
    NotCreated { message: String },
    #[error("no answer from GitHub's API at {url} to {what}: {detail}")]
    Unreachable {
        what: &'static str,
        url: String,
        detail: String,
    },
    /// The TLS handshake failed on trust (no roots, or a certificate no root vouches for): the
    /// same on every attempt, so never retried.
    #[error("could not connect to GitHub's API at {url} securely to {what}: {reason}")]
    Untrusted {
        what: &'static str,
        url: String,
        reason: crate::tls::TrustError,
    },
    #[error("GitHub's answer to {what} is not what its API documents: {detail}")]
    BadAnswer { what: &'static str, detail: String },
    #[error("{} over {}, the last: {last}", retry::attempts(*attempts), retry::seconds(*elapsed))]
    GaveUp {
        attempts: u32,
        elapsed: Duration,
        last: Box<ReportError>,
    },
}

impl ReportError {
    /// Builds the error for one failed request from octocrab's.
    fn from_octocrab(what: &'static str, url: &str, error: octocrab::Error) -> ReportError {
        match error {
            octocrab::Error::GitHub { source, .. } => {
                let status = source.status_code.as_u16();
                let message = one_line(&source.message);
                match status {
                    // A secondary rate limit is a 403 too, but it passes: keep it retryable.
                    401 | 403 if !message.to_ascii_lowercase().contains("rate limit") => {
                        ReportError::Refused { status, message }
                    }
                    _ => ReportError::Status {
                        what,
                        status,
                        message,
                    },
                }
            }
            octocrab::Error::Json { source, .. } => ReportError::BadAnswer {
                what,
                detail: format!("{} at {}", source.inner(), source.path()),
            },
            octocrab::Error::Serde { source, .. } => ReportError::BadAnswer {
                what,
                detail: source.to_string(),
            },
            other => match crate::tls::explain(&other) {
                Some(reason) => ReportError::Untrusted {
                    what,
                    url: url.to_owned(),
                    reason,
                },
                None => ReportError::Unreachable {
                    what,
                    url: url.to_owned(),
                    detail: one_line(&error_chain(&other)),
                },
            },
        }
    }

    /// Whether this failure comes from the token's permissions (the fix the warning names).
    pub fn is_permission(&self) -> bool {
        match self {
            ReportError::Refused { .. } => true,
            ReportError::GaveUp { last, .. } => last.is_permission(),
            _ => false,
        }
    }
}

/// Whether another attempt could succeed.
pub fn classify(error: &ReportError) -> Retry {
    match error {
        // Throttled (429, a secondary rate limit's 403 kept as Status), timed out, or GitHub's
        // own failure: it may pass.
        ReportError::Status { status, .. }
            if *status == 403 || *status == 408 || *status == 429 || *status >= 500 =>
        {
            Retry::Transient
        }
        // A dropped connection or a hung attempt.
        ReportError::Unreachable { .. } => Retry::Transient,
        // The token, the request or the setup: the same next time.
        _ => Retry::Fatal,
    }
}

/// A Deployment as far as this module reads it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct DeploymentSeen {
    pub id: u64,
    pub sha: String,
    pub environment: String,
}

/// A Deployment status as far as this module reads it. `state` stays text: GitHub has states
/// (`waiting`) that its request schema does not list.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct StatusSeen {
    pub id: u64,
    pub state: String,
    #[serde(default)]
    pub log_url: Option<String>,
    #[serde(default)]
    pub target_url: Option<String>,
}

/// The Deployment the runner created for this job, among `candidates` (each with its statuses):
/// same commit and environment, a status pointing at this run, and still open (its newest
/// status `queued`, `pending`, `waiting` or `in_progress`). The newest such wins.
///
/// Two jobs of one run deploying the same commit to the same environment each have one; nothing
/// in the API says which is whose (statuses name the job by its numeric id, which a step does
/// not know), so the newest is taken.
pub fn runner_deployment(
    target: &DeploymentTarget,
    candidates: &[(DeploymentSeen, Vec<StatusSeen>)],
) -> Option<u64> {
    let run_path = format!(
        "/{}/{}/actions/runs/{}",
        target.owner, target.repo, target.run_id
    );
    let points_at_run = |url: &Option<String>| {
        url.as_deref()
            .and_then(|u| u.find(&run_path).map(|at| &u[at + run_path.len()..]))
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?', '#']))
    };
    candidates
        .iter()
        .filter(|(d, _)| {
            d.sha == target.sha && d.environment.eq_ignore_ascii_case(&target.environment)
        })
        .filter(|(_, statuses)| {
            statuses
                .iter()
                .any(|s| points_at_run(&s.log_url) || points_at_run(&s.target_url))
        })
        .filter(|(_, statuses)| {
            statuses.iter().max_by_key(|s| s.id).is_some_and(|s| {
                matches!(
                    s.state.as_str(),
                    "queued" | "pending" | "waiting" | "in_progress"
                )
            })
        })
        .map(|(d, _)| d.id)
        .max()
}

/// `text` on one line and at most [`DESCRIPTION_LIMIT`] characters, cut with `...`.
pub fn status_description(text: &str) -> String {
    let line = one_line(text);
    if line.chars().count() <= DESCRIPTION_LIMIT {
        return line;
    }
    let cut: String = line.chars().take(DESCRIPTION_LIMIT - 3).collect();
    format!("{}...", cut.trim_end())
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let s = e.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        source = e.source();
    }
    text
}

#[derive(Serialize)]
struct NewDeployment<'a> {
    #[serde(rename = "ref")]
    git_ref: &'a str,
    task: &'static str,
    environment: &'a str,
    description: String,
    /// Never merge the default branch into the deployed commit.
    auto_merge: bool,
    /// The job's own check runs are still pending while it deploys: GitHub would refuse with
    /// 409 if it verified them.
    required_contexts: [&'static str; 0],
}

/// 201 is the Deployment; 202 is GitHub merging branches instead (`{"message": ...}`).
#[derive(Deserialize)]
#[serde(untagged)]
enum CreateAnswer {
    Created(DeploymentSeen),
    Accepted { message: String },
}

#[derive(Serialize)]
struct NewStatus<'a> {
    state: &'static str,
    log_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    environment_url: Option<&'a str>,
    description: String,
}

#[derive(Serialize)]
struct ListDeployments<'a> {
    sha: &'a str,
    environment: &'a str,
    per_page: u8,
}

#[derive(Serialize)]
struct ListStatuses {
    per_page: u8,
}

/// The Deployment a rollout reports to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reported {
    pub id: u64,
    /// `true`: the runner's Deployment for this job; `false`: created by this run.
    pub runner_created: bool,
}

/// Talks to GitHub's Deployments API for one target.
#[derive(Clone)]
pub struct DeploymentReporter {
    client: octocrab::Octocrab,
    target: DeploymentTarget,
    policy: RetryPolicy,
}

impl DeploymentReporter {
    /// A client for `target.api_url` authenticating with `token` (mask it before: this does not
    /// print, but the caller's log might). Transient failures are retried under `policy`.
    pub fn new(
        target: DeploymentTarget,
        token: &Secret,
        policy: RetryPolicy,
    ) -> Result<Self, ReportError> {
        let bad_url = |reason: String| ReportError::BadApiUrl {
            url: target.api_url.clone(),
            reason,
        };
        let parsed = reqwest::Url::parse(&target.api_url).map_err(|e| bad_url(e.to_string()))?;
        if !matches!(parsed.scheme(), "https" | "http") {
            return Err(bad_url("it must be an http(s) URL".into()));
        }
        let client = octocrab::Octocrab::builder()
            .base_uri(target.api_url.as_str())
            .map_err(|e| bad_url(error_chain(&e)))?
            .personal_token(token.expose().to_owned())
            // Our client: the process's TLS trust (`crate::tls`), connect and read limits.
            .build_with_reqwest(
                crate::retry::http_client()
                    .build()
                    .map_err(|e| bad_url(error_chain(&e)))?,
            )
            .map_err(|e| bad_url(error_chain(&e)))?;
        Ok(DeploymentReporter {
            client,
            target,
            policy,
        })
    }

    pub fn target(&self) -> &DeploymentTarget {
        &self.target
    }

    /// Finds the runner's Deployment for this job, or creates one: the Deployment to report to.
    pub async fn open(&self, description: &str) -> Result<Reported, ReportError> {
        let found = if self.target.may_have_runner_deployment() {
            self.find_runner_deployment().await?
        } else {
            None
        };
        Ok(match found {
            Some(id) => Reported {
                id,
                runner_created: true,
            },
            None => Reported {
                id: self.create(description).await?,
                runner_created: false,
            },
        })
    }

    /// Marks the Deployment `in_progress`.
    pub async fn in_progress(&self, id: u64, description: &str) -> Result<(), ReportError> {
        self.post_status(id, "in_progress", description).await
    }

    /// The rollout's end as the Deployment's status.
    pub async fn finish(
        &self,
        id: u64,
        outcome: Outcome,
        description: &str,
    ) -> Result<(), ReportError> {
        self.post_status(id, outcome.state(), description).await
    }

    /// [`DeploymentReporter::finish`] for a step about to be killed (a cancelled job): tried
    /// under `policy`, all of it within `limit`, then given up.
    pub async fn finish_within(
        &self,
        id: u64,
        outcome: Outcome,
        description: &str,
        policy: &RetryPolicy,
        limit: Duration,
    ) -> Result<(), ReportError> {
        let quick = DeploymentReporter {
            policy: *policy,
            ..self.clone()
        };
        let posting = quick.post_status(id, outcome.state(), description);
        tokio::time::timeout(limit, posting)
            .await
            .unwrap_or_else(|_| {
                Err(ReportError::Unreachable {
                    what: "posting a Deployment status",
                    url: self.target.api_url.clone(),
                    detail: format!(
                        "no answer within {} ms, all the time a cancelled step has",
                        limit.as_millis()
                    ),
                })
            })
    }

    async fn find_runner_deployment(&self) -> Result<Option<u64>, ReportError> {
        let t = &self.target;
        let query = ListDeployments {
            sha: &t.sha,
            environment: &t.environment,
            per_page: CANDIDATES as u8,
        };
        let route = format!("/repos/{}/{}/deployments", t.owner, t.repo);
        let deployments: Vec<DeploymentSeen> = self
            .call("listing the commit's Deployments", || {
                self.client.get(route.as_str(), Some(&query))
            })
            .await?;
        let mut candidates = Vec::new();
        for d in deployments.into_iter().take(CANDIDATES) {
            let route = format!(
                "/repos/{}/{}/deployments/{}/statuses",
                t.owner, t.repo, d.id
            );
            let statuses: Vec<StatusSeen> = self
                .call("listing a Deployment's statuses", || {
                    self.client
                        .get(route.as_str(), Some(&ListStatuses { per_page: 10 }))
                })
                .await?;
            candidates.push((d, statuses));
        }
        Ok(runner_deployment(t, &candidates))
    }

    async fn create(&self, description: &str) -> Result<u64, ReportError> {
        let t = &self.target;
        let body = NewDeployment {
            git_ref: &t.sha,
            task: "deploy",
            environment: &t.environment,
            description: status_description(description),
            auto_merge: false,
            required_contexts: [],
        };
        let route = format!("/repos/{}/{}/deployments", t.owner, t.repo);
        match self
            .call("creating the Deployment", || {
                self.client.post(route.as_str(), Some(&body))
            })
            .await?
        {
            CreateAnswer::Created(d) => Ok(d.id),
            CreateAnswer::Accepted { message } => Err(ReportError::NotCreated {
                message: one_line(&message),
            }),
        }
    }

    async fn post_status(
        &self,
        id: u64,
        state: &'static str,
        description: &str,
    ) -> Result<(), ReportError> {
        let t = &self.target;
        let body = NewStatus {
            state,
            log_url: &t.log_url,
            environment_url: t.environment_url.as_deref(),
            description: status_description(description),
        };
        let route = format!("/repos/{}/{}/deployments/{id}/statuses", t.owner, t.repo);
        let _: StatusSeen = self
            .call("posting a Deployment status", || {
                self.client.post(route.as_str(), Some(&body))
            })
            .await?;
        Ok(())
    }

    /// One request with the retry policy and a limit per attempt.
    async fn call<T, F, Fut>(&self, what: &'static str, mut request: F) -> Result<T, ReportError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = octocrab::Result<T>>,
    {
        let url = &self.target.api_url;
        let attempt = || {
            let pending = request();
            async move {
                match tokio::time::timeout(ATTEMPT_TIMEOUT, pending).await {
                    Ok(answer) => answer.map_err(|e| ReportError::from_octocrab(what, url, e)),
                    Err(_) => Err(ReportError::Unreachable {
                        what,
                        url: url.clone(),
                        detail: format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs()),
                    }),
                }
            }
        };
        retry::retry(&self.policy, classify, attempt)
            .await
            .map_err(|r| {
                r.into_error(|attempts, elapsed, last| ReportError::GaveUp {
                    attempts,
                    elapsed,
                    last,
                })
            })
    }
}

#[cfg(test)]
#[path = "deployments_tests.rs"]
mod tests;
