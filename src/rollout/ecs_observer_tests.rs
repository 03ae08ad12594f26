//! `TaskMemory`: which task lists and target health a poll must ask for, given what the last
//! polls learned. Pure: ServiceState and TaskView values in, decisions out.

use super::*;
use crate::rollout::assess::DeploymentView;
use crate::rollout::ecs_api::{ContainerView, LoadBalancerRef};

const OURS: &str = "ecs-svc/new";

/// A service whose deployment `OURS` has these counts; behind one target group when `lb`.
fn service(
    running: u32,
    pending: u32,
    failed: u32,
    lb: bool,
    breaker_rolls_back: bool,
) -> ServiceState {
    ServiceState {
        name: "api".into(),
        arn: "arn:aws:ecs:us-east-1:1:service/c/api".into(),
        status: "ACTIVE".into(),
        desired_count: 2,
        running_count: running,
        task_definition: "app:2".into(),
        launch_type: Some("FARGATE".into()),
        capacity_providers: vec![],
        deployment_controller: "ECS".into(),
        minimum_healthy_percent: Some(100),
        circuit_breaker: breaker_rolls_back,
        circuit_breaker_rollback: breaker_rolls_back,
        subnets: vec![],
        load_balancers: if lb {
            vec![LoadBalancerRef {
                target_group_arn: "tg".into(),
                container_name: None,
                container_port: None,
            }]
        } else {
            vec![]
        },
        deployments: vec![DeploymentView {
            id: OURS.into(),
            status: "PRIMARY".into(),
            task_definition: "app:2".into(),
            desired: 2,
            running,
            pending,
            failed_tasks: failed,
            rollout_state: Some("IN_PROGRESS".into()),
            rollout_state_reason: None,
            created_at: None,
        }],
        events: vec![],
        current_service_deployment: None,
        ecs_rolls_back: vec![],
    }
}

fn task(id: &str, stop_code: Option<&str>, exit: Option<i32>, ip: &str) -> TaskView {
    TaskView {
        arn: id.into(),
        task_definition: "app:2".into(),
        started_by: Some(OURS.into()),
        health_status: Some("UNKNOWN".into()),
        private_ips: vec![ip.into()],
        stopped_reason: None,
        stop_code: stop_code.map(str::to_owned),
        containers: vec![ContainerView {
            name: "app".into(),
            exit_code: exit,
            reason: None,
        }],
    }
}

fn target(ip: &str, state: &str) -> TargetView {
    TargetView {
        target_id: ip.into(),
        port: Some(80),
        state: state.into(),
        reason: None,
        description: None,
    }
}

#[test]
fn lists_tasks_only_when_the_counts_that_need_them_change() {
    use TaskStatus::{Running, Stopped};
    // (name, polls of (running, pending, failed, lb, breaker rolls back), lists asked at the last)
    type Poll = (u32, u32, u32, bool, bool);
    #[rustfmt::skip]
    let cases: [(&str, Vec<Poll>, Vec<TaskStatus>); 8] = [
        ("starting, no failure, no LB", vec![(0, 2, 0, false, false)], vec![]),
        ("first failure", vec![(0, 2, 0, false, false), (0, 1, 1, false, false)], vec![Stopped]),
        ("same failed count again", vec![(0, 1, 1, false, false), (0, 1, 1, false, false)], vec![]),
        ("more failures", vec![(0, 1, 1, false, false), (0, 0, 3, false, false)], vec![Stopped]),
        ("ECS's breaker rolls back: exits are its business", vec![(0, 0, 3, false, true)], vec![]),
        ("all running behind a LB", vec![(1, 1, 0, true, false), (2, 0, 0, true, false)], vec![Running]),
        ("all running, unchanged", vec![(2, 0, 0, true, false), (2, 0, 0, true, false)], vec![]),
        ("half running behind a LB", vec![(1, 1, 0, true, false)], vec![]),
    ];
    for (name, polls, want) in cases {
        let mut memory = TaskMemory::default();
        let mut asked = Vec::new();
        for (running, pending, failed, lb, cb) in polls {
            asked = memory.update(&service(running, pending, failed, lb, cb), OURS);
            // What was asked is then learned (nothing of ours in the lists here).
            for status in &asked {
                memory.learn(*status, &[]);
            }
        }
        assert_eq!(asked, want, "{name}");
    }
}

#[test]
fn another_deployment_asks_nothing() {
    let mut memory = TaskMemory::default();
    assert!(
        memory
            .update(&service(0, 0, 5, true, false), "ecs-svc/other")
            .is_empty()
    );
    assert!(!memory.wants_targets());
}

#[test]
fn target_health_is_asked_once_all_run_and_not_again_while_healthy() {
    let mut memory = TaskMemory::default();
    memory.update(&service(1, 1, 0, true, false), OURS);
    assert!(!memory.wants_targets(), "not before every task runs");
    memory.update(&service(2, 0, 0, true, false), OURS);
    assert!(memory.wants_targets());
    memory.set_targets(vec![
        target("10.0.0.1", "initial"),
        target("10.0.0.2", "healthy"),
    ]);
    memory.update(&service(2, 0, 0, true, false), OURS);
    assert!(memory.wants_targets(), "one target still initial");
    memory.set_targets(vec![
        target("10.0.0.1", "healthy"),
        target("10.0.0.2", "healthy"),
    ]);
    memory.update(&service(2, 0, 0, true, false), OURS);
    assert!(!memory.wants_targets(), "healthy at unchanged counts");
    memory.update(&service(2, 0, 1, true, false), OURS);
    assert!(memory.wants_targets(), "the counts moved: ask again");
}

#[test]
fn stopped_tasks_feed_the_crash_loop_rule() {
    let mut memory = TaskMemory::default();
    memory.update(&service(0, 0, 2, false, false), OURS);
    let a = task("t1", Some("EssentialContainerExited"), Some(1), "10.0.0.1");
    let b = task("t2", Some("EssentialContainerExited"), Some(1), "10.0.0.2");
    memory.learn(TaskStatus::Stopped, &[&a, &b]);
    let exits = memory
        .start_exits()
        .expect("the rule applies without ECS's rollback");
    assert_eq!(exits.stopped.len(), 2);
    assert_eq!(exits.stopped[0].exit_code, Some(1));
    assert!(!exits.any_healthy);
    assert!(crate::rollout::crashloop::crash_loop(&exits).is_some());

    let mut healthy_once = memory.clone();
    healthy_once.set_targets(vec![target("10.0.0.3", "healthy")]);
    assert!(healthy_once.start_exits().is_some_and(|e| e.any_healthy));

    let mut ecs_rolls_back = TaskMemory::default();
    ecs_rolls_back.update(&service(0, 0, 2, false, true), OURS);
    assert_eq!(ecs_rolls_back.start_exits(), None);
}

#[test]
fn targets_are_ours_by_ip_or_all_but_draining_without_ips() {
    let all = [
        target("10.0.0.1", "healthy"),
        target("10.0.0.9", "draining"),
        target("10.0.0.2", "initial"),
    ];
    let ids = |v: Vec<TargetView>| v.into_iter().map(|t| t.target_id).collect::<Vec<_>>();
    assert_eq!(ids(ours(&all, &["10.0.0.2".into()])), ["10.0.0.2"]);
    assert_eq!(ids(ours(&all, &[])), ["10.0.0.1", "10.0.0.2"]);
}
