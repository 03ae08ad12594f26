//! Cancellation. A cancelled GitHub step gets SIGINT, then SIGTERM about 7.5 s later, then
//! SIGKILL; a user at a terminal presses Ctrl-C. On the first SIGINT or SIGTERM the pipeline's
//! future is dropped wherever it was waiting (a poll, an upload, STS), so nothing more is sent;
//! then, from `Progress` (what the stages recorded as they went), the rollout's services that
//! this run changed are put back when `rollback` allows (requested, not watched: there is no
//! time to see it settle), the outputs and the summary say so, and the run exits 5 saying the
//! job was cancelled. A GitHub Deployment the rollout reported to gets its final status last,
//! within the seconds left (a failure to post is a warning). A second signal exits 5 at once.
//!
//! A push needs nothing undone: tags are written last, once every blob and manifest is in the
//! registry, so a dropped push leaves no tag naming an incomplete image.

use std::fmt;
use std::sync::{Arc, Mutex};

use aws_config::SdkConfig;
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::envvars::EnvVars;
use crate::failure::{Category, Failure};
use crate::inputs::Config;

use super::github_deployment::{self, DeploymentReport};
use super::{Console, failures, rollout};

/// The signal that stopped the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caught {
    Interrupt,
    Terminate,
}

impl fmt::Display for Caught {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Caught::Interrupt => "SIGINT",
            Caught::Terminate => "SIGTERM",
        })
    }
}

/// SIGINT and SIGTERM, caught instead of killing the process.
pub struct Signals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    /// Catches both from now on; `None` (with a warning) when that is impossible, and the run
    /// goes on as a signal's default would have it.
    pub fn install() -> Option<Signals> {
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(interrupt), Ok(terminate)) => Some(Signals {
                interrupt,
                terminate,
            }),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(
                    "cannot catch SIGINT/SIGTERM ({e}): a cancelled job will not roll back"
                );
                None
            }
        }
    }

    async fn next(&mut self) -> Caught {
        tokio::select! {
            _ = self.interrupt.recv() => Caught::Interrupt,
            _ = self.terminate.recv() => Caught::Terminate,
        }
    }

    /// `work`'s result, or the signal that came first (`work` is then dropped: nothing it was
    /// waiting for goes on).
    pub async fn unless_caught<T>(&mut self, work: impl Future<Output = T>) -> Result<T, Caught> {
        tokio::select! {
            out = work => Ok(out),
            caught = self.next() => Err(caught),
        }
    }

    /// From now on the next signal ends the process at once.
    pub fn exit_on_next(mut self) {
        tokio::spawn(async move {
            let caught = self.next().await;
            eprintln!("error: {caught} again: the job was cancelled; exiting at once");
            std::process::exit(Category::Cancelled.exit_code());
        });
    }
}

/// The stage the run is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Identity,
    Push,
    Rollout,
}

/// What the stages record as they go, read after their future is dropped.
#[derive(Default)]
pub struct Progress {
    stage: Mutex<Option<Stage>>,
    /// The AWS configuration, once the identity stage has made it.
    aws: Mutex<Option<SdkConfig>>,
    pub rollout: rollout::Changes,
    /// The GitHub Deployment the rollout reports to, until it has posted its final status.
    deployment: Mutex<Option<Arc<DeploymentReport>>>,
}

impl Progress {
    pub fn enter(&self, stage: Stage) {
        *self.stage.lock().unwrap_or_else(|e| e.into_inner()) = Some(stage);
    }

    pub fn authenticated(&self, aws: &SdkConfig) {
        *self.aws.lock().unwrap_or_else(|e| e.into_inner()) = Some(aws.clone());
    }

    /// The Deployment a cancel must finish (`None` once the rollout has finished it itself).
    pub fn reporting(&self, deployment: Option<Arc<DeploymentReport>>) {
        *self.deployment.lock().unwrap_or_else(|e| e.into_inner()) = deployment;
    }

    fn deployment(&self) -> Option<Arc<DeploymentReport>> {
        self.deployment
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn stage(&self) -> Option<Stage> {
        *self.stage.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn aws(&self) -> Option<SdkConfig> {
        self.aws.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// After the first signal: undo what is due, report, and return the failure to print.
pub async fn wind_down(
    caught: Caught,
    config: &Config,
    progress: &Progress,
    env: &EnvVars,
    console: &mut Console,
) -> Failure {
    console.close_group();
    let stage = progress.stage();
    tracing::warn!("{caught}: the job is being cancelled {}", during(stage));
    let mut details = Vec::new();
    if stage == Some(Stage::Push) {
        details.push("the push stopped: tags are written last, once every blob and manifest is in the registry, so no tag names an incomplete image (blobs already uploaded stay; a re-run skips them)".to_owned());
    }
    let (rollout, aws) = (&config.rollout, progress.aws());
    let mut brief = Vec::new();
    if let (Some(Stage::Rollout), Some(cfg), Some(aws)) = (stage, rollout, &aws) {
        match rollout::on_cancel(cfg, aws, env, &progress.rollout, console).await {
            Ok(stands) => {
                brief = stands.brief;
                details.extend(stands.lines);
            }
            Err(f) => details.push(format!("cannot write the outputs: {}", f.headline)),
        }
    }
    let touched = progress.rollout.snapshot().iter().any(|c| c.touched());
    if rollout.is_some() && !touched {
        details.push("no service was updated".to_owned());
    }
    let mut headline = format!("the job was cancelled ({caught}) {}", during(stage));
    if !brief.is_empty() {
        headline.push_str("; ");
        headline.push_str(&brief.join("; "));
    }
    // Last: the rollbacks must not wait for GitHub.
    if let Some(deployment) = progress.deployment() {
        let description = deployment_description(caught, &brief, touched);
        let gate_passed = progress.rollout.committed();
        github_deployment::cancelled(&deployment, gate_passed, &description, console).await;
    }
    failures::cancelled(headline, details, touched)
}

/// The final status's description: the signal and, in brief, what became of the services.
fn deployment_description(caught: Caught, brief: &[String], touched: bool) -> String {
    let mut text = format!("cancelled ({caught})");
    if !brief.is_empty() {
        text.push_str("; ");
        text.push_str(&brief.join("; "));
    } else if !touched {
        text.push_str("; no service was updated");
    }
    text
}

fn during(stage: Option<Stage>) -> &'static str {
    match stage {
        None => "before its first stage",
        Some(Stage::Identity) => "while authenticating to AWS",
        Some(Stage::Push) => "while pushing the image",
        Some(Stage::Rollout) => "during the rollout",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::deployments::{DESCRIPTION_LIMIT, status_description};

    #[test]
    fn the_deployment_description_says_cancelled_and_what_became_of_the_services() {
        let one = vec!["api: rollback to api:1 requested".to_owned()];
        assert_eq!(
            deployment_description(Caught::Terminate, &one, true),
            "cancelled (SIGTERM); api: rollback to api:1 requested"
        );
        assert_eq!(
            deployment_description(Caught::Interrupt, &[], false),
            "cancelled (SIGINT); no service was updated"
        );
        // Many services: cut to GitHub's limit, the cancellation still first.
        let many: Vec<String> = (0..9)
            .map(|i| format!("service-{i}: rollback request unanswered"))
            .collect();
        let cut = status_description(&deployment_description(Caught::Terminate, &many, true));
        assert_eq!(cut.chars().count(), DESCRIPTION_LIMIT);
        assert!(cut.starts_with("cancelled (SIGTERM); service-0: "), "{cut}");
        assert!(cut.ends_with("..."), "{cut}");
    }
}
