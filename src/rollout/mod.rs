//! Rollout: the new task-definition revision and the health verdict as pure cores (`taskdef`,
//! `canonical`, `assess`, `events`, `stopped`, `plan`), and the effectful shell that drives them
//! (`ecs_api` and `raw_ecs` over AWS, `watch` with its clock injected, `rollback`). This module
//! never imports `identity`, `image` or `runner` (`app` wires the stages and does the printing).
//!
//! ```text
//! // decide...
//! let current = parse_task_definition_file(&text, "taskdef.yaml")?;     // or DescribeTaskDefinition
//! let update = ImageUpdate::same_repository(pushed_ref);                 // or ::container / ::containers
//! let rendered = render(&current, &update)?;                              // request + changed containers
//! if is_identical(&rendered.request, &serving) { /* register nothing, reuse serving's ARN */ }
//! if dry_run { for line in diff(&serving, &rendered.request) { println!("{line}") } return }
//! // ...act (watch.rs): RegisterTaskDefinition, UpdateService, then each poll:
//! for e in new_events(&seen, &snapshot) { /* print, remember e.id */ }
//! match assess(&watch, &snapshot) {
//!     Verdict::Pending { progress } => { /* print when it changed */ }
//!     Verdict::Healthy => { /* commit */ }
//!     Verdict::Failed(f) if !f.kind.needs_rollback() => { /* ECS rolled back, or superseded */ }
//!     Verdict::Failed(_) | Verdict::TimedOut { .. } => { /* stopped tasks, then roll back */ }
//! }
//! for task in &stopped { lines.extend(summarise_stopped_task(task, show_logs)) }
//! ```
//!
//! Files: `taskdef` (file parsing, request shape, image selection, render), `canonical`
//! (the normalised form behind `is_identical` and `diff`), `imageref` (image references),
//! `assess` (snapshot types, verdict, progress, event deltas), `crashloop` (when exits
//! prove a crash loop), `events` (the table of ECS texts
//! and their causes), `stopped` (stopped-task evidence), `plan` (refusals and warnings before
//! any change), `ecs_api` (the SDK calls), `ecs_observer` (one
//! frugal poll), `raw_ecs` (task definitions as raw JSON), `watch`
//! (the poll loop), `observed` (what the polls saw, for truthful reports), `rollback`, `busy`
//! (another deployment in progress before ours: `when-busy`).
//!
//! Service deployments: `service_deployment` (the SDK reads, StopServiceDeployment),
//! `deployment_verdict` (what a service deployment means, and `wait-until`, pure),
//! `deployment_track` (one followed across polls: deltas, and the gate's verdict with ECS's
//! rollback waited for, pure), `strategy_plan` (strategy, hooks and alarms as plan lines,
//! refusals, pure).

pub mod assess;
pub mod busy;
pub mod canonical;
pub mod crashloop;
#[cfg(test)]
mod deployment_fixtures;
pub mod deployment_track;
pub mod deployment_verdict;
pub mod ecs_api;
pub mod ecs_observer;
pub mod events;
pub mod imageref;
pub mod observed;
pub mod plan;
pub mod probe;
pub mod rollback;
pub mod service_deployment;
pub mod stopped;
pub mod strategy_plan;
pub mod taskdef;
pub mod watch;

pub use assess::{
    DeploymentView, Failure, FailureKind, ProbeView, ServiceEvent, ServiceSnapshot, TargetView,
    Verdict, Watch, assess, new_events, progress,
};

pub use canonical::{diff, is_identical};
pub use events::{KNOWN_CAUSES, KnownCause, classify};
pub use imageref::{ImageRef, ImageRefError};
pub use stopped::{LogRef, StoppedContainer, StoppedTask, known_cause, summarise_stopped_task};
pub use taskdef::{
    ImageAssignment, ImageChange, ImageUpdate, Rendered, TaskDefError, parse_task_definition_file,
    render,
};
pub mod raw_ecs;
