//! Tables for following a service deployment: the gate's verdict from `assess`'s and ECS's,
//! and the lines printed only when something changed.

use std::time::{Duration, SystemTime};

use super::*;
use crate::rollout::deployment_fixtures::{ARN, HOOK, hook, snap};
use crate::rollout::deployment_verdict::{AlarmsView, BreakerView, HookView};

fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn watch() -> Watch {
    Watch {
        our_deployment_id: "ecs-svc/1".into(),
        our_task_definition: "api:2".into(),
        previous_task_definition: Some("api:1".into()),
        started_at: t0(),
        deadline: t0() + Duration::from_secs(600),
        failed_task_threshold: 3,
    }
}

fn crash_loop() -> Verdict {
    failed(
        FailureKind::TasksFailing,
        "every task exited with code 1".into(),
    )
}

fn pending() -> Verdict {
    Verdict::Pending {
        progress: "api: 1/2 running".into(),
    }
}

/// The verdict's shape: Healthy, Pending, TimedOut, or the failure's kind.
fn shape(v: &Verdict) -> String {
    match v {
        Verdict::Failed(f) => format!("{:?}", f.kind),
        Verdict::Pending { .. } => "Pending".into(),
        Verdict::Healthy => "Healthy".into(),
        Verdict::TimedOut { .. } => "TimedOut".into(),
    }
}

/// (case, status, stage, assessed, until, ECS rolls back by itself, expected shape)
type Case = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Verdict,
    WaitUntil,
    bool,
    &'static str,
);

#[test]
fn the_gate_puts_assess_and_ecs_together() {
    let timed_out = Verdict::TimedOut {
        waiting_for: "rollout IN_PROGRESS".into(),
    };
    let superseded = failed(FailureKind::Superseded, "someone else deployed".into());
    let table: Vec<Case> = vec![
        (
            "succeeded and steady",
            "SUCCESSFUL",
            Some("CLEAN_UP"),
            Verdict::Healthy,
            WaitUntil::Steady,
            true,
            "Healthy",
        ),
        (
            "succeeded, not steady yet",
            "SUCCESSFUL",
            Some("CLEAN_UP"),
            pending(),
            WaitUntil::Steady,
            true,
            "Pending",
        ),
        (
            "steady tasks, deployment still baking",
            "IN_PROGRESS",
            Some("BAKE_TIME"),
            Verdict::Healthy,
            WaitUntil::Steady,
            true,
            "Pending",
        ),
        (
            "traffic shifted returns in the bake time",
            "IN_PROGRESS",
            Some("BAKE_TIME"),
            pending(),
            WaitUntil::TrafficShifted,
            true,
            "Healthy",
        ),
        (
            "traffic shifted waits before it",
            "IN_PROGRESS",
            Some("PRODUCTION_TRAFFIC_SHIFT"),
            pending(),
            WaitUntil::TrafficShifted,
            true,
            "Pending",
        ),
        (
            "started returns at once",
            "PENDING",
            None,
            pending(),
            WaitUntil::Started,
            false,
            "Healthy",
        ),
        (
            "a crash loop is left to ECS when it rolls back",
            "IN_PROGRESS",
            Some("SCALE_UP"),
            crash_loop(),
            WaitUntil::Steady,
            true,
            "Pending",
        ),
        (
            "a crash loop is ours when ECS does not",
            "IN_PROGRESS",
            Some("SCALE_UP"),
            crash_loop(),
            WaitUntil::Steady,
            false,
            "TasksFailing",
        ),
        (
            "a timeout stays a timeout",
            "IN_PROGRESS",
            Some("SCALE_UP"),
            timed_out.clone(),
            WaitUntil::Started,
            true,
            "TimedOut",
        ),
        (
            "ECS rolling back is waited for",
            "ROLLBACK_IN_PROGRESS",
            Some("SCALE_UP"),
            crash_loop(),
            WaitUntil::Steady,
            false,
            "Pending",
        ),
        (
            "ECS rolling back past a timeout too",
            "ROLLBACK_REQUESTED",
            Some("SCALE_UP"),
            timed_out,
            WaitUntil::Steady,
            true,
            "Pending",
        ),
        (
            "ECS rolled back",
            "ROLLBACK_SUCCESSFUL",
            Some("SCALE_UP"),
            pending(),
            WaitUntil::Steady,
            true,
            "EcsRolledBack",
        ),
        (
            "ECS could not roll back",
            "ROLLBACK_FAILED",
            Some("SCALE_UP"),
            pending(),
            WaitUntil::Steady,
            true,
            "EcsRollbackFailed",
        ),
        (
            // Acted on at the next read, if the service still shows our deployment:
            // `stopped_is_ours_to_undo_only_if_the_next_read_still_shows_our_deployment`.
            "stopped without a rollback, first read",
            "STOPPED",
            Some("SCALE_UP"),
            pending(),
            WaitUntil::Steady,
            false,
            "Pending",
        ),
        (
            "stopped by someone else's deployment",
            "STOPPED",
            Some("SCALE_UP"),
            superseded,
            WaitUntil::Steady,
            false,
            "Superseded",
        ),
    ];
    for (case, status, stage, assessed, until, ecs_rolls_back, expected) in table {
        let mut track = DeploymentTrack::new(ARN, until, ecs_rolls_back);
        let s = snap(status, stage, Some(100.0));
        let (_, ecs) = track.follow("api", &s);
        let got = track.verdict("api", assessed, &ecs, &watch(), t0());
        assert_eq!(shape(&got), expected, "{case}: {got:?}");
    }
}

/// One poll reads DescribeServices, then the service deployment: a deployment that replaced
/// ours between the two reads shows as STOPPED before the service shows it PRIMARY.
#[test]
fn stopped_is_ours_to_undo_only_if_the_next_read_still_shows_our_deployment() {
    let superseded = || failed(FailureKind::Superseded, "someone else deployed".into());
    for (next, expected) in [(pending(), "EcsStopped"), (superseded(), "Superseded")] {
        let mut track = DeploymentTrack::new(ARN, WaitUntil::Steady, false);
        let (_, ecs) = track.follow("api", &snap("STOPPED", Some("SCALE_UP"), None));
        let first = track.verdict("api", pending(), &ecs, &watch(), t0());
        assert_eq!(shape(&first), "Pending");
        let (_, ecs) = track.follow("api", &snap("STOPPED", Some("SCALE_UP"), None));
        let second = track.verdict("api", next, &ecs, &watch(), t0());
        assert_eq!(shape(&second), expected, "{second:?}");
    }
}

#[test]
fn ecs_rolling_back_is_waited_for_a_bounded_time() {
    let mut track = DeploymentTrack::new(ARN, WaitUntil::Steady, true);
    let s = snap("ROLLBACK_IN_PROGRESS", Some("BAKE_TIME"), Some(0.0));
    let (_, ecs) = track.follow("api", &s);
    let first_seen = watch().deadline - Duration::from_secs(60);
    let v = track.verdict("api", pending(), &ecs, &watch(), first_seen);
    assert_eq!(shape(&v), "Pending");
    let at_deadline = track.verdict("api", pending(), &ecs, &watch(), watch().deadline);
    assert_eq!(
        shape(&at_deadline),
        "Pending",
        "ROLLBACK_WAIT from when it was first seen"
    );
    let later = first_seen + ROLLBACK_WAIT;
    match track.verdict("api", pending(), &ecs, &watch(), later) {
        Verdict::Failed(f) => {
            assert_eq!(f.kind, FailureKind::EcsRolledBack);
            assert!(
                f.reason.contains("still rolling api back after 10 minutes"),
                "{}",
                f.reason
            );
            assert!(!f.kind.needs_rollback(), "never rolled back over ECS");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn only_changes_are_printed() {
    let mut track = DeploymentTrack::new(ARN, WaitUntil::Steady, true);
    let mut polls = vec![
        snap("PENDING", None, Some(0.0)),
        snap("IN_PROGRESS", Some("SCALE_UP"), Some(0.0)),
        snap("IN_PROGRESS", Some("SCALE_UP"), Some(0.0)),
        snap("IN_PROGRESS", Some("PRODUCTION_TRAFFIC_SHIFT"), Some(25.0)),
    ];
    let mut alarmed = snap("ROLLBACK_IN_PROGRESS", Some("BAKE_TIME"), Some(0.0));
    alarmed.alarms = Some(AlarmsView {
        status: "TRIGGERED".into(),
        names: vec!["api-5xx".into(), "api-latency".into()],
        triggered: vec!["api-5xx".into()],
    });
    alarmed.circuit_breaker = Some(BreakerView {
        status: "MONITORING".into(),
        failure_count: 1,
        threshold: 3,
    });
    polls.push(alarmed.clone());
    polls.push(alarmed);
    let printed: Vec<Vec<String>> = polls.iter().map(|s| track.follow("api", s).0).collect();
    assert_eq!(
        printed[0],
        [
            "api: BLUE_GREEN service deployment PENDING",
            "api: production traffic 0% new / 100% old, test traffic 100% new"
        ]
    );
    assert_eq!(
        printed[1],
        ["api: BLUE_GREEN service deployment IN_PROGRESS, stage SCALE_UP"]
    );
    assert!(printed[2].is_empty(), "{:?}", printed[2]);
    assert_eq!(
        printed[3],
        [
            "api: BLUE_GREEN service deployment IN_PROGRESS, stage PRODUCTION_TRAFFIC_SHIFT",
            "api: production traffic 25% new / 75% old, test traffic 100% new"
        ]
    );
    let rollback = printed[4].join("\n");
    for needle in [
        "service deployment ROLLBACK_IN_PROGRESS, stage BAKE_TIME",
        "api: alarm api-5xx went to ALARM",
        "api: the circuit breaker counted 1 failed tasks (threshold 3)",
        "api: ECS is rolling the deployment back (alarm api-5xx went to ALARM)",
    ] {
        assert!(rollback.contains(needle), "{needle}\n{rollback}");
    }
    assert!(printed[5].is_empty(), "{:?}", printed[5]);
    assert_eq!(
        track.stages,
        ["SCALE_UP", "PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME"]
    );
    assert!(!track.under_way());
}

#[test]
fn a_failed_hook_and_a_pause_are_named() {
    let mut track = DeploymentTrack::new(ARN, WaitUntil::Steady, true);
    let mut paused = snap("IN_PROGRESS", Some("POST_SCALE_UP"), Some(0.0));
    paused.hooks = vec![hook("PAUSE", "AWAITING_ACTION")];
    let (lines, ecs) = track.follow("api", &paused);
    let text = lines.join("\n");
    for needle in [
        "api: lifecycle hook PAUSE ecs-pause-e7tK9G at POST_SCALE_UP: AWAITING_ACTION",
        "paused at POST_SCALE_UP by PAUSE hook ecs-pause-e7tK9G: it waits for a ContinueServiceDeployment (ECS waits until 2023-11-14T22:13:20Z, then ROLLBACK)",
        &format!(
            "to release it: aws ecs continue-service-deployment --service-deployment-arn {ARN} --hook-id ecs-pause-e7tK9G --action CONTINUE"
        ),
        "to roll it back: aws ecs continue-service-deployment",
    ] {
        assert!(text.contains(needle), "{needle}\n{text}");
    }
    let timed_out = Verdict::TimedOut {
        waiting_for: "rollout IN_PROGRESS".into(),
    };
    match track.verdict("api", timed_out, &ecs, &watch(), watch().deadline) {
        Verdict::TimedOut { waiting_for } => assert!(
            waiting_for.contains("waits at POST_SCALE_UP for a ContinueServiceDeployment of PAUSE hook ecs-pause-e7tK9G"),
            "{waiting_for}"
        ),
        other => panic!("{other:?}"),
    }

    let mut hooked = DeploymentTrack::new(ARN, WaitUntil::Steady, true);
    let mut at_hook = snap("IN_PROGRESS", Some("POST_TEST_TRAFFIC_SHIFT"), Some(0.0));
    hooked.follow("api", &at_hook);
    at_hook.status = "ROLLBACK_SUCCESSFUL".into();
    at_hook.lifecycle_stage = Some("CLEAN_UP".into());
    at_hook.hooks = vec![HookView {
        hook_id: "ecs-hook-1".into(),
        target_type: "AWS_LAMBDA".into(),
        target_arn: Some(HOOK.into()),
        status: "FAILED".into(),
        ..HookView::default()
    }];
    let (_, ecs) = hooked.follow("api", &at_hook);
    match hooked.verdict("api", pending(), &ecs, &watch(), t0()) {
        Verdict::Failed(f) => assert_eq!(
            f.reason,
            format!(
                "ECS rolled api back: lifecycle hook {HOOK} answered FAILED at POST_TEST_TRAFFIC_SHIFT"
            )
        ),
        other => panic!("{other:?}"),
    }
}
