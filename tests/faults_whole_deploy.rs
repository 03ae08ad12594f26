//! End to end: a whole deploy (the job's OIDC token, STS, ECR's API, a push of a three-layer
//! image, a rollout to two services) with a seeded fault proxy in front of every service it
//! talks to (`common/fault_bed.rs`). The faults are what servers do under stress: 500s, 503s,
//! throttling in each protocol's shape, resets before the answer and in the middle of a body,
//! resets after the request took effect, stalls past the request timeout.
//!
//! - With a fifth of the requests faulted everywhere, the deploy succeeds with one new
//!   revision, one UpdateService per service, and no blob reaching the registry twice.
//! - With every request of one stage faulted, the run fails within its retry budget, saying
//!   the stage, the attempts and the time, and changes nothing after that stage; when ECS stops
//!   answering after the services were updated, they are rolled back.

#[path = "common/fault_bed.rs"]
mod bed;
mod common;
#[path = "image_fixtures.rs"]
mod fixtures;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bed::{FaultBed, Faults, Plan, SERVICES};
use common::Run;
use testbed::{Matcher, RecordedRequest};

/// A fifth of the requests, each service with its own seed. The seeds are fixed: each gives at
/// least one fault at every stage (asserted, so a change that stops faulting a stage is seen):
/// the token request stalls past the timeout once, STS throttles the first AssumeRole, ECR's
/// CreateRepository and ECS's RegisterTaskDefinition and first UpdateService take effect but
/// their answers are lost (the calls that must not be repeated blindly).
fn a_fifth_everywhere() -> Plan {
    let fifth = |seed| Faults { percent: 20, seed };
    Plan {
        oidc: fifth(13),
        sts: fifth(33),
        ecr: fifth(9),
        registry: fifth(7),
        ecs: fifth(2876),
    }
}

/// Every request of one stage faulted.
fn all(seed: u64) -> Faults {
    Faults { percent: 100, seed }
}

#[tokio::test]
async fn a_fifth_of_requests_faulted_everywhere_still_deploys_once() {
    let bed = FaultBed::start(a_fifth_everywhere(), Matcher::All).await;
    let before = bed.revisions();
    let run = bed.job().run().await;
    run.assert_code(0);

    for (stage, faulted, seen) in bed.faulted() {
        assert!(
            faulted >= 1,
            "{stage}: no fault among {seen} requests: pick a seed that faults this stage\n{}",
            run.dump()
        );
    }
    let after = bed.revisions();
    assert_eq!(
        after.len(),
        before.len() + 1,
        "exactly one revision is registered: {before:?} -> {after:?}\n{}",
        run.dump()
    );
    let new = after.last().unwrap();
    for serving in bed.serving() {
        assert!(
            serving.ends_with(&format!("/{new}")),
            "{serving} is not {new}"
        );
    }
    assert_eq!(
        bed.sim.calls("UpdateService"),
        SERVICES.len(),
        "one UpdateService per service took effect\n{}",
        run.dump()
    );
    for (digest, uploads) in bed.full_uploads() {
        assert!(
            uploads <= 1,
            "blob {digest} reached the registry in full {uploads} times\n{}",
            run.dump()
        );
    }
    assert_eq!(
        run.output("image-digest"),
        Some(bed.image.manifest.digest.to_string().as_str()),
        "{}",
        run.dump()
    );
    assert_eq!(run.output("rolled-back"), Some("false"), "{}", run.dump());
}

/// The failure names the stage, how many attempts over how long, and is an outage (exit 1).
fn assert_outage(run: &Run, stage: &str) {
    run.assert_code(1);
    run.assert_stderr_has(&[&format!("stage: {stage}")]);
    let block = run.error_block();
    assert!(
        block.contains(" attempts") && block.contains(" s"),
        "the error does not say the attempts and the time\n{}",
        run.dump()
    );
}

/// Nothing was pushed and nothing was deployed.
fn assert_nothing_deployed(bed: &FaultBed, before: &[String], run: &Run) {
    assert_eq!(
        bed.revisions(),
        before,
        "a revision was registered\n{}",
        run.dump()
    );
    assert_eq!(bed.sim.calls("UpdateService"), 0, "{}", run.dump());
}

fn uploads(requests: &[RecordedRequest]) -> usize {
    requests
        .iter()
        .filter(|r| r.method == "PUT" || r.method == "PATCH")
        .count()
}

#[tokio::test]
async fn the_token_endpoint_never_answering_stops_the_job_before_aws() {
    let plan = Plan {
        oidc: all(21),
        ..Plan::calm()
    };
    let bed = FaultBed::start(plan, Matcher::All).await;
    let before = bed.revisions();
    let run = bed.job().run().await;
    assert_outage(&run, "Authenticate to AWS");
    assert!(
        bed.oidc.request_count() > 1,
        "the token request was not retried"
    );
    assert_eq!(bed.sts.request_count(), 0, "STS was called without a token");
    assert_nothing_deployed(&bed, &before, &run);
}

#[tokio::test]
async fn sts_never_answering_stops_the_job_before_the_push() {
    let plan = Plan {
        sts: all(22),
        ..Plan::calm()
    };
    let bed = FaultBed::start(plan, Matcher::All).await;
    let before = bed.revisions();
    let run = bed.job().run().await;
    assert_outage(&run, "Authenticate to AWS");
    assert_eq!(bed.ecr.request_count(), 0);
    assert_nothing_deployed(&bed, &before, &run);
}

#[tokio::test]
async fn ecr_never_answering_stops_the_job_before_the_rollout() {
    let plan = Plan {
        ecr: all(23),
        ..Plan::calm()
    };
    let bed = FaultBed::start(plan, Matcher::All).await;
    let before = bed.revisions();
    let run = bed.job().run().await;
    assert_outage(&run, "Push the image to ECR");
    assert_eq!(uploads(&bed.at_registry.requests()), 0);
    assert_nothing_deployed(&bed, &before, &run);
}

#[tokio::test]
async fn the_registry_never_answering_stops_the_job_before_the_rollout() {
    let plan = Plan {
        registry: all(24),
        ..Plan::calm()
    };
    let bed = FaultBed::start(plan, Matcher::All).await;
    let before = bed.revisions();
    let run = bed.job().run().await;
    assert_outage(&run, "Push the image to ECR");
    assert_eq!(run.output("image-digest"), None, "{}", run.dump());
    assert_nothing_deployed(&bed, &before, &run);
}

#[tokio::test]
async fn ecs_never_answering_changes_nothing() {
    let plan = Plan {
        ecs: all(25),
        ..Plan::calm()
    };
    let bed = FaultBed::start(plan, Matcher::All).await;
    let before = bed.revisions();
    let run = bed.job().run().await;
    assert_outage(&run, "Roll out to ECS");
    assert_nothing_deployed(&bed, &before, &run);
}

/// Faults every ECS read once both services were updated; updates themselves pass (so the
/// rollback can be requested).
fn reads_after_the_updates() -> Matcher {
    let updated = Arc::new(AtomicBool::new(false));
    let updates = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    Matcher::Custom(Arc::new(move |r: &RecordedRequest| {
        let target = r.header("x-amz-target").unwrap_or_default();
        if target.ends_with(".UpdateService") {
            if updates.fetch_add(1, Ordering::SeqCst) + 1 >= SERVICES.len() {
                updated.store(true, Ordering::SeqCst);
            }
            return false;
        }
        updated.load(Ordering::SeqCst)
    }))
}

#[tokio::test]
async fn ecs_going_silent_after_the_update_rolls_the_services_back() {
    let plan = Plan {
        ecs: all(26),
        ..Plan::calm()
    };
    let bed = FaultBed::start(plan, reads_after_the_updates()).await;
    let serving_before = bed.serving();
    let run = bed.job().run().await;
    run.assert_code(4);
    run.assert_stderr_has(&["stage: Roll out to ECS"]);
    assert_eq!(
        bed.serving(),
        serving_before,
        "the services are not back on what served before\n{}",
        run.dump()
    );
    for service in SERVICES {
        run.assert_stderr_has(&[&format!(
            "{service} had been updated to app:2: rolled back to app:1"
        )]);
    }
    assert!(
        bed.sim.calls("UpdateService") >= 2 * SERVICES.len(),
        "no rollback was requested\n{}",
        run.dump()
    );
}
