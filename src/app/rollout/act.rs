//! Act on the plan: register each revision the plan needs (once per distinct definition, so
//! normally once per family), then update each service that needs it, in order, stopping at the
//! first UpdateService that fails. Every service reached is put under watch: an updated one on
//! the deployment UpdateService started, an unchanged one on the deployment already there (a
//! re-run proves health instead of assuming it).

use std::collections::HashSet;
use std::time::SystemTime;

use crate::failure::Failure;
use crate::inputs::RolloutConfig;
use crate::rollout::deployment_track::DeploymentTrack;
use crate::rollout::ecs_api::{ApiError, EcsApi, ServiceState};
use crate::rollout::plan::{Plan, Registration, primary_watch};
use crate::rollout::rollback::{RollbackTarget, short};
use crate::rollout::service_deployment::ServiceDeploymentReader;
use crate::rollout::watch::{Clock, Watched};

use super::changes::Changes;
use super::decide::Decision;
use crate::app::failures;

/// One service the run reached.
#[derive(Debug, Clone)]
pub struct Tracked {
    /// Index into the decision's services (and the plan's).
    pub index: usize,
    pub service: String,
    /// The revision it should run.
    pub wanted: String,
    /// Whether this run called UpdateService for it.
    pub updated: bool,
    /// It served its last completed revision before (no deployment in progress): ECS's
    /// rollback of our service deployment returns to the revision this action would.
    pub steady_before: bool,
    /// When its watch began (the UpdateService answer, or the start of the check).
    pub started: SystemTime,
}

/// The UpdateService that failed.
#[derive(Debug)]
pub struct Refused {
    pub index: usize,
    pub error: ApiError,
}

/// Services reached, their watches (same order), and the refusal that stopped the run, if any.
pub struct Started {
    pub tracked: Vec<Tracked>,
    pub watched: Vec<Watched>,
    pub refused: Option<Refused>,
}

/// The ARN of each registration of the plan, in order.
pub async fn register(api: &EcsApi, plan: &Plan) -> Result<Vec<String>, Failure> {
    let mut arns = Vec::new();
    for (i, registration) in plan.registrations.iter().enumerate() {
        let users: Vec<&str> = plan
            .services
            .iter()
            .filter(|s| s.registration == i && s.update)
            .map(|s| s.service.as_str())
            .collect();
        let arn = match registration {
            Registration::Reuse(arn) => arn.clone(),
            Registration::Register(request) => {
                let arn = api
                    .register_task_definition(request)
                    .await
                    .map_err(|e| failures::rollout_api(&e))?;
                tracing::info!("registered {} for {}", short(&arn), users.join(", "));
                arn
            }
        };
        arns.push(arn);
    }
    Ok(arns)
}

/// Update what needs it and put every service reached under watch, with the service
/// deployment ECS records for it followed too; `changes` records each update as it is sent and
/// as ECS accepts it, with no await in between the answer and the record.
pub async fn start<C: Clock>(
    api: &EcsApi,
    reader: &ServiceDeploymentReader,
    cfg: &RolloutConfig,
    decision: &Decision,
    arns: &[String],
    clock: &C,
    changes: &Changes,
) -> Started {
    let mut started = Started {
        tracked: Vec::new(),
        watched: Vec::new(),
        refused: None,
    };
    for (index, (state, plan)) in decision
        .services
        .iter()
        .zip(&decision.plan.services)
        .enumerate()
    {
        let (state_now, wanted, updated) = if plan.update {
            let wanted = arns[plan.registration].clone();
            changes.sending(&state.name);
            match api
                .update_service(&state.name, &wanted, cfg.force_new_deployment)
                .await
            {
                Ok(now) => (now, wanted, true),
                Err(error) => {
                    changes.refused(&state.name);
                    started.refused = Some(Refused { index, error });
                    return started;
                }
            }
        } else {
            (state.clone(), state.task_definition.clone(), false)
        };
        let now = clock.now();
        // A rollback goes back to what served before; for a service this run did not change,
        // only when that differs from what it runs.
        let previous = Some(plan.rollback_to.clone()).filter(|p| updated || *p != wanted);
        let watch = primary_watch(&state_now, &wanted, previous, now, now + cfg.wait);
        if updated {
            changes.accepted(
                &state.name,
                &watch.our_deployment_id,
                state_now.current_service_deployment.as_deref(),
            );
            tracing::info!(
                "{}: deployment {} started ({} -> {})",
                state.name,
                watch.our_deployment_id,
                short(&plan.rollback_to),
                short(&wanted)
            );
        } else {
            tracing::info!(
                "{}: runs {} already; checking deployment {}",
                state.name,
                short(&wanted),
                watch.our_deployment_id
            );
        }
        let seen: HashSet<String> = state
            .events
            .iter()
            .chain(&state_now.events)
            .map(|e| e.id.clone())
            .collect();
        let track = service_deployment(reader, cfg, &state_now)
            .await
            .map(|arn| {
                DeploymentTrack::new(arn, cfg.wait_until, !state_now.ecs_rolls_back.is_empty())
            });
        if let Some(t) = &track {
            tracing::info!("{}: service deployment {}", state.name, t.arn);
        }
        started
            .watched
            .push(Watched::new(state.name.clone(), watch, seen).following(track));
        started.tracked.push(Tracked {
            index,
            service: state.name.clone(),
            wanted,
            updated,
            steady_before: plan.rollback_to == plan.serving,
            started: now,
        });
    }
    started
}

/// The service deployment of the service's newest deployment: as UpdateService (or
/// DescribeServices) named it, else the newest ListServiceDeployments lists. None where ECS
/// records none (or it cannot be read: the watch then follows DescribeServices alone).
async fn service_deployment(
    reader: &ServiceDeploymentReader,
    cfg: &RolloutConfig,
    state: &ServiceState,
) -> Option<String> {
    if let Some(arn) = &state.current_service_deployment {
        return Some(arn.clone());
    }
    match reader.list_arns(&cfg.cluster, &state.name, 1).await {
        Ok(arns) => arns.into_iter().next(),
        Err(e) => {
            tracing::debug!("{}: no service deployment to follow: {e}", state.name);
            None
        }
    }
}

/// Where the services `pick` selects (by their position in `started.tracked`) go back to,
/// for those with somewhere to go.
pub fn rollback_targets(
    started: &Started,
    mut pick: impl FnMut(usize, &Tracked) -> bool,
) -> Vec<RollbackTarget> {
    started
        .tracked
        .iter()
        .zip(&started.watched)
        .enumerate()
        .filter(|(k, (t, _))| pick(*k, t))
        .filter_map(|(_, (t, w))| {
            w.watch
                .previous_task_definition
                .clone()
                .map(|to| RollbackTarget {
                    service: t.service.clone(),
                    task_definition: to,
                    service_deployment: w
                        .deployment
                        .as_ref()
                        .filter(|d| t.updated && t.steady_before && d.under_way())
                        .map(|d| d.arn.clone()),
                })
        })
        .collect()
}
