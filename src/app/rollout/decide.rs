//! Decide, before any change: describe the cluster and the services, refuse what cannot be
//! deployed, render each service's new revision from its own serving definition (or from the
//! `task-definition` file for the services of the file's family), find what is registered
//! already, and print the plan: per service, which family and revision it gets, and its
//! deployment strategy (`preflight.rs` reads it, and waits out deployments this run did not
//! start).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::failure::{Category, Failure};
use crate::inputs::RolloutConfig;
use crate::rollout::ecs_api::{EcsApi, ServiceState};
use crate::rollout::plan::{self, Plan, Registration, ServiceInput};
use crate::rollout::rollback::short;
use crate::rollout::service_deployment::ServiceDeploymentReader;
use crate::rollout::strategy_plan::{DeploymentSettings, plan_lines};
use crate::rollout::taskdef::containers;
use crate::rollout::watch::{Clock, PollInterval};
use crate::rollout::{
    ImageAssignment, ImageChange, ImageUpdate, parse_task_definition_file, render,
};
use crate::runner::{Annotation, neutralize_line};

use super::preflight;
use crate::app::{Console, failures};
use crate::rollout::busy::Busy;

/// What the run will do, and what it was decided from.
pub struct Decision {
    /// As described, in the order of the `service` input.
    pub services: Vec<ServiceState>,
    /// The rendered request per service (same order): its containers' log settings are where
    /// the evidence of a failure is read.
    pub rendered: Vec<Value>,
    pub plan: Plan,
    /// Each service's deployment strategy, hooks and alarms (same order).
    pub settings: Vec<DeploymentSettings>,
}

/// What the rollout is decided from, read before any change.
pub struct Observed {
    /// As described, in the order of the `service` input.
    services: Vec<ServiceState>,
    /// Each serving task definition, by ARN.
    serving: BTreeMap<String, Value>,
    /// The `task-definition` file, when given.
    file: Option<Value>,
}

impl Observed {
    fn serving_of(&self, s: &ServiceState) -> &Value {
        &self.serving[&s.task_definition]
    }

    /// The definition each service's revision starts from: the file for the services of its
    /// family, the serving definition for the others.
    fn bases(&self) -> Vec<&Value> {
        self.services
            .iter()
            .map(|s| match &self.file {
                Some(f) if f["family"].as_str() == Some(family_of(self.serving_of(s))) => f,
                _ => self.serving_of(s),
            })
            .collect()
    }
}

/// The definitions `services` (as `describe` returned them) serve, and the `task-definition`
/// file: what only ECS can tell about the inputs (a file of no service's family), refused
/// before any change.
pub async fn observe(
    cfg: &RolloutConfig,
    api: &EcsApi,
    services: Vec<ServiceState>,
) -> Result<Observed, Failure> {
    let mut serving: BTreeMap<String, Value> = BTreeMap::new();
    for s in &services {
        if !serving.contains_key(&s.task_definition) {
            let def = api
                .describe_task_definition(&s.task_definition)
                .await
                .map_err(|e| failures::rollout_api(&e))?;
            serving.insert(s.task_definition.clone(), def);
        }
    }
    let file = match &cfg.task_definition {
        Some(path) => Some(read_file(path, &services, |s| {
            family_of(&serving[&s.task_definition])
        })?),
        None => None,
    };
    Ok(Observed {
        services,
        serving,
        file,
    })
}

/// Every container `update` names is in the definition of at least one service; the error names
/// the input that named it.
pub fn check_named_containers(
    cfg: &RolloutConfig,
    observed: &Observed,
    update: &ImageUpdate,
) -> Result<(), Failure> {
    let bases = observed.bases();
    // A named container that no family has is a typo, not another family's container.
    for name in update.named_containers() {
        let anywhere = bases.iter().any(|b| {
            containers(b)
                .iter()
                .any(|c| c.get("name").and_then(Value::as_str) == Some(name))
        });
        if !anywhere {
            let only = ImageUpdate {
                assignments: update
                    .assignments
                    .iter()
                    .filter(
                        |a| matches!(a, ImageAssignment::Container { name: n, .. } if n == name),
                    )
                    .cloned()
                    .collect(),
            };
            let input = if cfg.container_name.as_deref() == Some(name) {
                "container-name"
            } else {
                "containers"
            };
            render(bases[0], &only).map_err(|e| {
                let failure = failures::taskdef(&e);
                Failure {
                    headline: format!("input `{input}`: {}", failure.headline),
                    ..failure
                }
            })?;
        }
    }
    Ok(())
}

/// One round of deciding, printed only once the run goes ahead.
struct Round {
    decision: Decision,
    changes: Vec<Vec<ImageChange>>,
    /// Per service, a deployment this run did not start in progress on it.
    busy: Vec<Option<Busy>>,
    /// Task definitions with fields RegisterTaskDefinition may not know.
    warnings: Vec<String>,
}

/// Decide; while a service the plan would update is busy with a deployment this run did not
/// start, wait for it and decide again (or refuse), as `when-busy` says. A deployment of the
/// very revision this run wants (a re-run) is not in the way: the run watches it.
pub async fn decide<C: Clock>(
    cfg: &RolloutConfig,
    api: &EcsApi,
    reader: &ServiceDeploymentReader,
    (clock, interval): (&C, PollInterval),
    update: &ImageUpdate,
    console: &mut Console,
) -> Result<Decision, Failure> {
    let mut wait = preflight::BusyWait::new(cfg, clock, interval);
    let round = loop {
        let round = decide_once(cfg, api, reader, update).await?;
        let in_the_way: Vec<Busy> = round
            .busy
            .iter()
            .zip(&round.decision.plan.services)
            .filter(|(_, p)| p.update)
            .filter_map(|(b, _)| b.clone())
            .collect();
        if cfg.dry_run || wait.go(cfg, api, &in_the_way).await? {
            break round;
        }
    };
    let services = &round.decision.services;
    for warning in services.iter().flat_map(plan::warnings) {
        let _ = console
            .workflow
            .warning(&warning, &Annotation::titled("Rollout"));
    }
    for warning in &round.warnings {
        let _ = console
            .workflow
            .warning(warning, &Annotation::titled("Task definition"));
    }
    let busy_lines: Vec<String> = match cfg.dry_run {
        true => round
            .busy
            .iter()
            .flatten()
            .map(|b| preflight::dry_run_line(cfg, b))
            .collect(),
        false => Vec::new(),
    };
    let changes: Vec<&[ImageChange]> = round.changes.iter().map(Vec::as_slice).collect();
    let d = &round.decision;
    print_plan(&d.plan, &changes, &d.settings, &busy_lines, cfg.dry_run);
    Ok(round.decision)
}

async fn decide_once(
    cfg: &RolloutConfig,
    api: &EcsApi,
    reader: &ServiceDeploymentReader,
    update: &ImageUpdate,
) -> Result<Round, Failure> {
    let services = describe(cfg, api).await?;
    let (settings, busy) = preflight::read(cfg, reader, &services).await?;
    let observed = observe(cfg, api, services).await?;
    check_named_containers(cfg, &observed, update)?;
    let bases = observed.bases();
    let (rendered, warnings) = render_each(&observed.services, &bases, update)?;
    let serving_of = |s: &ServiceState| observed.serving_of(s);
    let services = &observed.services;
    let inputs: Vec<ServiceInput> = services
        .iter()
        .zip(&rendered)
        .map(|(s, (r, _))| ServiceInput {
            state: s,
            serving: serving_of(s),
            rendered: r,
        })
        .collect();
    let mut known: Vec<(String, Value)> = observed
        .serving
        .iter()
        .map(|(a, d)| (a.clone(), d.clone()))
        .collect();
    // A re-run after a rollback finds its revision registered already: the family's latest.
    let first = plan::decide(&inputs, &as_refs(&known), cfg.force_new_deployment);
    for family in first
        .registrations
        .iter()
        .filter(|r| matches!(r, Registration::Register(_)))
        .map(Registration::family)
    {
        if let Ok(latest) = api.describe_task_definition(family).await
            && let Some(arn) = latest["taskDefinition"]["taskDefinitionArn"].as_str()
        {
            known.push((arn.to_owned(), latest.clone()));
        }
    }
    let plan = plan::decide(&inputs, &as_refs(&known), cfg.force_new_deployment);
    let (rendered, changes) = rendered.into_iter().unzip();
    Ok(Round {
        decision: Decision {
            services: observed.services,
            rendered,
            plan,
            settings,
        },
        changes,
        busy,
        warnings,
    })
}

/// The cluster and the services, refused before any change when they cannot be deployed.
pub(super) async fn describe(
    cfg: &RolloutConfig,
    api: &EcsApi,
) -> Result<Vec<ServiceState>, Failure> {
    let cluster = api
        .describe_cluster()
        .await
        .map_err(|e| failures::rollout_api(&e))?;
    let (services, missing) = match cluster.as_ref().filter(|c| c.status == "ACTIVE") {
        Some(_) => api
            .describe_services(&cfg.services)
            .await
            .map_err(|e| failures::rollout_api(&e))?,
        None => (Vec::new(), Vec::new()),
    };
    let has_instances = if services.iter().any(plan::needs_container_instances) {
        api.has_container_instances()
            .await
            .map_err(|e| failures::rollout_api(&e))?
    } else {
        true
    };
    let refusals = plan::refusals(
        &cfg.cluster,
        cluster.as_ref(),
        &services,
        &missing,
        has_instances,
    );
    if !refusals.is_empty() {
        return Err(failures::rollout_refusals(&refusals));
    }
    Ok(services)
}

/// The `task-definition` file, which must be of the family of at least one service.
fn read_file<'s>(
    path: &std::path::Path,
    services: &'s [ServiceState],
    family: impl Fn(&'s ServiceState) -> &'s str,
) -> Result<Value, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::new(
            Category::BadInput,
            format!(
                "input `task-definition`: cannot read {}: {e}",
                path.display()
            ),
        )
    })?;
    let def = parse_task_definition_file(&text, &path.display().to_string())
        .map_err(|e| failures::taskdef(&e))?;
    let file_family = def["family"].as_str().unwrap_or_default();
    if !services.iter().any(|s| family(s) == file_family) {
        let runs: Vec<String> = services
            .iter()
            .map(|s| format!("{} runs {}", s.name, family(s)))
            .collect();
        return Err(Failure::new(Category::BadInput, format!("input `task-definition`: {} is of the family {file_family:?}, which none of the services runs ({})", path.display(), runs.join(", ")))
            .hint("the file applies to the services of its family only: set its `family` to the family of the service it is for,\nor list in `service` the services that run that family; nothing was registered or updated"));
    }
    Ok(def)
}

/// Each service's request and the images it changes, and a warning per family with fields
/// RegisterTaskDefinition may not know. With several families, an image named for a
/// container belongs to the families that have that container.
#[allow(clippy::type_complexity)]
fn render_each(
    services: &[ServiceState],
    bases: &[&Value],
    update: &ImageUpdate,
) -> Result<(Vec<(Value, Vec<ImageChange>)>, Vec<String>), Failure> {
    let families: std::collections::BTreeSet<&str> = bases.iter().map(|b| family_of(b)).collect();
    let mut warned = Vec::new();
    let mut out = Vec::new();
    for (s, base) in services.iter().zip(bases) {
        let own = if families.len() > 1 {
            update.restricted_to(base)
        } else {
            update.clone()
        };
        // Nothing of the update applies here: render with all of it, so the error names the
        // containers this family has.
        let own = if own.assignments.is_empty() && !update.assignments.is_empty() {
            update.clone()
        } else {
            own
        };
        let rendered = render(base, &own).map_err(|e| {
            let mut f = failures::taskdef(&e);
            f.details.push(format!(
                "rendering the revision for the service {} (family {})",
                s.name,
                family_of(base)
            ));
            f
        })?;
        let family = family_of(base).to_owned();
        if !rendered.unknown_fields.is_empty() && !warned.iter().any(|(f, _)| *f == family) {
            let text = format!(
                "the task definition {family} has fields RegisterTaskDefinition may not know: {}",
                rendered.unknown_fields.join(", ")
            );
            warned.push((family, text));
        }
        out.push((rendered.request, rendered.changed_containers));
    }
    Ok((out, warned.into_iter().map(|(_, t)| t).collect()))
}

/// A definition's family, in either shape.
fn family_of(def: &Value) -> &str {
    def.get("taskDefinition").unwrap_or(def)["family"]
        .as_str()
        .unwrap_or_default()
}

fn as_refs(known: &[(String, Value)]) -> Vec<(&str, &Value)> {
    known.iter().map(|(a, d)| (a.as_str(), d)).collect()
}

/// The images to set: `containers` lines, `container-name` with the pushed image, or every
/// container of the pushed repository; with nothing pushed and no lines, the definition as is.
/// `container-name` without a push never gets here: input validation refuses it
/// (`container-name` with `image-source` empty), before anything changes.
pub fn image_update(cfg: &RolloutConfig, pushed: Option<&str>) -> ImageUpdate {
    debug_assert!(
        pushed.is_some() || cfg.container_name.is_none(),
        "input validation lets `container-name` through only with `image-source`"
    );
    let mut update = ImageUpdate::containers(cfg.containers.iter().cloned());
    match (pushed, &cfg.container_name) {
        (Some(image), Some(name)) => update.assignments.push(ImageAssignment::Container {
            name: name.clone(),
            image: image.to_owned(),
        }),
        (Some(image), None) if update.assignments.is_empty() => {
            update = ImageUpdate::same_repository(image)
        }
        _ => {}
    }
    update
}

/// The plan: the image changes, then a line per service with the family and revision it gets
/// and its strategy's lines, then what is in progress (dry run).
fn print_plan(
    plan: &Plan,
    changes: &[&[ImageChange]],
    settings: &[DeploymentSettings],
    busy: &[String],
    dry_run: bool,
) {
    let mut lines: Vec<String> = Vec::new();
    for c in changes.iter().flat_map(|c| c.iter()) {
        let line = format!("image {}: {} -> {}", c.container, c.old, c.new);
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    for (i, s) in plan.services.iter().enumerate() {
        let gets = match &plan.registrations[s.registration] {
            _ if !s.update => format!(
                "keeps {} (identical to what it would get): unchanged, its health is checked",
                short(&s.serving)
            ),
            Registration::Reuse(arn) => format!("gets {} (registered already): update", short(arn)),
            Registration::Register(_) => format!("gets a new revision of {}: update", s.family),
        };
        lines.push(format!(
            "service {}: family {}, serving {}, {gets}",
            s.service,
            s.family,
            short(&s.serving)
        ));
        if let Some(set) = settings.get(i) {
            lines.extend(plan_lines(set).iter().map(|l| format!("  {l}")));
        }
        lines.extend(s.diff.iter().map(|d| format!("  {d}")));
    }
    lines.extend(busy.iter().cloned());
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
