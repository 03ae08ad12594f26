//! The ECS simulator's scenarios, poll by poll: for each, seed `web` (desired 1; 2 for
//! NeverSettles), register and deploy a new revision, then poll DescribeServices and compare a
//! one-line summary per poll with the documented timeline. A line reads
//! `<deployments: STATUS/rollout running+pending failed> | <newest event, shortened>`.

#[path = "ecs_support.rs"]
mod support;

use support::clients;
use testbed::{EcsSimulator, Scenario, ServiceSeed};

fn summary(s: &aws_sdk_ecs::types::Service, new_events: &[String]) -> String {
    let deps: Vec<String> = s
        .deployments()
        .iter()
        .map(|d| {
            let status = &d.status().unwrap()[..1];
            let rollout = match d.rollout_state().unwrap().as_str() {
                "IN_PROGRESS" => "ip",
                "COMPLETED" => "ok",
                _ => "FAILED",
            };
            format!(
                "{status}/{rollout} {}+{} f{}",
                d.running_count(),
                d.pending_count(),
                d.failed_tasks()
            )
        })
        .collect();
    let ev: Vec<String> = new_events.iter().map(|e| short(e)).collect();
    format!("{} | {}", deps.join(", "), ev.join("; "))
}

/// A short name for an event: `started N`, `stopped N`, `deregistered`, `unhealthy`,
/// `completed`, `steady`, `failed`, `rolling back`, `no service-linked role`, `cannot place`.
fn short(e: &str) -> String {
    let count = |after: &str| {
        e.split(after)
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or("?")
            .to_owned()
    };
    if e.contains("has started") {
        format!("started {}", count("has started "))
    } else if e.contains("has stopped") {
        format!("stopped {}", count("has stopped "))
    } else if e.contains("deregistered") {
        "deregistered".into()
    } else if e.contains("is unhealthy in") {
        "unhealthy".into()
    } else if e.ends_with("deployment completed.") {
        "completed".into()
    } else if e.ends_with("has reached a steady state.") {
        "steady".into()
    } else if e.ends_with("deployment failed: tasks failed to start.") {
        "failed".into()
    } else if e.contains("rolling back to deployment ecs-svc/") {
        "rolling back".into()
    } else if e.contains("unable to assume the service linked role") {
        "no service-linked role".into()
    } else if e.contains("unable to place a task") {
        "cannot place".into()
    } else {
        e.into()
    }
}

async fn timeline(scenario: Scenario, desired: u32, polls: usize) -> Vec<String> {
    let sim = EcsSimulator::start().await.unwrap();
    sim.seed_service(ServiceSeed {
        desired_count: desired,
        scenario,
        ..ServiceSeed::default()
    })
    .unwrap();
    let c = clients(&sim).await;
    let td = c.register("web", "example/app:v2").await;
    c.update("default", "web", &td).await;
    let mut seen = sim.service("default", "web").unwrap().events.len();
    let mut lines = Vec::new();
    for _ in 0..polls {
        let s = c.poll("default", "web").await;
        let all: Vec<String> = support::events(&s);
        let fresh: Vec<String> = all[..all.len() - seen].iter().rev().cloned().collect();
        seen = all.len();
        lines.push(summary(&s, &fresh));
    }
    lines
}

#[tokio::test]
async fn healthy_rolling() {
    assert_eq!(
        timeline(Scenario::HealthyRolling, 1, 4).await,
        [
            "P/ip 0+1 f0, A/ok 1+0 f0 | started 1",
            "P/ip 1+0 f0, A/ok 1+0 f0 | ",
            "P/ip 1+0 f0, A/ok 0+0 f0 | stopped 1; deregistered",
            "P/ok 1+0 f0 | completed; steady",
        ]
    );
}

#[tokio::test]
async fn crash_loop() {
    assert_eq!(
        timeline(Scenario::CrashLoop, 1, 5).await,
        [
            "P/ip 0+1 f0, A/ok 1+0 f0 | started 1",
            "P/ip 1+0 f0, A/ok 1+0 f0 | ",
            "P/ip 0+1 f1, A/ok 1+0 f0 | started 1",
            "P/ip 1+0 f1, A/ok 1+0 f0 | ",
            "P/ip 0+1 f2, A/ok 1+0 f0 | started 1",
        ]
    );
}

#[tokio::test]
async fn cannot_pull() {
    assert_eq!(
        timeline(Scenario::CannotPull, 1, 3).await,
        [
            "P/ip 0+1 f0, A/ok 1+0 f0 | started 1",
            "P/ip 0+1 f1, A/ok 1+0 f0 | started 1",
            "P/ip 0+1 f2, A/ok 1+0 f0 | started 1",
        ]
    );
}

#[tokio::test]
async fn targets_unhealthy() {
    assert_eq!(
        timeline(Scenario::TargetsUnhealthy, 1, 6).await,
        [
            "P/ip 0+1 f0, A/ok 1+0 f0 | started 1",
            "P/ip 1+0 f0, A/ok 1+0 f0 | ",
            "P/ip 1+0 f0, A/ok 1+0 f0 | unhealthy",
            "P/ip 1+0 f0, A/ok 1+0 f0 | ",
            "P/ip 0+1 f1, A/ok 1+0 f0 | started 1",
            "P/ip 1+0 f1, A/ok 1+0 f0 | ",
        ]
    );
}

#[tokio::test]
async fn circuit_breaker_rollback() {
    assert_eq!(
        timeline(Scenario::CircuitBreakerRollback, 1, 10).await,
        [
            "P/ip 0+1 f0, A/ok 1+0 f0 | started 1",
            "P/ip 1+0 f0, A/ok 1+0 f0 | ",
            "P/ip 0+1 f1, A/ok 1+0 f0 | started 1",
            "P/ip 1+0 f1, A/ok 1+0 f0 | ",
            "P/ip 0+1 f2, A/ok 1+0 f0 | started 1",
            "P/ip 1+0 f2, A/ok 1+0 f0 | ",
            "P/ip 0+1 f0, A/FAILED 0+0 f3, A/ok 1+0 f0 | failed; rolling back; started 1",
            "P/ip 1+0 f0, A/FAILED 0+0 f3, A/ok 1+0 f0 | ",
            "P/ip 1+0 f0, A/FAILED 0+0 f3, A/ok 0+0 f0 | stopped 1; deregistered",
            "P/ok 1+0 f0 | completed; steady",
        ]
    );
}

#[tokio::test]
async fn never_settles() {
    let t = timeline(Scenario::NeverSettles, 2, 6).await;
    assert_eq!(t[0], "P/ip 0+2 f0, A/ok 2+0 f0 | started 2");
    for line in &t[1..] {
        assert_eq!(line, "P/ip 1+1 f0, A/ok 2+0 f0 | ");
    }
}

#[tokio::test]
async fn service_linked_role_missing() {
    let t = timeline(Scenario::ServiceLinkedRoleMissing, 1, 6).await;
    let slr = "P/ip 0+0 f0, A/ok 1+0 f0 | no service-linked role";
    assert_eq!(t[0], slr);
    assert_eq!(t[5], slr);
    for line in &t[1..5] {
        assert_eq!(line, "P/ip 0+0 f0, A/ok 1+0 f0 | ");
    }
}

#[tokio::test]
async fn deployment_in_progress_then_ours() {
    // The seeded in-progress deployment becomes ACTIVE beside the serving one.
    assert_eq!(
        timeline(Scenario::DeploymentInProgress, 1, 4).await,
        [
            "P/ip 0+1 f0, A/ip 0+0 f0, A/ok 1+0 f0 | started 1",
            "P/ip 1+0 f0, A/ip 0+0 f0, A/ok 1+0 f0 | ",
            "P/ip 1+0 f0, A/ip 0+0 f0, A/ok 0+0 f0 | stopped 1; deregistered",
            "P/ok 1+0 f0 | completed; steady",
        ]
    );
}
