//! Before the plan is carried out, per service: its deployment strategy (read from
//! DescribeServices; refused with exit 2 when it cannot work, e.g. BLUE_GREEN without an
//! alternate target group), and any deployment this run did not start still in progress on it
//! (`rollout::busy`). `decide` asks [`BusyWait::go`] after each round of deciding: under
//! `when-busy: wait` it polls until the deployment has finished (up to `wait-for-minutes`,
//! saying what it waits for and who registered its revision) and `decide` decides again from
//! what serves then; `refuse` stops with exit 3; `replace` goes on. Nothing here changes
//! anything, so every stop is before the first mutating call. A dry run never waits: its plan
//! says what a run would do.

use std::time::SystemTime;

use crate::failure::{Category, Failure};
use crate::inputs::RolloutConfig;
use crate::rollout::busy::{self, Busy, Step, WhenBusy};
use crate::rollout::ecs_api::{EcsApi, ServiceState};
use crate::rollout::plan::Refusal;
use crate::rollout::service_deployment::ServiceDeploymentReader;
use crate::rollout::strategy_plan::{DeploymentSettings, strategy_refusals};
use crate::rollout::watch::{Clock, PollInterval};
use crate::runner::neutralize_line;

use crate::app::failures;

/// The wait for deployments this run did not start (`when-busy`), across rounds of deciding.
pub struct BusyWait<'c, C> {
    clock: &'c C,
    interval: PollInterval,
    deadline: SystemTime,
    /// What was said already: (service, deployment and status).
    announced: Vec<(String, String)>,
}

impl<'c, C: Clock> BusyWait<'c, C> {
    /// The wait is bounded by `wait-for-minutes`, from now.
    pub fn new(cfg: &RolloutConfig, clock: &'c C, interval: PollInterval) -> Self {
        BusyWait {
            clock,
            interval,
            deadline: clock.now() + cfg.wait,
            announced: Vec::new(),
        }
    }

    /// True: go ahead (nothing in the way, or `replace`). False: it waited a poll interval;
    /// decide again. A refusal (exit 3) under `refuse`, or when the deadline passed.
    pub async fn go(
        &mut self,
        cfg: &RolloutConfig,
        api: &EcsApi,
        in_the_way: &[Busy],
    ) -> Result<bool, Failure> {
        let now = self.clock.now();
        match busy::next_step(cfg.when_busy, in_the_way, now, self.deadline) {
            Step::Go => {
                if !self.announced.is_empty() && in_the_way.is_empty() {
                    tracing::info!(
                        "nothing else is deploying {} any more: deciding from what serves now",
                        cfg.services.join(", ")
                    );
                }
                Ok(true)
            }
            Step::Refuse => {
                let waited = !self.announced.is_empty();
                Err(refusal(cfg, api, in_the_way, waited, now).await)
            }
            Step::Wait => {
                for b in in_the_way {
                    let key = (b.service.clone(), format!("{:?}", b.key()));
                    if self.announced.contains(&key) {
                        continue;
                    }
                    let who = registered_by(api, &b.task_definition).await;
                    let line = format!(
                        "{}: {} is in progress, not started by this run: waiting up to {} for it to finish before deploying (when-busy: wait)",
                        b.service,
                        b.describe(who.as_deref(), now),
                        busy::bound(cfg.wait)
                    );
                    tracing::info!("{}", neutralize_line(&line));
                    self.announced.push(key);
                }
                self.clock.sleep(self.interval.next_wait()).await;
                Ok(false)
            }
        }
    }
}

/// Each service's settings (strategy refusals stop the run) and what is in progress on it
/// (same order).
pub async fn read(
    cfg: &RolloutConfig,
    reader: &ServiceDeploymentReader,
    services: &[ServiceState],
) -> Result<(Vec<DeploymentSettings>, Vec<Option<Busy>>), Failure> {
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
        in_progress.push(busy::busy(s, current.as_ref()));
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

/// What a run would do about `b`, for a dry run's plan.
pub fn dry_run_line(cfg: &RolloutConfig, b: &Busy) -> String {
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
        b.describe(None, SystemTime::now()),
        cfg.when_busy.name()
    )
}

/// Exit 3: still busy under `refuse`, or after the whole wait.
async fn refusal(
    cfg: &RolloutConfig,
    api: &EcsApi,
    busy: &[Busy],
    waited: bool,
    now: SystemTime,
) -> Failure {
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
