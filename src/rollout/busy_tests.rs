//! Tables for `when-busy`: what counts as a deployment in progress, and what each mode does.

use std::time::{Duration, SystemTime};

use super::*;
use crate::rollout::plan::tests::service;

fn deployment(id: &str, status: &str, state: Option<&str>) -> DeploymentView {
    DeploymentView {
        id: id.into(),
        status: status.into(),
        task_definition: format!("arn:aws:ecs:us-east-1:1:task-definition/app:{}", &id[8..]),
        desired: 2,
        running: 1,
        pending: 1,
        failed_tasks: 0,
        rollout_state: state.map(str::to_owned),
        rollout_state_reason: None,
        created_at: Some(SystemTime::UNIX_EPOCH),
    }
}

fn service_deployment(status: &str) -> ServiceDeploymentSnapshot {
    ServiceDeploymentSnapshot {
        arn: "arn:sd/1".into(),
        status: status.into(),
        ..ServiceDeploymentSnapshot::default()
    }
}

/// (case, deployments[], the service deployment's status, the deployment reported busy).
type Case = (
    &'static str,
    Vec<DeploymentView>,
    Option<&'static str>,
    Option<&'static str>,
);

#[test]
fn what_counts_as_a_deployment_in_progress() {
    let done = deployment("ecs-svc/1", "PRIMARY", Some("COMPLETED"));
    let rolling = deployment("ecs-svc/2", "PRIMARY", Some("IN_PROGRESS"));
    let old = deployment("ecs-svc/1", "ACTIVE", Some("COMPLETED"));
    let failed = deployment("ecs-svc/2", "PRIMARY", Some("FAILED"));
    let legacy_new = deployment("ecs-svc/2", "PRIMARY", None);
    let legacy_old = deployment("ecs-svc/1", "ACTIVE", None);
    let cases: Vec<Case> = vec![
        ("settled", vec![done.clone()], None, None),
        (
            "settled, service deployment done",
            vec![done.clone()],
            Some("SUCCESSFUL"),
            None,
        ),
        (
            "rolling out",
            vec![rolling.clone(), old.clone()],
            None,
            Some("ecs-svc/2"),
        ),
        (
            "a failed deployment ECS gave up on",
            vec![failed, old.clone()],
            None,
            None,
        ),
        (
            "two deployments without rollout states",
            vec![legacy_new, legacy_old],
            None,
            Some("ecs-svc/2"),
        ),
        (
            "one deployment without a rollout state",
            vec![deployment("ecs-svc/1", "PRIMARY", None)],
            None,
            None,
        ),
        (
            "deployments[] settled, service deployment baking",
            vec![done.clone()],
            Some("IN_PROGRESS"),
            Some("ecs-svc/1"),
        ),
        (
            "ECS rolling back",
            vec![done.clone()],
            Some("ROLLBACK_IN_PROGRESS"),
            Some("ecs-svc/1"),
        ),
        (
            "accepted, not started",
            vec![done],
            Some("PENDING"),
            Some("ecs-svc/1"),
        ),
    ];
    for (name, deployments, sd, want) in cases {
        let s = ServiceState {
            deployments,
            ..service("web")
        };
        let sd = sd.map(service_deployment);
        let got = busy(&s, sd.as_ref());
        assert_eq!(
            got.as_ref().and_then(|b| b.deployment_id.as_deref()),
            want,
            "{name}: {got:?}"
        );
        assert_eq!(got.is_some(), want.is_some(), "{name}");
    }
}

#[test]
fn the_description_names_the_deployment_its_revision_and_who_registered_it() {
    let s = ServiceState {
        deployments: vec![
            deployment("ecs-svc/2", "PRIMARY", Some("IN_PROGRESS")),
            deployment("ecs-svc/1", "ACTIVE", Some("COMPLETED")),
        ],
        ..service("web")
    };
    let sd = service_deployment("IN_PROGRESS");
    let b = busy(&s, Some(&sd)).unwrap();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(40);
    assert_eq!(
        b.describe(
            Some("arn:aws:sts::1:assumed-role/deploy/gha-shop-77-1"),
            now
        ),
        "deployment ecs-svc/2 of app:2 (1/2 running, started 40 s ago; service deployment arn:sd/1 IN_PROGRESS; its revision registered by arn:aws:sts::1:assumed-role/deploy/gha-shop-77-1)"
    );
    assert!(
        b.describe(None, now)
            .ends_with("ECS does not say who started it)")
    );
    assert_eq!(b.key(), (Some("ecs-svc/2"), Some("IN_PROGRESS")));
}

#[test]
fn each_mode_goes_waits_or_refuses() {
    let s = ServiceState {
        deployments: vec![deployment("ecs-svc/2", "PRIMARY", Some("IN_PROGRESS"))],
        ..service("web")
    };
    let one = vec![busy(&s, None).unwrap()];
    let t0 = SystemTime::UNIX_EPOCH;
    let deadline = t0 + Duration::from_secs(60);
    let late = deadline + Duration::from_secs(1);
    let cases = [
        (WhenBusy::Wait, vec![], t0, Step::Go),
        (WhenBusy::Refuse, vec![], t0, Step::Go),
        (WhenBusy::Wait, one.clone(), t0, Step::Wait),
        (WhenBusy::Wait, one.clone(), deadline, Step::Refuse),
        (WhenBusy::Wait, one.clone(), late, Step::Refuse),
        (WhenBusy::Refuse, one.clone(), t0, Step::Refuse),
        (WhenBusy::Replace, one.clone(), t0, Step::Go),
    ];
    for (when, b, now, want) in cases {
        assert_eq!(
            next_step(when, &b, now, deadline),
            want,
            "{when:?} at {now:?}"
        );
    }
}

#[test]
fn the_input_parses_its_three_words_only() {
    assert_eq!(WhenBusy::parse("wait"), Some(WhenBusy::Wait));
    assert_eq!(WhenBusy::parse(" refuse "), Some(WhenBusy::Refuse));
    assert_eq!(WhenBusy::parse("replace"), Some(WhenBusy::Replace));
    for bad in ["", "Wait", "queue", "true"] {
        assert_eq!(WhenBusy::parse(bad), None, "{bad}");
    }
    for w in [WhenBusy::Wait, WhenBusy::Refuse, WhenBusy::Replace] {
        assert_eq!(WhenBusy::parse(w.name()), Some(w));
    }
    assert_eq!(WhenBusy::default(), WhenBusy::Wait);
    assert_eq!(bound(Duration::from_secs(1800)), "30 min");
    assert_eq!(bound(Duration::from_secs(90)), "90 s");
}
