//! Tables for the plan: refusals, warnings, thresholds, and registering once or not at all.

use serde_json::{Value, json};

use super::*;

/// A healthy FARGATE service of two tasks (the busy tables start from it too).
pub(crate) fn service(name: &str) -> ServiceState {
    ServiceState {
        name: name.into(),
        arn: format!("arn:aws:ecs:us-east-1:1:service/c/{name}"),
        status: "ACTIVE".into(),
        desired_count: 2,
        running_count: 2,
        task_definition: "arn:aws:ecs:us-east-1:1:task-definition/app:1".into(),
        launch_type: Some("FARGATE".into()),
        capacity_providers: vec![],
        deployment_controller: "ECS".into(),
        minimum_healthy_percent: Some(100),
        circuit_breaker: false,
        circuit_breaker_rollback: false,
        subnets: vec!["subnet-a".into(), "subnet-b".into()],
        load_balancers: vec![],
        deployments: vec![],
        events: vec![],
        current_service_deployment: None,
        ecs_rolls_back: vec![],
    }
}

fn active() -> ClusterInfo {
    ClusterInfo {
        status: "ACTIVE".into(),
    }
}

#[test]
fn refusals_name_the_cause() {
    let ok = service("api");
    let code_deploy = ServiceState {
        deployment_controller: "CODE_DEPLOY".into(),
        ..service("cd")
    };
    let ec2 = ServiceState {
        launch_type: Some("EC2".into()),
        ..service("ec2")
    };
    let classic = ServiceState {
        launch_type: None,
        ..service("classic")
    };
    let spot = ServiceState {
        launch_type: None,
        capacity_providers: vec!["FARGATE_SPOT".into()],
        ..service("spot")
    };
    let draining = ServiceState {
        status: "DRAINING".into(),
        ..service("old")
    };
    let inactive = ClusterInfo {
        status: "INACTIVE".into(),
    };

    assert_eq!(
        refusals("c", None, std::slice::from_ref(&ok), &[], true),
        [Refusal::ClusterMissing("c".into())]
    );
    assert!(matches!(
        refusals("c", Some(&inactive), std::slice::from_ref(&ok), &[], true)[..],
        [Refusal::ClusterInactive { .. }]
    ));
    assert_eq!(
        refusals("c", Some(&active()), &[ok.clone(), spot], &[], false),
        []
    );
    assert_eq!(
        refusals(
            "c",
            Some(&active()),
            std::slice::from_ref(&ok),
            &["gone".into()],
            true
        ),
        [Refusal::ServiceMissing {
            cluster: "c".into(),
            service: "gone".into()
        }]
    );
    assert!(
        matches!(&refusals("c", Some(&active()), &[code_deploy], &[], true)[..], [Refusal::DeploymentController { controller, .. }] if controller == "CODE_DEPLOY")
    );
    assert_eq!(
        refusals(
            "c",
            Some(&active()),
            &[ec2.clone(), classic.clone()],
            &[],
            false
        )
        .len(),
        2
    );
    assert_eq!(
        refusals("c", Some(&active()), &[ec2, classic], &[], true),
        []
    );
    assert!(matches!(
        refusals("c", Some(&active()), &[draining], &[], true)[..],
        [Refusal::ServiceInactive { .. }]
    ));
}

#[test]
fn warnings_for_downtime_and_one_subnet() {
    assert!(warnings(&service("api")).is_empty());
    let single = ServiceState {
        desired_count: 1,
        minimum_healthy_percent: Some(0),
        subnets: vec!["subnet-a".into()],
        ..service("api")
    };
    let w = warnings(&single);
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].contains("minimumHealthyPercent is 0 with one task"));
    assert!(w[1].contains("one subnet (subnet-a)"));
}

#[test]
fn threshold_follows_the_circuit_breaker() {
    assert_eq!(failed_task_threshold(&service("a")), 3);
    assert_eq!(
        failed_task_threshold(&ServiceState {
            desired_count: 20,
            ..service("a")
        }),
        10
    );
    assert_eq!(
        failed_task_threshold(&ServiceState {
            desired_count: 1000,
            ..service("a")
        }),
        200
    );
    assert_eq!(
        failed_task_threshold(&ServiceState {
            circuit_breaker: true,
            circuit_breaker_rollback: true,
            ..service("a")
        }),
        5
    );
}

fn input<'a>(state: &'a ServiceState, serving: &'a Value, rendered: &'a Value) -> ServiceInput<'a> {
    ServiceInput {
        state,
        serving,
        rendered,
    }
}

#[test]
fn registers_once_reuses_an_identical_revision_and_skips_what_is_current() {
    let old =
        json!({"family": "app", "containerDefinitions": [{"name": "api", "image": "r/app:1"}]});
    let new = json!({"family": "app", "containerDefinitions": [{"name": "api", "image": "r/app@sha256:aa"}]});
    let (a, b) = (
        service("a"),
        ServiceState {
            task_definition: "arn:...:task-definition/app:2".into(),
            ..service("b")
        },
    );
    let known_old = [(a.task_definition.as_str(), &old)];
    let known_both = [
        (a.task_definition.as_str(), &old),
        (b.task_definition.as_str(), &new),
    ];

    let plan = decide(
        &[input(&a, &old, &new), input(&a, &old, &new)],
        &known_old,
        false,
    );
    assert_eq!(plan.registrations, [Registration::Register(new.clone())]);
    assert!(
        plan.services
            .iter()
            .all(|s| s.update && !s.diff.is_empty() && s.registration == 0)
    );
    assert!(plan.registers());

    let plan = decide(
        &[input(&a, &old, &new), input(&b, &new, &new)],
        &known_both,
        false,
    );
    assert_eq!(
        plan.registrations,
        [Registration::Reuse(b.task_definition.clone())]
    );
    assert_eq!(
        plan.services.iter().map(|s| s.update).collect::<Vec<_>>(),
        [true, false]
    );

    // A re-run after a rollback: the family's latest revision is the one it would register.
    let latest = [
        (a.task_definition.as_str(), &old),
        ("arn:...:task-definition/app:3", &new),
    ];
    let plan = decide(&[input(&a, &old, &new)], &latest, false);
    assert_eq!(
        plan.registrations,
        [Registration::Reuse("arn:...:task-definition/app:3".into())]
    );
    assert!(!plan.registers());

    let plan = decide(&[input(&b, &new, &new)], &known_both, false);
    assert!(plan.nothing_to_do());
    assert!(!decide(&[input(&b, &new, &new)], &known_both, true).nothing_to_do());
}

#[test]
fn each_family_gets_its_own_registration() {
    let api_old = json!({"family": "api", "containerDefinitions": [{"name": "app", "image": "r/app:1", "command": ["serve"]}]});
    let api_new = json!({"family": "api", "containerDefinitions": [{"name": "app", "image": "r/app@sha256:aa", "command": ["serve"]}]});
    let worker_old = json!({"family": "worker", "containerDefinitions": [{"name": "app", "image": "r/app:1", "command": ["work"]}]});
    let worker_new = json!({"family": "worker", "containerDefinitions": [{"name": "app", "image": "r/app@sha256:aa", "command": ["work"]}]});
    let (api, worker) = (
        service("api"),
        ServiceState {
            task_definition: "arn:...:task-definition/worker:9".into(),
            ..service("worker")
        },
    );
    let known = [
        (api.task_definition.as_str(), &api_old),
        (worker.task_definition.as_str(), &worker_old),
    ];
    let plan = decide(
        &[
            input(&api, &api_old, &api_new),
            input(&worker, &worker_old, &worker_new),
        ],
        &known,
        false,
    );
    assert_eq!(
        plan.registrations,
        [
            Registration::Register(api_new.clone()),
            Registration::Register(worker_new.clone())
        ]
    );
    assert_eq!(
        plan.services
            .iter()
            .map(|s| (s.family.as_str(), s.registration))
            .collect::<Vec<_>>(),
        [("api", 0), ("worker", 1)]
    );
    assert_eq!(plan.registrations[1].family(), "worker");
    assert_eq!(
        Registration::Reuse("arn:aws:ecs:r:1:task-definition/worker:9".into()).family(),
        "worker"
    );
}

#[test]
fn an_unchanged_service_is_watched_on_its_primary_deployment() {
    let view = |id: &str, status: &str| crate::rollout::DeploymentView {
        id: id.into(),
        status: status.into(),
        task_definition: "td/app:2".into(),
        desired: 2,
        running: 2,
        pending: 0,
        failed_tasks: 0,
        rollout_state: Some("COMPLETED".into()),
        rollout_state_reason: None,
        created_at: Some(std::time::SystemTime::UNIX_EPOCH),
    };
    let mut s = service("api");
    s.deployments = vec![view("ecs-svc/1", "ACTIVE"), view("ecs-svc/2", "PRIMARY")];
    let now = std::time::SystemTime::now();
    let w = primary_watch(&s, "td/app:2", None, now, now);
    assert_eq!(w.our_deployment_id, "ecs-svc/2");
    assert_eq!(w.started_at, std::time::SystemTime::UNIX_EPOCH);
    assert_eq!(w.previous_task_definition, None);
    assert_eq!(w.failed_task_threshold, 3);
}

#[test]
fn rollback_returns_to_the_last_completed_deployment() {
    let view = |id: &str, status: &str, td: &str, state: &str| crate::rollout::DeploymentView {
        id: id.into(),
        status: status.into(),
        task_definition: td.into(),
        desired: 2,
        running: 0,
        pending: 0,
        failed_tasks: 0,
        rollout_state: Some(state.into()),
        rollout_state_reason: None,
        created_at: None,
    };
    let mut s = service("api");
    assert_eq!(rollback_target(&s), s.task_definition);
    s.task_definition = "td/app:2".into();
    s.deployments = vec![
        view("ecs-svc/2", "PRIMARY", "td/app:2", "IN_PROGRESS"),
        view("ecs-svc/1", "ACTIVE", "td/app:1", "COMPLETED"),
    ];
    assert_eq!(rollback_target(&s), "td/app:1");
    assert!(warnings(&s)[0].contains("ecs-svc/2 of app:2 is still in progress"));
}

#[test]
fn a_strategy_refusal_is_a_plan_refusal_with_its_own_words_and_hint() {
    use crate::rollout::strategy_plan::StrategyRefusal;
    let s = StrategyRefusal::NoTrafficRouting {
        service: "web".into(),
        strategy: "CANARY".into(),
    };
    let r = Refusal::from(s.clone());
    assert_eq!(r.to_string(), s.to_string());
    assert_eq!(r.hint(), s.hint());
}
