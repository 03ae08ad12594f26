//! Before the plan, per service: its deployment strategy (read from DescribeServices, refused
//! with exit 2 when it cannot work, e.g. BLUE_GREEN without an alternate target group), and
//! any deployment this run did not start still in progress on it (`rollout::busy`): under
//! `when-busy: wait` the stage polls until it has finished (up to `wait-for-minutes`, saying
//! what it waits for and who registered its revision), then describes again so the plan starts
//! from what serves then; `refuse` stops with exit 3; `replace` goes on. Nothing here changes
//! anything, so every stop is before the first mutating call. A dry run never waits: the plan
//! says what a run would do.

use crate::failure::{Category, Failure};
use crate::inputs::RolloutConfig;
use crate::rollout::busy::{self, Busy, Step, WhenBusy};
use crate::rollout::ecs_api::{EcsApi, ServiceState};
use crate::rollout::plan::Refusal;
use crate::rollout::service_deployment::ServiceDeploymentReader;
use crate::rollout::strategy_plan::{DeploymentSettings, strategy_refusals};
use crate::rollout::watch::{Clock, PollInterval};
use crate::runner::neutralize_line;

use super::decide::describe;
use crate::app::failures;

/// The services as they stand once nothing else is deploying them, with their settings (same
/// order), and, in a dry run, what a run would wait for.
pub struct Ready {
    pub services: Vec<ServiceState>,
    pub settings: Vec<DeploymentSettings>,
    /// Plan lines about deployments in progress (dry run only: a run waits or refuses).
    pub busy_lines: Vec<String>,
}

/// Describe, refuse, and wait out (or refuse) deployments this run did not start.
pub async fn ready<C: Clock>(
    cfg: &RolloutConfig,
    api: &EcsApi,
    reader: &ServiceDeploymentReader,
    clock: &C,
    mut interval: PollInterval,
) -> Result<Ready, Failure> {
    let deadline = clock.now() + cfg.wait;
    let mut announced: Vec<(String, String)> = Vec::new();
    loop {
        let services = describe(cfg, api).await?;
        let (settings, busy) = read(cfg, reader, &services).await?;
        if cfg.dry_run {
            let busy_lines = busy.iter().map(|b| dry_run_line(cfg, b)).collect();
            return Ok(Ready {
                services,
                settings,
                busy_lines,
            });
        }
        let now = clock.now();
        match busy::next_step(cfg.when_busy, &busy, now, deadline) {
            Step::Go => {
                if !announced.is_empty() {
                    tracing::info!(
                        "nothing else is deploying {} any more: deciding from what serves now",
                        cfg.services.join(", ")
                    );
                }
                return Ok(Ready {
                    services,
                    settings,
                    busy_lines: Vec::new(),
                });
            }
            Step::Refuse => return Err(refusal(cfg, api, &busy, !announced.is_empty(), clock).await),
            Step::Wait => {
                for b in &busy {
                    let key = (b.service.clone(), format!("{:?}", b.key()));
                    if !announced.contains(&key) {
                        let who = registered_by(api, &b.task_definition).await;
                        let line = format!(
                            "{}: {} is in progress, not started by this run: waiting up to {} for it to finish before deploying (when-busy: wait)",
                            b.service,
                            b.describe(who.as_deref(), now),
                            busy::bound(cfg.wait)
                        );
                        tracing::info!("{}", neutralize_line(&line));
                        announced.push(key);
                    }
                }
                clock.sleep(interval.next_wait()).await;
            }
        }
    }
}

/// Each service's settings (strategy refusals stop the run) and what is in progress on it.
async fn read(
    cfg: &RolloutConfig,
    reader: &ServiceDeploymentReader,
    services: &[ServiceState],
) -> Result<(Vec<DeploymentSettings>, Vec<Busy>), Failure> {
    let mut settings = Vec::new();
    let mut refusals = Vec::new();
    let mut in_progress = Vec::new();
    for s in services {
        let (set, current) = reader
            .settings_and_current(&cfg.cluster, &s.name)
            .await
            .map_err(|e| failures::rollout_api(&e))?;
        refusals.extend(
            strategy_refusals(&s.name, &set)
                .into_iter()
                .map(Refusal::Strategy),
        );
        // The service deployment says more than deployments[] (a bake time, ECS rolling back);
        // where ECS cannot answer, deployments[] alone decides.
        let current = match current {
            Some(arn) if cfg.when_busy != WhenBusy::Replace => match reader.read(&arn).await {
                Ok(sd) => Some(sd),
                Err(e) => {
                    tracing::debug!("{}: cannot read service deployment {arn}: {e}", s.name);
                    None
                }
            },
            _ => None,
        };
        in_progress.extend(busy::busy(s, current.as_ref()));
        settings.push(set);
    }
    if !refusals.is_empty() {
        return Err(failures::rollout_refusals(&refusals));
    }
    Ok((settings, in_progress))
}

/// The principal that registered `task_definition` (for this action: the workflow run's role
/// session), when ECS says.
async fn registered_by(api: &EcsApi, task_definition: &str) -> Option<String> {
    let def = api.describe_task_definition(task_definition).await.ok()?;
    def["taskDefinition"]["registeredBy"]
        .as_str()
        .map(str::to_owned)
}

fn dry_run_line(cfg: &RolloutConfig, b: &Busy) -> String {
    let would = match cfg.when_busy {
        WhenBusy::Wait => format!(
            "a run would wait up to {} for it to finish",
            busy::bound(cfg.wait)
        ),
        WhenBusy::Refuse => "a run would refuse (exit 3)".to_owned(),
        WhenBusy::Replace => "a run would deploy over it".to_owned(),
    };
    format!(
        "service {}: {} is in progress, not started by this run: {would} (when-busy: {})",
        b.service,
        b.describe(None, std::time::SystemTime::now()),
        cfg.when_busy.name()
    )
}

/// Exit 3: still busy under `refuse`, or after the whole wait.
async fn refusal<C: Clock>(
    cfg: &RolloutConfig,
    api: &EcsApi,
    busy: &[Busy],
    waited: bool,
    clock: &C,
) -> Failure {
    let now = clock.now();
    let mut lines = Vec::new();
    for b in busy {
        let who = registered_by(api, &b.task_definition).await;
        lines.push(neutralize_line(&format!(
            "{}: {}",
            b.service,
            b.describe(who.as_deref(), now)
        )));
    }
    let headline = if waited {
        format!(
            "another deployment was still in progress after waiting {} (when-busy: wait): {}",
            busy::bound(cfg.wait),
            lines[0]
        )
    } else {
        format!(
            "another deployment is in progress, not started by this run (when-busy: refuse): {}",
            lines[0]
        )
    };
    let mut failure = Failure::new(Category::Refused, headline);
    failure.details = lines[1..].to_vec();
    failure
        .details
        .push("nothing was registered or updated; the other deployment was left alone".to_owned());
    failure.hint(if waited {
        "raise `wait-for-minutes`, or find who is deploying (the revision's registeredBy names the role session); `when-busy: replace` deploys over it"
    } else {
        "run again once it has finished, or set `when-busy: wait`; keep one deploy per service at a time with GitHub's `concurrency:` (a group per cluster and service, `cancel-in-progress: false`)"
    })
}
