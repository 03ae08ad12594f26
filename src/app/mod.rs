//! The pipeline's wiring: turn an invocation into stages run in order (identity, then image and
//! rollout when configured), hand each stage what it needs, and report. Stages do not import each
//! other; this module does, and it is also where each stage's error becomes a `Failure` with its
//! exit category (`failures.rs`). Each stage's log is a collapsible group; a failure is printed
//! after its group has closed, so it stays in sight.

mod authenticate;
mod aws;
mod cancel;
mod failures;
mod github_deployment;
mod image_report;
mod offline;
mod push_cli;
mod push_image;
mod refresh;
mod rollout;
mod scan_gate;

use std::io::Write;

use crate::cli::Invocation;
use crate::envvars::EnvVars;
use crate::failure::Failure;
use crate::inputs::{Config, RawInputs};
use crate::runner::{
    Annotation, EnvFile, Mode, OutputFile, SummaryFile, Workflow, neutralize_line,
};

/// Where a run writes what the user and the runner read.
pub struct Console {
    pub workflow: Workflow<Box<dyn Write + Send>>,
    pub outputs: OutputFile,
    pub env_file: EnvFile,
    pub summary: SummaryFile,
    /// A stage's group is open: its future was dropped mid-stage (a cancelled run).
    group_open: bool,
}

impl Console {
    pub fn from_env(env: &EnvVars) -> Self {
        Console {
            workflow: Workflow::stdio(Mode::from_env(env)),
            outputs: OutputFile::from_env(env),
            env_file: EnvFile::from_env(env),
            summary: SummaryFile::from_env(env),
            group_open: false,
        }
    }

    /// Runs `stage` inside a log group titled `title` (`::group::` under Actions, `== title ==`
    /// otherwise), closing the group whatever the stage returns.
    pub async fn in_group<T>(
        &mut self,
        title: &str,
        stage: impl AsyncFnOnce(&mut Console) -> T,
    ) -> T {
        let _ = self.workflow.group(title);
        self.group_open = true;
        let result = stage(self).await;
        self.close_group();
        result
    }

    /// Ends the open group, if a stage left one open.
    pub fn close_group(&mut self) {
        if std::mem::take(&mut self.group_open) {
            let _ = self.workflow.end_group();
        }
    }

    /// [`Console::in_group`] for a stage of the pipeline: a failure names the stage.
    pub async fn stage<T>(
        &mut self,
        title: &str,
        stage: impl AsyncFnOnce(&mut Console) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let result = self.in_group(title, stage).await;
        result.map_err(|failure| failure.in_stage(title))
    }

    /// Set a step output; outside Actions (no GITHUB_OUTPUT) print it as `name=value` on stdout,
    /// the one place results go.
    pub fn output(&mut self, name: &str, value: &str) -> Result<(), Failure> {
        if self.outputs.path().is_none() && self.workflow.mode() == Mode::Plain {
            println!("{name}={value}");
            return Ok(());
        }
        self.outputs
            .set(name, value)
            .map_err(|e| failures::runner_file(&e))
    }
}

/// `RUST_LOG` governs log detail; the runner's step debug switch (`ACTIONS_STEP_DEBUG`, seen by
/// the step as `RUNNER_DEBUG=1`) turns on debug lines too. Logs go to stderr, never stdout.
pub fn init_logging(env: &EnvVars) {
    let default = if env.get("RUNNER_DEBUG") == Some("1") {
        "oidc_ecs_deploy=debug,info"
    } else {
        "info"
    };
    let filter = env.non_empty("RUST_LOG").unwrap_or(default);
    let ansi =
        !env.is_true("GITHUB_ACTIONS") && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(filter)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .without_time()
        .try_init();
}

/// Run what was asked. A failure has already been printed when this returns `Err`; the caller
/// only turns its category into the exit code.
pub async fn run(invocation: Invocation, env: &EnvVars) -> Result<(), Failure> {
    let mut console = Console::from_env(env);
    let result = match invocation {
        Invocation::Action => deploy(RawInputs::from_action_env(env), env, &mut console).await,
        Invocation::Deploy(raw) => deploy(raw, env, &mut console).await,
        Invocation::CheckTrust(args) => offline::check_trust(&args),
        Invocation::TrustPolicy(args) => offline::trust_policy(&args),
        Invocation::PermissionsPolicy(args) => offline::permissions_policy(&args),
        Invocation::Push(args) => push_cli::run(&args, env, &mut console).await,
    };
    if let Err(failure) = &result {
        report_failure(failure, &mut console);
    }
    result
}

/// The pipeline. Everything is validated before the first AWS call. A SIGINT or SIGTERM drops
/// the stages wherever they wait, and `cancel` winds the run down from what they recorded.
async fn deploy(raw: RawInputs, env: &EnvVars, console: &mut Console) -> Result<(), Failure> {
    let config = Config::validate(&raw, env).map_err(failures::inputs)?;
    let progress = cancel::Progress::default();
    let mut signals = cancel::Signals::install();
    let stages = stages(&config, env, console, &progress);
    let caught = match signals.as_mut() {
        Some(signals) => signals.unless_caught(stages).await,
        None => Ok(stages.await),
    };
    match (caught, signals) {
        (Ok(result), _) => result,
        (Err(caught), signals) => {
            if let Some(signals) = signals {
                signals.exit_on_next();
            }
            Err(cancel::wind_down(caught, &config, &progress, env, console).await)
        }
    }
}

/// The stages in order, each recording in `progress` what a cancel needs to know.
async fn stages(
    config: &Config,
    env: &EnvVars,
    console: &mut Console,
    progress: &cancel::Progress,
) -> Result<(), Failure> {
    if let Some(token) = &config.report.github_token {
        console
            .workflow
            .add_mask(token)
            .map_err(|e| failures::console(&e))?;
    }
    progress.enter(cancel::Stage::Identity);
    let session = console
        .stage("Authenticate to AWS", async |c| {
            authenticate::run(&config.identity, env, c).await
        })
        .await?;
    if config.image.is_none() && config.rollout.is_none() {
        return Ok(());
    }
    let aws = aws::sdk_config(&session).await;
    progress.authenticated(&aws);
    let mut pushed = None;
    if let Some(rollout) = &config.rollout
        && (config.image.is_some() || config.report.github_token.is_some())
    {
        // A typo in the rollout's inputs must fail before the push changes the registry or a
        // GitHub Deployment is started for a rollout that cannot happen.
        rollout::check_before_changes(rollout, &aws, env)
            .await
            .map_err(|failure| failure.in_stage("Roll out to ECS"))?;
    }
    if let Some(image) = &config.image {
        progress.enter(cancel::Stage::Push);
        let pushing =
            async |c: &mut Console| push_image::run(image, &aws, env.get("DOCKER_HOST"), c).await;
        pushed = Some(console.stage("Push the image to ECR", pushing).await?);
    }
    if let Some(rollout) = &config.rollout {
        progress.enter(cancel::Stage::Rollout);
        let pinned = pushed.as_ref().map(|p| p.pinned.as_str());
        let rolling_out = async |c: &mut Console| {
            let opened = |d| progress.reporting(Some(d));
            let deployment =
                github_deployment::start(&config.report, rollout, &session, env, c, opened).await;
            let result = rollout::run(rollout, &aws, pinned, env, c, &progress.rollout).await;
            github_deployment::finish(deployment.as_deref(), &result, rollout, c).await;
            progress.reporting(None);
            result
        };
        console.stage("Roll out to ECS", rolling_out).await?;
    }
    Ok(())
}

/// Print the failure: the full text on stderr; under Actions also an `::error` annotation with a
/// title (the headline) and a short summary table.
fn report_failure(failure: &Failure, console: &mut Console) {
    // The runner reads commands from stderr too, and a failure quotes outside text (claims, STS
    // messages): every line is neutralised so none of it can act as a workflow command.
    for line in failure.to_string().lines() {
        eprintln!("{}", neutralize_line(line));
    }
    if console.workflow.mode() == Mode::Actions {
        // The annotation is what a reader of the checks page sees: the cause and, when known, the fix.
        let message = match &failure.hint {
            Some(hint) => format!("{}\nhint: {hint}", failure.headline),
            None => failure.headline.clone(),
        };
        let _ = console
            .workflow
            .error(&message, &Annotation::titled(failure.category.title()));
        let mut markdown = format!("### oidc-ecs-deploy: {}\n\n", failure.category.title());
        markdown.push_str(&crate::runner::table(
            &["field", "value"],
            [["error", failure.headline.as_str()]],
        ));
        if !failure.details.is_empty() || failure.hint.is_some() {
            markdown.push_str("\n```text\n");
            markdown.push_str(&failure.to_string().replace("```", "'''"));
            markdown.push_str("```\n");
        }
        let _ = console.summary.append_markdown(&markdown);
    }
}
