//! Tables for the service-deployment acceptor: every status, pause hooks, ECS's reasons, and
//! `wait-until`.

use super::*;
use crate::rollout::deployment_fixtures::{ARN, hook, snap};

#[test]
fn each_status_has_one_meaning() {
    // (status, final, failed, we roll back ourselves)
    let table = [
        ("PENDING", false, false, false),
        ("IN_PROGRESS", false, false, false),
        ("SUCCESSFUL", true, false, false),
        ("ROLLBACK_REQUESTED", false, true, false),
        ("ROLLBACK_IN_PROGRESS", false, true, false),
        ("ROLLBACK_SUCCESSFUL", true, true, false),
        ("ROLLBACK_FAILED", true, true, true),
        ("STOP_REQUESTED", true, true, true),
        ("STOPPED", true, true, true),
        ("SOME_FUTURE_STATUS", false, false, false),
    ];
    for (status, is_final, failed, ours) in table {
        let v = judge(&snap(status, Some("SCALE_UP"), None), None);
        assert_eq!(
            (v.is_final(), v.failed(), v.we_must_roll_back()),
            (is_final, failed, ours),
            "{status}: {v:?}"
        );
    }
}

#[test]
fn progress_shows_the_stage_tasks_and_traffic() {
    let table = [
        (Some("SCALE_UP"), None, "SCALE_UP, 2/2 new tasks running"),
        (
            Some("PRODUCTION_TRAFFIC_SHIFT"),
            Some(25.0),
            "PRODUCTION_TRAFFIC_SHIFT, 2/2 new tasks running, production traffic 25% new / 75% old, test traffic 100% new",
        ),
        (None, None, "starting, 2/2 new tasks running"),
    ];
    for (stage, weight, text) in table {
        let DeploymentVerdict::InProgress(p) = judge(&snap("IN_PROGRESS", stage, weight), None)
        else {
            panic!("{stage:?} is in progress");
        };
        assert_eq!(p.to_string(), text);
    }
}

#[test]
fn a_pause_hook_awaiting_action_gives_both_release_commands() {
    let mut s = snap("IN_PROGRESS", Some("POST_TEST_TRAFFIC_SHIFT"), Some(0.0));
    s.hooks = vec![
        hook("AWS_LAMBDA", "SUCCEEDED"),
        hook("PAUSE", "AWAITING_ACTION"),
    ];
    let DeploymentVerdict::WaitingForPause(p) = judge(&s, None) else {
        panic!("paused");
    };
    assert_eq!(p.stage.as_deref(), Some("POST_TEST_TRAFFIC_SHIFT"));
    assert_eq!(p.timeout_action.as_deref(), Some("ROLLBACK"));
    assert_eq!(
        p.continue_command,
        format!(
            "aws ecs continue-service-deployment --service-deployment-arn {ARN} --hook-id ecs-pause-e7tK9G --action CONTINUE"
        )
    );
    assert!(
        p.rollback_command.ends_with("--action ROLLBACK"),
        "{}",
        p.rollback_command
    );
    // A pause hook already answered does not pause.
    s.hooks = vec![hook("PAUSE", "SUCCEEDED")];
    assert!(matches!(judge(&s, None), DeploymentVerdict::InProgress(_)));
}

/// (status, how the snapshot is changed, the last stage seen moving forward, the reason as shown).
type Case<'a> = (
    &'a str,
    &'a dyn Fn(&mut ServiceDeploymentSnapshot),
    Option<&'a str>,
    &'a str,
);

#[test]
fn ecs_reasons_name_the_breaker_the_alarms_and_the_hook_with_its_stage() {
    let breaker = |s: &mut ServiceDeploymentSnapshot| {
        s.circuit_breaker = Some(BreakerView {
            status: "TRIGGERED".into(),
            failure_count: 3,
            threshold: 3,
        });
    };
    let alarm = |s: &mut ServiceDeploymentSnapshot| {
        s.alarms = Some(AlarmsView {
            status: "TRIGGERED".into(),
            names: vec!["web-5xx".into(), "web-p99".into()],
            triggered: vec!["web-5xx".into()],
        });
    };
    let failed_hook =
        |s: &mut ServiceDeploymentSnapshot| s.hooks = vec![hook("AWS_LAMBDA", "FAILED")];
    let timed_out_pause =
        |s: &mut ServiceDeploymentSnapshot| s.hooks = vec![hook("PAUSE", "TIMED_OUT")];
    let monitoring_breaker = |s: &mut ServiceDeploymentSnapshot| {
        s.circuit_breaker = Some(BreakerView {
            status: "MONITORING".into(),
            failure_count: 1,
            threshold: 3,
        });
    };
    let table: [Case; 6] = [
        (
            "ROLLBACK_IN_PROGRESS",
            &breaker,
            None,
            "the circuit breaker counted 3 failed tasks (threshold 3); ECS says: ECS's words",
        ),
        (
            "ROLLBACK_SUCCESSFUL",
            &alarm,
            None,
            "alarm web-5xx went to ALARM; ECS says: ECS's words",
        ),
        (
            "ROLLBACK_SUCCESSFUL",
            &failed_hook,
            Some("POST_TEST_TRAFFIC_SHIFT"),
            "lifecycle hook arn:aws:lambda:us-east-1:1:function:smoke-test answered FAILED at POST_TEST_TRAFFIC_SHIFT; ECS says: ECS's words",
        ),
        (
            "ROLLBACK_FAILED",
            &timed_out_pause,
            None,
            "lifecycle hook PAUSE hook ecs-pause-e7tK9G timed out at TEST_TRAFFIC_SHIFT; ECS says: ECS's words",
        ),
        (
            "STOPPED",
            &monitoring_breaker,
            None,
            "ECS says: ECS's words",
        ),
        (
            "STOPPED",
            &|_: &mut ServiceDeploymentSnapshot| {},
            None,
            "ECS says: ECS's words",
        ),
    ];
    for (status, setup, last_stage, text) in table {
        // ECS reports its rollback's own stage; the watch remembers where it failed.
        let mut s = snap(status, Some("TEST_TRAFFIC_SHIFT"), Some(0.0));
        s.rollback = Some(EcsRollback {
            reason: Some("ECS's words".into()),
            revision_arn: None,
        });
        setup(&mut s);
        let reason = match judge(&s, last_stage) {
            DeploymentVerdict::EcsRollingBack(r)
            | DeploymentVerdict::EcsRolledBack(r)
            | DeploymentVerdict::RollbackFailed(r)
            | DeploymentVerdict::Stopped(r) => r,
            other => panic!("{status}: {other:?}"),
        };
        assert_eq!(reason.to_string(), text, "{status}");
    }
}

#[test]
fn the_status_reason_stands_in_when_there_is_no_rollback_record() {
    let mut s = snap("STOPPED", None, None);
    s.status_reason = Some("ECS deployment circuit breaker: tasks failed to start.".into());
    let DeploymentVerdict::Stopped(r) = judge(&s, None) else {
        panic!()
    };
    assert_eq!(
        r.text.as_deref(),
        Some("ECS deployment circuit breaker: tasks failed to start.")
    );
    s.status_reason = None;
    let DeploymentVerdict::Stopped(r) = judge(&s, None) else {
        panic!()
    };
    assert_eq!(r.to_string(), "ECS gave no reason");
}

#[test]
fn wait_until_parses_and_is_named_in_its_error() {
    assert_eq!("steady".parse(), Ok(WaitUntil::Steady));
    assert_eq!("".parse(), Ok(WaitUntil::Steady));
    assert_eq!("traffic-shifted".parse(), Ok(WaitUntil::TrafficShifted));
    assert_eq!(" started ".parse(), Ok(WaitUntil::Started));
    let err = "shifted".parse::<WaitUntil>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "`wait-until` must be `steady`, `traffic-shifted` or `started`, not \"shifted\""
    );
}

#[test]
fn wait_until_returns_at_the_right_moment() {
    let at = |status: &str, stage: Option<&str>| judge(&snap(status, stage, None), None);
    let mut paused = snap("IN_PROGRESS", Some("POST_SCALE_UP"), None);
    paused.hooks = vec![hook("PAUSE", "AWAITING_ACTION")];
    let paused = judge(&paused, None);
    // (verdict, steady, traffic-shifted, started)
    let table = [
        (at("PENDING", None), false, false, true),
        (at("IN_PROGRESS", Some("SCALE_UP")), false, false, true),
        (
            at("IN_PROGRESS", Some("PRODUCTION_TRAFFIC_SHIFT")),
            false,
            false,
            true,
        ),
        (
            at("IN_PROGRESS", Some("POST_PRODUCTION_TRAFFIC_SHIFT")),
            false,
            false,
            true,
        ),
        (at("IN_PROGRESS", Some("BAKE_TIME")), false, true, true),
        (at("IN_PROGRESS", Some("CLEAN_UP")), false, true, true),
        (paused, false, false, true),
        (at("SUCCESSFUL", Some("CLEAN_UP")), true, true, true),
        (
            at("ROLLBACK_IN_PROGRESS", Some("BAKE_TIME")),
            false,
            false,
            false,
        ),
        (at("ROLLBACK_SUCCESSFUL", None), false, false, false),
        (at("ROLLBACK_FAILED", None), false, false, false),
        (at("STOPPED", Some("CLEAN_UP")), false, false, false),
    ];
    for (v, steady, shifted, started) in table {
        assert_eq!(
            [
                WaitUntil::Steady,
                WaitUntil::TrafficShifted,
                WaitUntil::Started
            ]
            .map(|u| wait_satisfied(u, &v)),
            [steady, shifted, started],
            "{v:?}"
        );
    }
}
