use std::time::{Duration, UNIX_EPOCH};

use super::*;

fn t(secs: i64) -> SystemTime {
    let base = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    if secs >= 0 {
        base + Duration::from_secs(secs as u64)
    } else {
        base - Duration::from_secs((-secs) as u64)
    }
}

#[rustfmt::skip]
fn watch() -> Watch {
    Watch {
        our_deployment_id: "ecs-svc/new".into(),
        our_task_definition: "payments:42".into(),
        previous_task_definition: Some("payments:41".into()),
        started_at: t(0),
        deadline: t(1800),
        failed_task_threshold: 3,
    }
}

fn deployment(
    id: &str,
    status: &str,
    td: &str,
    running: u32,
    state: Option<&str>,
    created: i64,
) -> DeploymentView {
    DeploymentView {
        id: id.into(),
        status: status.into(),
        task_definition: td.into(),
        desired: 2,
        running,
        pending: 2 - running.min(2),
        failed_tasks: 0,
        rollout_state: state.map(Into::into),
        rollout_state_reason: None,
        created_at: Some(t(created)),
    }
}

fn event(id: &str, at: i64, message: &str) -> ServiceEvent {
    ServiceEvent {
        id: id.into(),
        created_at: t(at),
        message: message.into(),
    }
}

fn target(state: &str) -> TargetView {
    TargetView {
        target_id: "10.0.1.5".into(),
        port: Some(8080),
        state: state.into(),
        reason: None,
        description: None,
    }
}

/// Mid-rollout: ours PRIMARY with 1/2 running, the old deployment still serving, and two events
/// from before our start (one of which would fail us if it were ours).
#[rustfmt::skip]
fn base() -> ServiceSnapshot {
    ServiceSnapshot {
        service_name: "payments-api".into(),
        status: "ACTIVE".into(),
        desired_count: 2,
        running_count: 3,
        deployments: vec![
            deployment("ecs-svc/new", "PRIMARY", "payments:42", 1, Some("IN_PROGRESS"), 0),
            deployment("ecs-svc/old", "ACTIVE", "payments:41", 2, Some("COMPLETED"), -86_400),
        ],
        events: vec![
            event("e2", -10, "(service payments-api) has reached a steady state."),
            event("e1", -3600, "(service payments-api) was unable to place a task because no container instances met all of its requirements. Reason: No Container Instances were found in your cluster."),
        ],
        targets: None,
        probe: None,
        start_exits: None,
        service_deployment: None,
        observed_at: t(60),
    }
}

/// Our deployment done: COMPLETED, 2/2, the old one drained.
fn completed(s: &mut ServiceSnapshot) {
    let d = &mut s.deployments[0];
    d.rollout_state = Some("COMPLETED".into());
    (d.running, d.pending) = (2, 0);
    s.deployments.truncate(1);
}

fn ours(s: &mut ServiceSnapshot) -> &mut DeploymentView {
    &mut s.deployments[0]
}

/// The circuit breaker's rollback deployment, created after our start.
fn rollback_primary(s: &mut ServiceSnapshot, td: &str) {
    ours(s).status = "ACTIVE".into();
    ours(s).rollout_state = Some("FAILED".into());
    s.deployments.push(deployment(
        "ecs-svc/rb",
        "PRIMARY",
        td,
        0,
        Some("IN_PROGRESS"),
        50,
    ));
}

#[derive(Debug, PartialEq)]
enum Want {
    Pending,
    Healthy,
    Failed(FailureKind),
    TimedOut,
}

fn judge(s: &ServiceSnapshot) -> Want {
    match assess(&watch(), s) {
        Verdict::Pending { .. } => Want::Pending,
        Verdict::Healthy => Want::Healthy,
        Verdict::Failed(f) => Want::Failed(f.kind),
        Verdict::TimedOut { .. } => Want::TimedOut,
    }
}

type Edit = fn(&mut ServiceSnapshot);

#[test]
#[rustfmt::skip]
fn verdict_table() {
    use FailureKind as K;
    let rows: &[(&str, Edit, Want)] = &[
        ("in progress", |_| {}, Want::Pending),
        ("completed", completed, Want::Healthy),
        ("completed, old tasks listed but COMPLETED wins", |s| { completed(s); s.deployments.push(deployment("ecs-svc/old", "ACTIVE", "payments:41", 1, Some("COMPLETED"), -86_400)); }, Want::Healthy),
        ("targets all healthy", |s| { completed(s); s.targets = Some(vec![target("healthy"), target("healthy")]); }, Want::Healthy),
        ("target initial", |s| { completed(s); s.targets = Some(vec![target("healthy"), target("initial")]); }, Want::Pending),
        ("target unhealthy", |s| { completed(s); s.targets = Some(vec![target("unhealthy"), target("healthy")]); }, Want::Pending),
        ("target draining", |s| { completed(s); s.targets = Some(vec![target("draining")]); }, Want::Pending),
        ("no target registered yet", |s| { completed(s); s.targets = Some(vec![]); }, Want::Pending),
        ("probe below threshold", |s| { completed(s); s.probe = Some(ProbeView { consecutive_successes: 2, required: 3, last_error: None }); }, Want::Pending),
        ("probe reached threshold", |s| { completed(s); s.probe = Some(ProbeView { consecutive_successes: 3, required: 3, last_error: None }); }, Want::Healthy),
        ("no rollout state, settled", |s| { let d = ours(s); d.rollout_state = None; (d.running, d.pending) = (2, 0); s.deployments[1].running = 0; }, Want::Healthy),
        ("no rollout state, old still running", |s| { let d = ours(s); d.rollout_state = None; (d.running, d.pending) = (2, 0); }, Want::Pending),
        ("no rollout state, 1/2 running", |s| { ours(s).rollout_state = None; s.deployments[1].running = 0; }, Want::Pending),
        ("rollout FAILED", |s| { ours(s).rollout_state = Some("FAILED".into()); ours(s).rollout_state_reason = Some("ECS deployment circuit breaker: tasks failed to start.".into()); }, Want::Failed(K::RolloutFailed)),
        ("circuit breaker rolled back to previous", |s| rollback_primary(s, "payments:41"), Want::Failed(K::CircuitBreakerRolledBack)),
        ("FAILED with a rolling-back reason, still PRIMARY", |s| { ours(s).rollout_state = Some("FAILED".into()); ours(s).rollout_state_reason = Some("ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/old.".into()); }, Want::Failed(K::CircuitBreakerRolledBack)),
        ("our deployment gone, previous is PRIMARY again", |s| { rollback_primary(s, "payments:41"); s.deployments.remove(0); }, Want::Failed(K::CircuitBreakerRolledBack)),
        ("someone else deployed", |s| { rollback_primary(s, "payments:43"); s.deployments.remove(0); }, Want::Failed(K::Superseded)),
        ("stale read: ours not visible, old PRIMARY", |s| { s.deployments.remove(0); s.deployments[0].status = "PRIMARY".into(); }, Want::Pending),
        ("failed tasks reached threshold", |s| ours(s).failed_tasks = 3, Want::Failed(K::TasksFailing)),
        ("failed tasks below threshold", |s| ours(s).failed_tasks = 2, Want::Pending),
        ("service deleted", |s| s.status = "DRAINING".into(), Want::Failed(K::ServiceInactive)),
        ("event before our start ignored", |s| s.events.push(event("e0", -1, "(service payments-api) is unable to consistently start tasks successfully.")), Want::Pending),
        ("event stamped at our start counts", |s| s.events.push(event("e3", 0, "(service payments-api) is unable to consistently start tasks successfully.")), Want::Failed(K::TasksCannotStart)),
        ("event within its grace", |s| s.events.push(event("e3", 30, "service payments-api failed to launch a task with (error ECS was unable to assume the role 'arn:aws:iam::111122223333:role/x' that was provided for this task.)")), Want::Pending),
        ("event cleared: deployment reached desired", |s| { ours(s).running = 2; ours(s).pending = 0; s.events.push(event("e3", 1, "(service payments-api) is unable to consistently start tasks successfully.")); }, Want::Pending),
        ("timeout exactly at deadline", |s| s.observed_at = t(1800), Want::TimedOut),
        ("one second before deadline", |s| s.observed_at = t(1799), Want::Pending),
        ("failure beats timeout", |s| { s.observed_at = t(1900); ours(s).rollout_state = Some("FAILED".into()); }, Want::Failed(K::RolloutFailed)),
        ("healthy beats timeout", |s| { s.observed_at = t(1900); completed(s); }, Want::Healthy),
    ];
    for (what, edit, want) in rows {
        let mut s = base();
        edit(&mut s);
        assert_eq!(judge(&s), *want, "{what}: {:?}", assess(&watch(), &s));
    }
}

#[test]
#[rustfmt::skip]
fn every_recognised_event_names_its_cause() {
    use FailureKind as K;
    // (event text as ECS writes it, the cause, seconds the event has stood)
    let rows: &[(&str, K, i64)] = &[
        ("Unable to assume the service linked role. Please verify that the ECS service linked role exists.", K::ServiceLinkedRoleMissing, 0),
        ("service payments-api failed to launch a task with (error ECS was unable to assume the role 'arn:aws:iam::111122223333:role/payments-exec' that was provided for this task. Please verify that the role being passed has the proper trust relationship and permissions and that your IAM user has permissions to pass this role.).", K::TaskRoleNotAssumable, 60),
        ("service payments-api failed to launch a task with (error ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: AccessDeniedException).", K::SecretsOrRegistryAuth, 0),
        ("service payments-api failed to launch a task with (error CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref: not found).", K::ImagePull, 0),
        ("(service payments-api) was unable to place a task because no container instances met all of its requirements. The closest matching (container-instance 5a2f) encountered error \"RESOURCE:ENI\". For more information, see the Troubleshooting section.", K::NoFreeNetworkInterfaces, 120),
        ("(service payments-api) failed to launch a task: subnet subnet-0a1b does not have enough free addresses to create a network interface.", K::NoFreeIpAddresses, 120),
        ("(service payments-api) was unable to place a task because no container instances met all of its requirements. Reason: No Container Instances were found in your cluster.", K::NoContainerInstances, 0),
        ("(service payments-api) was unable to place a task because no container instances met all of its requirements. The closest matching (container-instance 5a2f) has insufficient memory available.", K::InsufficientCapacity, 180),
        ("(service payments-api) was unable to place a task because no container instance met all of its requirements. The closest matching (container-instance 5a2f) has insufficient CPU units available.", K::InsufficientCapacity, 180),
        ("(service payments-api) was unable to place a task. Reason: Capacity is unavailable at this time. Please try again later or in a different availability zone.", K::InsufficientCapacity, 300),
        ("(service payments-api) was unable to place a task. Reason: You've reached the limit on the number of tasks you can run concurrently.", K::QuotaReached, 0),
        ("(service payments-api) is unable to consistently start tasks successfully.", K::TasksCannotStart, 0),
    ];
    for (text, kind, stood) in rows {
        let mut s = base();
        s.events.insert(0, event("ev", 10, text));
        s.observed_at = t(10 + stood);
        let Verdict::Failed(f) = assess(&watch(), &s) else { panic!("{text}: {:?}", assess(&watch(), &s)) };
        assert_eq!(f.kind, *kind, "{text}");
        assert_eq!(f.evidence.as_deref(), Some(*text));
        assert!(f.hint.is_some() && f.reason.starts_with("payments:42: "), "{f:?}");
        assert!(f.kind.needs_rollback());
        if *stood > 0 {
            s.observed_at = t(9 + stood);
            assert_eq!(judge(&s), Want::Pending, "{text}: grace");
        }
    }
    assert!(!FailureKind::CircuitBreakerRolledBack.needs_rollback());
    assert!(!FailureKind::Superseded.needs_rollback());
}

#[test]
fn messages_say_what_happened() {
    let mut s = base();
    rollback_primary(&mut s, "payments:41");
    let Verdict::Failed(f) = assess(&watch(), &s) else {
        panic!()
    };
    assert_eq!(
        f.reason,
        "ECS's deployment circuit breaker failed deployment ecs-svc/new and rolled payments-api back to payments:41"
    );

    let mut s = base();
    ours(&mut s).failed_tasks = 4;
    let Verdict::Failed(f) = assess(&watch(), &s) else {
        panic!()
    };
    assert_eq!(
        f.reason,
        "4 tasks of payments:42 failed to start or to stay running (the limit is 3)"
    );

    let mut s = base();
    completed(&mut s);
    s.observed_at = t(1800);
    s.targets = Some(vec![
        TargetView {
            reason: Some("Target.ResponseCodeMismatch".into()),
            description: Some("Health checks failed with these codes: [502]".into()),
            ..target("unhealthy")
        },
        target("healthy"),
    ]);
    s.probe = Some(ProbeView {
        consecutive_successes: 0,
        required: 3,
        last_error: Some("connection refused".into()),
    });
    assert_eq!(assess(&watch(), &s), Verdict::TimedOut {
        waiting_for: "targets 1/2 healthy: 10.0.1.5:8080 unhealthy (Target.ResponseCodeMismatch: Health checks failed with these codes: [502]); probe 0/3 consecutive successes (last: connection refused)".into(),
    });

    let mut s = base();
    s.observed_at = t(1800);
    assert_eq!(
        assess(&watch(), &s),
        Verdict::TimedOut {
            waiting_for: "rollout IN_PROGRESS (1/2 tasks of payments:42 running)".into()
        }
    );
}

#[test]
fn progress_line() {
    let mut s = base();
    assert_eq!(
        progress(&watch(), &s),
        "payments-api: 1/2 running, 1 pending, rollout IN_PROGRESS"
    );
    ours(&mut s).failed_tasks = 1;
    s.targets = Some(vec![target("healthy"), target("initial")]);
    s.probe = Some(ProbeView {
        consecutive_successes: 1,
        required: 3,
        last_error: None,
    });
    assert_eq!(
        progress(&watch(), &s),
        "payments-api: 1/2 running, 1 pending, 1 failed, rollout IN_PROGRESS; targets 1/2 healthy; probe 1/3"
    );
    assert_eq!(
        assess(&watch(), &s),
        Verdict::Pending {
            progress: progress(&watch(), &s)
        }
    );
    s.deployments.remove(0);
    assert_eq!(
        progress(&watch(), &s),
        "payments-api: waiting for deployment ecs-svc/new (payments:42) to appear"
    );
}

#[test]
fn new_events_are_the_unseen_ones_oldest_first() {
    let mut s = base();
    s.events.insert(
        0,
        event(
            "e4",
            40,
            "(service payments-api) has started 1 tasks: (task 9f2c).",
        ),
    );
    s.events.insert(
        0,
        event(
            "e5",
            50,
            "(service payments-api) registered 1 targets in (target-group tg)",
        ),
    );
    // Same timestamp: the one listed later (older in DescribeServices' order) comes first.
    s.events.insert(
        0,
        event(
            "e6",
            50,
            "(service payments-api) has reached a steady state.",
        ),
    );
    let seen: HashSet<String> = ["e1", "e2"].into_iter().map(String::from).collect();
    let ids: Vec<&str> = new_events(&seen, &s)
        .iter()
        .map(|e| e.id.as_str())
        .collect();
    assert_eq!(ids, ["e4", "e5", "e6"]);
    let all: Vec<&str> = new_events(&HashSet::new(), &s)
        .iter()
        .map(|e| e.id.as_str())
        .collect();
    assert_eq!(all, ["e1", "e2", "e4", "e5", "e6"]);
}
