//! Report: the step outputs and the rollout's section of the job summary, both from the
//! rows of `outcome.rs`. The summary has a row per service (what it served, what it serves
//! now, the deployment, the verdict, the time, links to the ECS console) and, unless all is
//! well, a line per service saying where it stands; then the service deployments followed,
//! with their strategy and the lifecycle stages seen. A dry run says it was one. Before
//! either, each service's deployment strategy from the plan (bake time, hooks, alarms, who
//! rolls back).

use std::time::Duration;

use crate::failure::Failure;
use crate::rollout::plan::Registration;
use crate::rollout::rollback::short;
use crate::rollout::strategy_plan::plan_lines;
use crate::runner::{escape_markdown, table};

use super::decide::Decision;
use super::links::Place;
use super::outcome::Row;
use crate::app::{Console, failures};

const HEADERS: [&str; 7] = [
    "service",
    "served",
    "serves now",
    "deployment",
    "verdict",
    "took",
    "ECS console",
];

/// Outputs, then the summary section.
pub fn publish(
    console: &mut Console,
    place: &Place,
    rows: &[Row],
    rolled_back: bool,
) -> Result<(), Failure> {
    let note = rolled_back.then_some(
        "Rolled back: every service this run changed serves its previous revision again.",
    );
    let rolled_back = if rolled_back { "true" } else { "false" };
    write(console, place, rows, rolled_back, "", note)
}

/// The same for a cancelled run: `rolled-back` is `requested` when ECS accepted the rollback
/// of every service this run changed (the run stops before it can watch it settle).
pub fn publish_cancelled(
    console: &mut Console,
    place: &Place,
    rows: &[Row],
    requested: bool,
) -> Result<(), Failure> {
    let note = if requested {
        "Cancelled: the rollback of every service this run changed was requested, and ECS accepted it; the run stopped before it could watch it settle."
    } else {
        "Cancelled: see above where each service stands."
    };
    let rolled_back = if requested { "requested" } else { "false" };
    write(
        console,
        place,
        rows,
        rolled_back,
        " (cancelled)",
        Some(note),
    )
}

fn write(
    console: &mut Console,
    place: &Place,
    rows: &[Row],
    rolled_back: &str,
    heading: &str,
    note: Option<&str>,
) -> Result<(), Failure> {
    let now: Vec<&str> = rows.iter().map(|r| r.now.as_str()).collect();
    let deployments: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.deployment.as_deref())
        .collect();
    let previous: Vec<&str> = rows.iter().map(|r| r.previous.as_str()).collect();
    console.output("task-definition-arn", &joined(&now))?;
    console.output("deployment-id", &joined(&deployments))?;
    let service_deployments: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.service_deployment.as_deref())
        .collect();
    console.output("service-deployment-arn", &joined(&service_deployments))?;
    console.output("rolled-back", rolled_back)?;
    console.output("previous-task-definition-arn", &joined(&previous))?;

    let cells = rows.iter().map(|r| {
        [
            escape_markdown(&r.service),
            code(short(&r.served)),
            code(short(&r.now)),
            r.deployment.as_deref().map_or_else(String::new, code),
            escape_markdown(&r.verdict),
            r.took.map_or_else(String::new, seconds),
            links(place, &r.service),
        ]
    });
    let mut markdown = format!(
        "### oidc-ecs-deploy: rollout to {}{heading}\n\n{}",
        escape_markdown(&place.cluster),
        table(&HEADERS, cells)
    );
    let followed: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            let arn = r.service_deployment.as_deref()?;
            let stages = if r.stages.is_empty() {
                "no stage seen".to_owned()
            } else {
                let stages: Vec<String> = r.stages.iter().map(|s| code(s)).collect();
                stages.join(" → ")
            };
            Some(format!(
                "- {} ({}): {} — {}\n",
                escape_markdown(&r.service),
                escape_markdown(r.strategy.as_deref().unwrap_or("ROLLING")),
                stages,
                code(arn)
            ))
        })
        .collect();
    if !followed.is_empty() {
        markdown.push_str("\nService deployments (stages seen):\n\n");
        markdown.push_str(&followed.concat());
    }
    if rows.iter().any(|r| r.verdict != "healthy") {
        markdown.push_str("\nWhere each service stands:\n\n");
        for r in rows {
            markdown.push_str(&format!("- {}\n", escape_markdown(&r.stand)));
        }
    }
    if let Some(note) = note {
        markdown.push_str(&format!("\n{note}\n"));
    }
    console
        .summary
        .append_markdown(&markdown)
        .map_err(|e| failures::runner_file(&e))
}

/// The plan, as a summary section that says it was a dry run (no outputs: nothing happened).
pub fn dry_run(console: &mut Console, place: &Place, decision: &Decision) -> Result<(), Failure> {
    let cells = decision.plan.services.iter().map(|s| {
        let gets = match &decision.plan.registrations[s.registration] {
            _ if !s.update => format!("{} (unchanged)", code(short(&s.serving))),
            Registration::Reuse(arn) => code(short(arn)),
            Registration::Register(_) => format!("a new revision of {}", code(&s.family)),
        };
        [
            escape_markdown(&s.service),
            code(short(&s.serving)),
            gets,
            links(place, &s.service),
        ]
    });
    let markdown = format!(
        "### oidc-ecs-deploy: rollout to {} (dry run)\n\nDry run: nothing was registered and no service was updated. The plan:\n\n{}\n{}",
        escape_markdown(&place.cluster),
        table(&["service", "serves", "would serve", "ECS console"], cells),
        strategy_list(decision)
    );
    console
        .summary
        .append_markdown(&markdown)
        .map_err(|e| failures::runner_file(&e))
}

/// The plan's strategy section of a run that deploys (a dry run has it in its own section).
pub fn strategies(
    console: &mut Console,
    place: &Place,
    decision: &Decision,
) -> Result<(), Failure> {
    let markdown = format!(
        "### oidc-ecs-deploy: deployment strategy on {}\n\n{}",
        escape_markdown(&place.cluster),
        strategy_list(decision)
    );
    console
        .summary
        .append_markdown(&markdown)
        .map_err(|e| failures::runner_file(&e))
}

/// A bullet per service, its strategy's plan lines under it.
fn strategy_list(decision: &Decision) -> String {
    let mut out = String::new();
    for (s, set) in decision.services.iter().zip(&decision.settings) {
        out.push_str(&format!("- **{}**\n", escape_markdown(&s.name)));
        for line in plan_lines(set) {
            out.push_str(&format!("  - {}\n", escape_markdown(&line)));
        }
    }
    out
}

fn links(place: &Place, service: &str) -> String {
    format!(
        "[service]({}) · [deployments]({})",
        place.service_url(service),
        place.deployments_url(service)
    )
}

/// A code span; ECS names and ids hold no backticks, but a backtick would end the span early.
fn code(text: &str) -> String {
    format!("`{}`", text.replace('`', "'"))
}

fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs())
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
