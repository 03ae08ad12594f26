//! Tables for the plan: refusals, warnings, thresholds, and registering once or not at all.

use serde_json::json;

use super::*;

fn service(name: &str) -> ServiceState {
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
    }
}

fn active() -> ClusterInfo {
    ClusterInfo {
        arn: "arn:aws:ecs:us-east-1:1:cluster/c".into(),
        status: "ACTIVE".into(),
        container_instances: 0,
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
        ..active()
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

    let plan = decide(&new, &[(&a, &old), (&a, &old)], false);
    assert_eq!(plan.registration, Registration::Register(new.clone()));
    assert!(plan.services.iter().all(|s| s.update && !s.diff.is_empty()));

    let plan = decide(&new, &[(&a, &old), (&b, &new)], false);
    assert_eq!(
        plan.registration,
        Registration::Reuse(b.task_definition.clone())
    );
    assert_eq!(
        plan.services.iter().map(|s| s.update).collect::<Vec<_>>(),
        [true, false]
    );

    let plan = decide(&new, &[(&b, &new)], false);
    assert!(plan.nothing_to_do());
    assert!(!decide(&new, &[(&b, &new)], true).nothing_to_do());
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
