//! The rollout stage as a run performs it: decide (`decide.rs`: describe, refuse, render each
//! service from its own definition, plan, print), stop there under `dry-run`, act (`act.rs`:
//! register one revision per distinct definition, update each service), wait (`gate.rs`: the
//! health gate over every service, changed or not, so a re-run proves health too), commit or
//! revert (here: roll back what this run changed, or wait for ECS's own rollback), and report
//! (`outcome.rs` says where each service stands, `report.rs` writes the outputs and the job
//! summary, `failures::rollout` the user-facing failure).
//!
//! Seams: `rollout::watch::Report` is implemented here over the `Console`, so service events
//! (outside text) go through the runner's `print_untrusted` and `rollout` never learns
//! GitHub's formats; the clock is `SystemClock`; the poll interval comes from
//! `OIDC_ECS_DEPLOY_POLL_SECONDS` when set (tests, the demo), else it adapts from 2 to 15 s.

mod act;
mod cancelled;
mod changes;
mod credentials;
mod decide;
mod gate;
mod links;
mod outcome;
mod preflight;
mod report;

use aws_config::SdkConfig;

use crate::envvars::EnvVars;
use crate::failure::Failure;
use crate::inputs::RolloutConfig;
use crate::rollout::ecs_api::EcsApi;
use crate::rollout::rollback::{Rollback, all_settled, short};
use crate::rollout::service_deployment::ServiceDeploymentReader;
use crate::rollout::watch::{
    Clock, EcsObserver, POLL_SECONDS_ENV, PollInterval, Report, SystemClock,
};
use crate::rollout::{FailureKind, Verdict};
use crate::runner::neutralize_line;

use super::{Console, failures};
use act::rollback_targets;
use outcome::Fate;

pub(crate) use act::Started;
pub(crate) use cancelled::on_cancel;
pub(crate) use changes::Changes;
pub(crate) use gate::{Evidence, Waited};
pub(crate) use outcome::{Ended, Row};

/// `changes` records, as the run goes, what it changed (for a cancelled run: `on_cancel`).
pub async fn run(
    cfg: &RolloutConfig,
    aws: &SdkConfig,
    pushed: Option<&str>,
    env: &EnvVars,
    console: &mut Console,
    changes: &Changes,
) -> Result<(), Failure> {
    let update = decide::image_update(cfg, pushed);
    let api = ecs_api(cfg, aws, env);
    let reader = ServiceDeploymentReader::new(aws);
    let interval = PollInterval::from_setting(env.get(POLL_SECONDS_ENV));
    let place = links::Place::new(
        aws.region().map_or("us-east-1", |r| r.as_ref()),
        &cfg.cluster,
    );

    // Decide (after any deployment this run did not start has finished: `when-busy`).
    let clock = SystemClock;
    let decision = decide::decide(
        cfg,
        &api,
        &reader,
        (&clock, interval.clone()),
        &update,
        console,
    )
    .await?;
    if cfg.dry_run {
        tracing::info!("dry run: nothing was registered and no service was updated");
        return report::dry_run(console, &place, &decision);
    }
    report::strategies(console, &place, &decision)?;
    if decision.plan.nothing_to_do() {
        tracing::info!(
            "nothing to do: {} already run(s) the wanted definition (a re-run registers nothing; `force-new-deployment: true` restarts the tasks); checking its health",
            cfg.services.join(", ")
        );
    } else {
        credentials::warn_if_they_expire(aws, cfg, console).await;
    }

    // Act.
    let arns = act::register(&api, &decision.plan).await?;
    changes.planned(&decision.plan, &arns);
    let mut started = act::start(&api, &reader, cfg, &decision, &arns, &clock, changes).await;
    let mut report = ConsoleReport { console };
    let mut observer = EcsObserver::new(&api, &clock, None);
    let mut rollback = Rollback::new(
        &api,
        &reader,
        &clock,
        &mut observer,
        &mut report,
        interval.clone(),
    );

    // An UpdateService failed: put back what this run already changed, and say where each stands.
    if let Some(refused) = started.refused.take() {
        let targets = rollback_targets(&started, |_, t| t.updated);
        let outcomes = if cfg.rollback && !targets.is_empty() {
            rollback.roll_back(&targets).await
        } else {
            Vec::new()
        };
        let rows = outcome::rows(
            &decision,
            &started,
            None,
            clock.now(),
            |i, tracked| match tracked {
                Some(t) if t.updated => Fate::after(&outcomes, &[], &t.service, false),
                _ if i == refused.index => Fate::Refused,
                _ => Fate::Untouched,
            },
        );
        report::publish(
            rollback.report.console,
            &place,
            &rows,
            all_settled(&outcomes),
        )?;
        return Err(failures::update_refused(
            &decision.services[refused.index],
            &refused.error,
            &rows,
        ));
    }

    // Wait.
    let waited = gate::wait(
        &api,
        &reader,
        &clock,
        cfg,
        &mut *rollback.report,
        &mut started.watched,
        interval,
    )
    .await;
    if waited.all_healthy() {
        let rows = outcome::rows(&decision, &started, Some(&waited), clock.now(), |_, _| {
            Fate::Healthy
        });
        let serving: Vec<String> = rows
            .iter()
            .map(|r| format!("{} serves {}", r.service, short(&r.now)))
            .collect();
        tracing::info!("healthy: {}", serving.join(", "));
        // Committed: from here a cancel keeps what the gate proved (no await until published).
        changes.commit();
        return report::publish(rollback.report.console, &place, &rows, false);
    }

    // Commit or revert: ECS's own rollbacks are waited for, never repeated; everything this run
    // changed (and a service failing on the wanted revision) goes back when `rollback` allows.
    let by_ecs_targets = rollback_targets(
        &started,
        |k, _| matches!(waited.verdict(k), Some(Verdict::Failed(f)) if matches!(f.kind, FailureKind::CircuitBreakerRolledBack | FailureKind::EcsRolledBack)),
    );
    let our_targets = rollback_targets(&started, |k, t| match waited.verdict(k) {
        Some(Verdict::Failed(f)) if !f.kind.needs_rollback() => false,
        // Healthy, or undecided because another failed: back only if this run changed it.
        Some(Verdict::Healthy | Verdict::Pending { .. }) => t.updated,
        _ => true,
    });
    let by_ecs = rollback.await_ecs_rollback(&by_ecs_targets).await;
    let ours = if cfg.rollback && !our_targets.is_empty() {
        rollback.roll_back(&our_targets).await
    } else {
        Vec::new()
    };
    let evidence = gate::evidence(&api, &started, &waited, &decision, cfg.show_task_logs).await;
    let rows = outcome::rows(
        &decision,
        &started,
        Some(&waited),
        clock.now(),
        |i, tracked| match tracked {
            Some(t) => {
                let kept_healthy = !t.updated
                    && started
                        .tracked
                        .iter()
                        .position(|o| o.index == i)
                        .and_then(|k| waited.verdict(k))
                        == Some(&Verdict::Healthy);
                Fate::after(&ours, &by_ecs, &t.service, kept_healthy)
            }
            None => Fate::Untouched,
        },
    );
    let reverted: Vec<_> = by_ecs.iter().chain(&ours).cloned().collect();
    report::publish(
        rollback.report.console,
        &place,
        &rows,
        all_settled(&reverted),
    )?;
    Err(failures::deploy_failed(
        cfg, &started, &waited, &evidence, &rows,
    ))
}

/// The ECS endpoint the environment names, if any (a test's simulator, a VPC endpoint).
fn ecs_endpoint(env: &EnvVars) -> Option<&str> {
    env.non_empty("AWS_ENDPOINT_URL_ECS")
        .or_else(|| env.non_empty("AWS_ENDPOINT_URL"))
}

/// What only ECS can tell about the rollout's inputs, asked before an earlier stage (the image
/// push) changes anything: the cluster and the services exist and can be deployed, the
/// `task-definition` file is of a service's family, and each container named by
/// `container-name` or `containers` is in a service's definition. Read-only; the rollout
/// decides again from fresh state when its turn comes.
pub async fn check_before_changes(
    cfg: &RolloutConfig,
    aws: &SdkConfig,
    env: &EnvVars,
) -> Result<(), Failure> {
    let api = ecs_api(cfg, aws, env);
    let services = decide::describe(cfg, &api).await?;
    let observed = decide::observe(cfg, &api, services).await?;
    // The pushed image is not known yet; only the names matter here.
    let update = decide::image_update(cfg, Some("pending.invalid/image:pending"));
    decide::check_named_containers(cfg, &observed, &update)?;
    tracing::info!(
        "rollout inputs checked against ECS before any change: cluster {}, service(s) {}",
        cfg.cluster,
        cfg.services.join(", ")
    );
    Ok(())
}

fn ecs_api(cfg: &RolloutConfig, aws: &SdkConfig, env: &EnvVars) -> EcsApi {
    EcsApi::new(aws, &cfg.cluster, ecs_endpoint(env))
}

/// Progress to the log; service events through `print_untrusted`.
struct ConsoleReport<'a> {
    console: &'a mut Console,
}

impl Report for ConsoleReport<'_> {
    fn progress(&mut self, line: &str) {
        tracing::info!("{}", neutralize_line(line));
    }

    fn events(&mut self, service: &str, messages: &[String]) {
        let lines = messages.iter().map(|m| format!("{service}: event: {m}"));
        if let Err(e) = self.console.workflow.print_untrusted(lines) {
            tracing::warn!("cannot print service events: {e}");
        }
    }
}
