//! The rollout stage as a run performs it, in the order decide -> dry-run -> act -> wait ->
//! commit or revert: describe the cluster and services and refuse what cannot be deployed,
//! render the new revision and compare it with what serves, stop at the plan under `dry-run`,
//! register once, update each service, watch them all, and on failure or timeout roll every
//! updated service back to the revision it served before (unless ECS already did), then
//! report what failed with the evidence (stopped tasks, exit codes, last log lines).
//!
//! Seams: `rollout::watch::Report` is implemented here over the `Console`, so service events
//! (outside text) go through the runner's `print_untrusted` and `rollout` never learns
//! GitHub's formats; the clock is `SystemClock`; the poll interval comes from
//! `OIDC_ECS_DEPLOY_POLL_SECONDS` when set (tests, the demo), else it adapts from 2 to 15 s.
//! `health-check-url` is probed by the observer once everything else is healthy (`probe.rs`).

use std::collections::{BTreeSet, HashSet};

use aws_config::SdkConfig;
use serde_json::Value;

use crate::envvars::EnvVars;
use crate::failure::{Category, Failure};
use crate::inputs::RolloutConfig;
use crate::rollout::ecs_api::{EcsApi, ServiceState};
use crate::rollout::plan::{self, Registration};
use crate::rollout::probe::Probe;
use crate::rollout::rollback::{ROLLBACK_WAIT, RollbackOutcome, RollbackTarget, Settled, roll_back, short};
use crate::rollout::watch::{Clock, EcsObserver, POLL_SECONDS_ENV, PollInterval, Report, SystemClock, Watched, wait};
use crate::rollout::{FailureKind, ImageAssignment, ImageUpdate, Verdict, Watch, known_cause, parse_task_definition_file, render, summarise_stopped_task};
use crate::runner::{Annotation, neutralize_line};

use super::{Console, failures};

/// Stopped tasks reported per failed service, and log lines per container.
const STOPPED_SHOWN: usize = 3;
const LOG_LINES: i32 = 10;

pub async fn run(cfg: &RolloutConfig, aws: &SdkConfig, pushed: Option<&str>, env: &EnvVars, console: &mut Console) -> Result<(), Failure> {
    let update = image_update(cfg, pushed)?;
    let endpoint = env.non_empty("AWS_ENDPOINT_URL_ECS").or_else(|| env.non_empty("AWS_ENDPOINT_URL"));
    let api = EcsApi::new(aws, &cfg.cluster, endpoint);
    let interval = PollInterval::from_setting(env.get(POLL_SECONDS_ENV));

    // Decide.
    let cluster = api.describe_cluster().await.map_err(|e| failures::rollout_api(&e))?;
    let (services, missing) = match cluster.as_ref().filter(|c| c.status == "ACTIVE") {
        Some(_) => api.describe_services(&cfg.services).await.map_err(|e| failures::rollout_api(&e))?,
        None => (Vec::new(), Vec::new()),
    };
    let has_instances = if services.iter().any(plan::needs_container_instances) { api.has_container_instances().await.map_err(|e| failures::rollout_api(&e))? } else { true };
    let refusals = plan::refusals(&cfg.cluster, cluster.as_ref(), &services, &missing, has_instances);
    if !refusals.is_empty() {
        return Err(failures::rollout_refusals(&refusals));
    }
    for warning in services.iter().flat_map(plan::warnings) {
        let _ = console.workflow.warning(&warning, &Annotation::titled("Rollout"));
    }
    let mut serving_defs: Vec<(String, Value)> = Vec::new();
    for arn in services.iter().map(|s| s.task_definition.clone()).collect::<BTreeSet<_>>() {
        let def = api.describe_task_definition(&arn).await.map_err(|e| failures::rollout_api(&e))?;
        serving_defs.push((arn, def));
    }
    let def_of = |s: &ServiceState| &serving_defs.iter().find(|(a, _)| *a == s.task_definition).expect("described above").1;
    let base = match &cfg.task_definition {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| Failure::new(Category::BadInput, format!("input `task-definition`: cannot read {}: {e}", path.display())))?;
            parse_task_definition_file(&text, &path.display().to_string()).map_err(|e| failures::taskdef(&e))?
        }
        None => def_of(&services[0]).clone(),
    };
    let rendered = render(&base, &update).map_err(|e| failures::taskdef(&e))?;
    if !rendered.unknown_fields.is_empty() {
        let text = format!("the task definition has fields RegisterTaskDefinition may not know: {}", rendered.unknown_fields.join(", "));
        let _ = console.workflow.warning(&text, &Annotation::titled("Task definition"));
    }
    let pairs: Vec<(&ServiceState, &Value)> = services.iter().map(|s| (s, def_of(s))).collect();
    let decided = plan::decide(&rendered.request, &pairs, cfg.force_new_deployment);
    print_plan(&decided, &rendered.changed_containers, cfg.dry_run);

    if decided.nothing_to_do() {
        tracing::info!("nothing to do: {} already run(s) this definition (a re-run registers nothing; `force-new-deployment: true` restarts the tasks)", cfg.services.join(", "));
        let serving: Vec<&str> = decided.services.iter().map(|s| s.serving.as_str()).collect();
        return publish(console, &joined(&serving), "", false, &joined(&serving));
    }
    if cfg.dry_run {
        tracing::info!("dry run: nothing was registered and no service was updated");
        return Ok(());
    }

    warn_if_credentials_expire(aws, cfg, console).await;

    // Act: register once, then update each service, remembering what served (the way back).
    let arn = match &decided.registration {
        Registration::Reuse(arn) => {
            tracing::info!("reusing {}: a service already serves this exact definition", short(arn));
            arn.clone()
        }
        Registration::Register(request) => {
            let arn = api.register_task_definition(request).await.map_err(|e| failures::rollout_api(&e))?;
            tracing::info!("registered {}", short(&arn));
            arn
        }
    };
    let clock = SystemClock;
    let mut report = ConsoleReport { console };
    let mut watched = Vec::new();
    let mut updated: Vec<RollbackTarget> = Vec::new();
    for (s, p) in services.iter().zip(&decided.services).filter(|(_, p)| p.update) {
        let answer = api.update_service(&s.name, &arn, cfg.force_new_deployment).await;
        let state = match answer {
            Ok(state) => state,
            Err(e) => {
                // Do not leave the services already updated half-deployed.
                if cfg.rollback && !updated.is_empty() {
                    let mut observer = EcsObserver::new(&api, &clock, None);
                    roll_back(&api, &clock, &mut observer, &mut report, &updated, ROLLBACK_WAIT, interval.clone()).await;
                }
                return Err(failures::rollout_api(&e));
            }
        };
        let primary = state.deployments.iter().find(|d| d.status == "PRIMARY");
        let watch = Watch {
            our_deployment_id: primary.map(|d| d.id.clone()).unwrap_or_default(),
            our_task_definition: arn.clone(),
            previous_task_definition: Some(p.rollback_to.clone()),
            started_at: primary.and_then(|d| d.created_at).unwrap_or_else(|| clock.now()),
            deadline: clock.now() + cfg.wait,
            failed_task_threshold: plan::failed_task_threshold(&state),
        };
        tracing::info!("{}: deployment {} started ({} -> {})", s.name, watch.our_deployment_id, short(&p.rollback_to), short(&arn));
        let seen: HashSet<String> = s.events.iter().chain(&state.events).map(|e| e.id.clone()).collect();
        watched.push(Watched::new(s.name.clone(), watch, seen));
        updated.push(RollbackTarget { service: s.name.clone(), task_definition: p.rollback_to.clone() });
    }
    let deployment_ids: Vec<&str> = watched.iter().map(|w| w.watch.our_deployment_id.as_str()).collect();
    let deployment_ids = joined(&deployment_ids);
    let previous: Vec<&str> = updated.iter().map(|u| u.task_definition.as_str()).collect();
    let previous = joined(&previous);

    // Wait.
    let verdicts = {
        let probe = cfg.health_check_url.as_deref().map(|url| Probe::new(url, cfg.health_check_successes));
        let mut observer = EcsObserver::new(&api, &clock, probe);
        wait(&clock, &mut observer, &mut report, &mut watched, &mut interval.clone()).await
    };
    let verdicts = match verdicts {
        Ok(v) => v,
        Err(e) => vec![Verdict::TimedOut { waiting_for: format!("a poll that answers ({e})") }; watched.len()],
    };
    if verdicts.iter().all(|v| *v == Verdict::Healthy) {
        tracing::info!("healthy: {} serve(s) {}", cfg.services.join(", "), short(&arn));
        publish(report.console, &arn, &deployment_ids, false, &previous)?;
        return Ok(());
    }

    // Revert (or report ECS's own rollback), then fail with the evidence.
    let (index, verdict) = verdicts.iter().enumerate().find(|(_, v)| v.is_final() && **v != Verdict::Healthy).unwrap_or((0, &verdicts[0]));
    let failed = &watched[index];
    let stopped = api.stopped_tasks(&failed.service, &failed.watch.our_deployment_id, &rendered.request, STOPPED_SHOWN, LOG_LINES).await.unwrap_or_else(|e| {
        tracing::warn!("cannot read the stopped tasks: {e}");
        Vec::new()
    });
    let ecs_handled: Vec<&str> = watched.iter().zip(&verdicts).filter(|(_, v)| matches!(v, Verdict::Failed(f) if !f.kind.needs_rollback())).map(|(w, _)| w.service.as_str()).collect();
    let to_revert: Vec<RollbackTarget> = updated.iter().filter(|u| !ecs_handled.contains(&u.service.as_str())).cloned().collect();
    let outcomes = if cfg.rollback && !to_revert.is_empty() {
        let mut observer = EcsObserver::new(&api, &clock, None);
        roll_back(&api, &clock, &mut observer, &mut report, &to_revert, ROLLBACK_WAIT, interval.clone()).await
    } else {
        Vec::new()
    };
    let circuit_breaker = matches!(verdict, Verdict::Failed(f) if f.kind == FailureKind::CircuitBreakerRolledBack);
    let rolled_back = circuit_breaker || (!outcomes.is_empty() && outcomes.iter().all(|o| matches!(o.settled, Settled::Healthy { .. } | Settled::NotSettled(_))));
    let now_serving = if rolled_back { previous.clone() } else { arn.clone() };
    publish(report.console, &now_serving, &deployment_ids, rolled_back, &previous)?;
    Err(deploy_failure(cfg, failed, verdict, &stopped, &outcomes, circuit_breaker))
}

/// When the credentials would expire before the wait (and a rollback) could end: an assumed
/// role's are renewed on the way (say so); credentials that cannot be renewed get a warning
/// before acting, since then neither could finish.
async fn warn_if_credentials_expire(aws: &SdkConfig, cfg: &RolloutConfig, console: &mut Console) {
    use aws_credential_types::provider::ProvideCredentials;
    let Some(provider) = aws.credentials_provider() else { return };
    let Ok(credentials) = provider.provide_credentials().await else { return };
    let Some(expiry) = credentials.expiry() else { return };
    let needed = std::time::SystemTime::now() + cfg.wait + ROLLBACK_WAIT;
    if expiry < needed {
        let left = expiry.duration_since(std::time::SystemTime::now()).unwrap_or_default().as_secs() / 60;
        if credentials.get_property::<super::refresh::Renewable>().is_some() {
            tracing::info!("the AWS credentials expire in {left} minutes, before the wait could end: they will be renewed (a fresh OIDC token, the role assumed again) shortly before they expire");
            return;
        }
        let text = format!("the AWS credentials expire in {left} minutes, before `wait-for-minutes` ({}) plus a rollback ({} minutes) could end; raise `role-duration-seconds` or lower `wait-for-minutes`", cfg.wait.as_secs() / 60, ROLLBACK_WAIT.as_secs() / 60);
        let _ = console.workflow.warning(&text, &Annotation::titled("Rollout"));
    }
}

/// The images to set: `containers` lines, `container-name` with the pushed image, or every
/// container of the pushed repository; with nothing pushed and no lines, the definition as is.
fn image_update(cfg: &RolloutConfig, pushed: Option<&str>) -> Result<ImageUpdate, Failure> {
    let mut assignments: Vec<ImageAssignment> = cfg.containers.iter().map(|(name, image)| ImageAssignment::Container { name: name.clone(), image: image.clone() }).collect();
    match (pushed, &cfg.container_name) {
        (Some(image), Some(name)) => assignments.push(ImageAssignment::Container { name: name.clone(), image: image.to_owned() }),
        (Some(image), None) if assignments.is_empty() => assignments.push(ImageAssignment::SameRepository { image: image.to_owned() }),
        (None, Some(name)) => {
            return Err(Failure::new(Category::BadInput, format!("input `container-name`: {name} would get the pushed image, but this run pushes none"))
                .hint("push in the same step (`image-source`, `repository`), or give the image with `containers: name=registry/repo@sha256:...`"));
        }
        _ => {}
    }
    Ok(ImageUpdate { assignments })
}

fn print_plan(decided: &plan::Plan, changed: &[crate::rollout::ImageChange], dry_run: bool) {
    let mut lines = Vec::new();
    for c in changed {
        lines.push(format!("image {}: {} -> {}", c.container, c.old, c.new));
    }
    for s in &decided.services {
        let action = if s.update { "update" } else { "unchanged (serves an identical definition)" };
        lines.push(format!("service {}: serving {}: {action}", s.service, short(&s.serving)));
        lines.extend(s.diff.iter().map(|d| format!("  {d}")));
    }
    for line in lines {
        // Definitions are the user's text, but a value may still look like a command.
        let line = neutralize_line(&line);
        if dry_run {
            println!("{line}");
        } else {
            tracing::info!("{line}");
        }
    }
}

fn publish(console: &mut Console, serving: &str, deployment_id: &str, rolled_back: bool, previous: &str) -> Result<(), Failure> {
    console.output("task-definition-arn", serving)?;
    console.output("deployment-id", deployment_id)?;
    console.output("rolled-back", if rolled_back { "true" } else { "false" })?;
    console.output("previous-task-definition-arn", previous)?;
    let rows = [["task definition", serving], ["deployment", deployment_id], ["rolled back", if rolled_back { "true" } else { "false" }], ["previous", previous]];
    let markdown = format!("### oidc-ecs-deploy: rollout\n\n{}", crate::runner::table(&["field", "value"], rows));
    console.summary.append_markdown(&markdown).map_err(|e| failures::runner_file(&e))
}

/// Distinct values, comma separated, in order.
fn joined(values: &[&str]) -> String {
    let mut seen = Vec::new();
    for v in values {
        if !seen.contains(v) {
            seen.push(*v);
        }
    }
    seen.join(",")
}

/// EXAMPLES.md's exit-4 report: what failed, the evidence, where the service is now, the fix.
fn deploy_failure(cfg: &RolloutConfig, failed: &Watched, verdict: &Verdict, stopped: &[crate::rollout::StoppedTask], outcomes: &[RollbackOutcome], circuit_breaker: bool) -> Failure {
    let w = &failed.watch;
    let previous = w.previous_task_definition.as_deref().map(short).unwrap_or("-");
    let what = match verdict {
        Verdict::TimedOut { .. } => {
            let minutes = cfg.wait.as_secs() / 60;
            format!("deployment {} was not healthy within {minutes} minute{}", w.our_deployment_id, if minutes == 1 { "" } else { "s" })
        }
        _ => format!("deployment {} failed", w.our_deployment_id),
    };
    let fate = if circuit_breaker {
        format!("ECS's circuit breaker rolled it back to {previous}")
    } else if !cfg.rollback {
        "left as it is (rollback: false)".to_owned()
    } else if outcomes.iter().any(|o| !matches!(o.settled, Settled::Healthy { .. })) {
        format!("the rollback to {previous} did not settle")
    } else if outcomes.is_empty() {
        "nothing was rolled back".to_owned()
    } else {
        format!("rolled back to {previous}")
    };
    let mut f = Failure::new(Category::DeployFailed, format!("{}: {what}, {fate}", failed.service));
    let mut hint = None;
    match verdict {
        Verdict::Failed(failure) => {
            f.details.push(failure.reason.clone());
            if let Some(e) = &failure.evidence {
                f.details.push(format!("ECS said: {e}"));
            }
            hint = failure.hint.clone();
        }
        Verdict::TimedOut { waiting_for } => f.details.push(format!("still waiting for: {waiting_for}")),
        _ => {}
    }
    if !stopped.is_empty() {
        f.details.push(format!("{} stopped task(s) of {}:", stopped.len(), short(&w.our_task_definition)));
        for task in stopped {
            f.details.extend(summarise_stopped_task(task).into_iter().map(|l| format!("  {l}")));
        }
        if hint.is_none() {
            hint = stopped.iter().find_map(known_cause).map(|c| c.hint.to_owned());
        }
        // ECS stops a task that fails its target group's health checks with SIGTERM (143): that
        // task ran, it did not crash.
        let health_checks = stopped.iter().any(|t| t.stopped_reason.as_deref().is_some_and(|r| r.contains("ELB health checks")));
        let exited = stopped.iter().flat_map(|t| &t.containers).any(|c| c.exit_code.is_some_and(|e| e != 0 && e != 143));
        if hint.is_none() && health_checks {
            hint = Some("the tasks run but fail the load balancer's health check: compare the target group's health-check\npath, port and expected codes with what the container serves, and check the security groups".to_owned());
        } else if hint.is_none() && exited {
            hint = Some("the container exits at start; the log lines above are its last words".to_owned());
        }
    }
    for o in outcomes {
        f.details.push(match &o.settled {
            Settled::Healthy { running, desired, took } => format!("{} is serving {} again ({running}/{desired} running, steady state reached in {} s)", o.service, short(&o.task_definition), took.as_secs()),
            Settled::NotSettled(why) => format!("{} was pointed back at {}, but it is not healthy yet: {why}", o.service, short(&o.task_definition)),
            Settled::UpdateFailed(why) => format!("{}: the rollback to {} failed: {why}; the service still runs {}", o.service, short(&o.task_definition), short(&w.our_task_definition)),
        });
    }
    if !cfg.rollback {
        f.details.push(format!("the service was left on {} (rollback: false); the revision that served before is {previous}", short(&w.our_task_definition)));
    }
    match hint {
        Some(h) => f.hint(h),
        None => f,
    }
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
