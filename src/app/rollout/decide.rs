//! Decide, before any change: describe the cluster and the services, refuse what cannot be
//! deployed, render each service's new revision from its own serving definition (or from the
//! `task-definition` file for the services of the file's family), find what is registered
//! already, and print the plan: per service, which family and revision it gets.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::failure::{Category, Failure};
use crate::inputs::RolloutConfig;
use crate::rollout::ecs_api::{EcsApi, ServiceState};
use crate::rollout::plan::{self, Plan, Registration, ServiceInput};
use crate::rollout::rollback::short;
use crate::rollout::taskdef::containers;
use crate::rollout::{
    ImageAssignment, ImageChange, ImageUpdate, parse_task_definition_file, render,
};
use crate::runner::{Annotation, neutralize_line};

use crate::app::{Console, failures};

/// What the run will do, and what it was decided from.
pub struct Decision {
    /// As described, in the order of the `service` input.
    pub services: Vec<ServiceState>,
    /// The rendered request per service (same order): its containers' log settings are where
    /// the evidence of a failure is read.
    pub rendered: Vec<Value>,
    pub plan: Plan,
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

/// Describe the cluster, the services and the definitions they serve, and read the
/// `task-definition` file: what only ECS can tell about the inputs (no such cluster or service,
/// a file of no service's family), refused before any change.
pub async fn observe(cfg: &RolloutConfig, api: &EcsApi) -> Result<Observed, Failure> {
    let services = describe(cfg, api).await?;
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

pub async fn decide(
    cfg: &RolloutConfig,
    api: &EcsApi,
    update: &ImageUpdate,
    console: &mut Console,
) -> Result<Decision, Failure> {
    let observed = observe(cfg, api).await?;
    for warning in observed.services.iter().flat_map(plan::warnings) {
        let _ = console
            .workflow
            .warning(&warning, &Annotation::titled("Rollout"));
    }
    check_named_containers(cfg, &observed, update)?;
    let bases = observed.bases();
    let rendered = render_each(&observed.services, &bases, update, console)?;
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
    let changes: Vec<&[ImageChange]> = rendered.iter().map(|(_, c)| c.as_slice()).collect();
    print_plan(&plan, &changes, cfg.dry_run);
    let rendered = rendered.into_iter().map(|(r, _)| r).collect();
    Ok(Decision {
        services: observed.services,
        rendered,
        plan,
    })
}

/// The cluster and the services, refused before any change when they cannot be deployed.
async fn describe(cfg: &RolloutConfig, api: &EcsApi) -> Result<Vec<ServiceState>, Failure> {
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

/// Each service's request and the images it changes. With several families, an image named
/// for a container belongs to the families that have that container.
fn render_each(
    services: &[ServiceState],
    bases: &[&Value],
    update: &ImageUpdate,
    console: &mut Console,
) -> Result<Vec<(Value, Vec<ImageChange>)>, Failure> {
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
        if !rendered.unknown_fields.is_empty() && !warned.contains(&family) {
            let text = format!(
                "the task definition {family} has fields RegisterTaskDefinition may not know: {}",
                rendered.unknown_fields.join(", ")
            );
            let _ = console
                .workflow
                .warning(&text, &Annotation::titled("Task definition"));
            warned.push(family);
        }
        out.push((rendered.request, rendered.changed_containers));
    }
    Ok(out)
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
pub fn image_update(cfg: &RolloutConfig, pushed: Option<&str>) -> Result<ImageUpdate, Failure> {
    let mut update = ImageUpdate::containers(cfg.containers.iter().cloned());
    match (pushed, &cfg.container_name) {
        (Some(image), Some(name)) => update.assignments.push(ImageAssignment::Container {
            name: name.clone(),
            image: image.to_owned(),
        }),
        (Some(image), None) if update.assignments.is_empty() => {
            update = ImageUpdate::same_repository(image)
        }
        (None, Some(name)) => {
            return Err(Failure::new(Category::BadInput, format!("input `container-name`: {name} would get the pushed image, but this run pushes none"))
                .hint("push in the same step (`image-source`, `repository`), or give the image with `containers: name=registry/repo@sha256:...`"));
        }
        _ => {}
    }
    Ok(update)
}

/// The plan: the image changes, then a line per service with the family and revision it gets.
fn print_plan(plan: &Plan, changes: &[&[ImageChange]], dry_run: bool) {
    let mut lines: Vec<String> = Vec::new();
    for c in changes.iter().flat_map(|c| c.iter()) {
        let line = format!("image {}: {} -> {}", c.container, c.old, c.new);
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    for s in &plan.services {
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
