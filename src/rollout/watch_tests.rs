//! The poll loop against a fake clock and scripted snapshots: no sleeping, no network.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use super::*;
use crate::rollout::assess::{DeploymentView, FailureKind, ServiceEvent};

struct FakeClock {
    now: Cell<SystemTime>,
    slept: RefCell<Vec<Duration>>,
}

impl FakeClock {
    fn new() -> FakeClock {
        FakeClock {
            now: Cell::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000)),
            slept: RefCell::new(Vec::new()),
        }
    }
}

impl Clock for FakeClock {
    fn now(&self) -> SystemTime {
        self.now.get()
    }

    async fn sleep(&self, d: Duration) {
        self.slept.borrow_mut().push(d);
        self.now.set(self.now.get() + d);
    }
}

/// Poll n (0-based) of service s: `script(n, s)`; observed at the fake clock's now.
struct Scripted<'a, F: Fn(usize, &str) -> (String, u32, u32, Vec<(&'static str, &'static str)>)> {
    clock: &'a FakeClock,
    polls: usize,
    script: F,
}

impl<F: Fn(usize, &str) -> (String, u32, u32, Vec<(&'static str, &'static str)>)> Observe
    for Scripted<'_, F>
{
    async fn observe(&mut self, watched: &[&Watched]) -> Result<Vec<ServiceSnapshot>, ApiError> {
        let n = self.polls;
        self.polls += 1;
        Ok(watched
            .iter()
            .map(|w| {
                let (state, running, failed, events) = (self.script)(n, &w.service);
                ServiceSnapshot {
                    service_name: w.service.clone(),
                    status: "ACTIVE".into(),
                    desired_count: 2,
                    running_count: running,
                    deployments: vec![DeploymentView {
                        id: "ecs-svc/new".into(),
                        status: "PRIMARY".into(),
                        task_definition: "app:2".into(),
                        desired: 2,
                        running,
                        pending: 2 - running,
                        failed_tasks: failed,
                        rollout_state: Some(state),
                        rollout_state_reason: None,
                        created_at: Some(start()),
                    }],
                    events: events
                        .into_iter()
                        .map(|(id, m)| ServiceEvent {
                            id: id.into(),
                            created_at: start() + Duration::from_secs(1),
                            message: m.into(),
                        })
                        .collect(),
                    targets: None,
                    probe: None,
                    start_exits: None,
                    service_deployment: None,
                    observed_at: self.clock.now(),
                }
            })
            .collect())
    }
}

#[derive(Default)]
struct Printed {
    progress: Vec<String>,
    events: Vec<String>,
}

impl Report for Printed {
    fn progress(&mut self, line: &str) {
        self.progress.push(line.to_owned());
    }
    fn events(&mut self, service: &str, messages: &[String]) {
        self.events
            .extend(messages.iter().map(|m| format!("{service}: {m}")));
    }
}

fn start() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000)
}

fn watched(service: &str, wait: Duration) -> Watched {
    let watch = Watch {
        our_deployment_id: "ecs-svc/new".into(),
        our_task_definition: "app:2".into(),
        previous_task_definition: Some("app:1".into()),
        started_at: start(),
        deadline: start() + wait,
        failed_task_threshold: 3,
    };
    Watched::new(service, watch, HashSet::from(["old".to_owned()]))
}

#[tokio::test]
async fn prints_only_changes_and_ends_healthy() {
    let clock = FakeClock::new();
    let mut observer = Scripted {
        clock: &clock,
        polls: 0,
        script: |n, _| match n {
            0 | 1 => (
                "IN_PROGRESS".into(),
                0,
                0,
                vec![("old", "before"), ("e1", "started 2 tasks")],
            ),
            2 => ("IN_PROGRESS".into(), 1, 0, vec![("e1", "started 2 tasks")]),
            _ => ("COMPLETED".into(), 2, 0, vec![("e2", "steady state")]),
        },
    };
    let mut printed = Printed::default();
    let mut w = [watched("api", Duration::from_secs(600))];
    let mut interval = PollInterval::adaptive();
    let verdicts = wait(&clock, &mut observer, &mut printed, &mut w, &mut interval)
        .await
        .unwrap();
    assert_eq!(verdicts, [Verdict::Healthy]);
    assert_eq!(
        printed.events,
        ["api: started 2 tasks", "api: steady state"]
    );
    assert_eq!(
        printed.progress,
        [
            "api: 0/2 running, 2 pending, rollout IN_PROGRESS",
            "api: 1/2 running, 1 pending, rollout IN_PROGRESS"
        ]
    );
    let secs: Vec<f64> = clock
        .slept
        .borrow()
        .iter()
        .map(Duration::as_secs_f64)
        .collect();
    assert_eq!(secs, [2.0, 3.0, 4.5]);
}

#[tokio::test]
async fn times_out_on_the_fake_clock_without_sleeping() {
    let clock = FakeClock::new();
    let mut observer = Scripted {
        clock: &clock,
        polls: 0,
        script: |_, _| ("IN_PROGRESS".into(), 1, 0, vec![]),
    };
    let mut printed = Printed::default();
    let mut w = [watched("api", Duration::from_secs(60))];
    let real = std::time::Instant::now();
    let verdicts = wait(
        &clock,
        &mut observer,
        &mut printed,
        &mut w,
        &mut PollInterval::adaptive(),
    )
    .await
    .unwrap();
    assert!(
        matches!(&verdicts[0], Verdict::TimedOut { waiting_for } if waiting_for.contains("1/2"))
    );
    assert!(clock.now() >= start() + Duration::from_secs(60));
    // A real sleep through the simulated minute would take a minute; a loaded machine does not
    // take a tenth of that to run a fake-clock loop.
    assert!(real.elapsed() < Duration::from_secs(6));
    assert_eq!(printed.progress.len(), 1, "{:?}", printed.progress);
}

#[tokio::test]
async fn one_failing_service_ends_the_wait_for_all() {
    let clock = FakeClock::new();
    let mut observer = Scripted {
        clock: &clock,
        polls: 0,
        script: |n, s| match (s, n) {
            ("bad", 1..) => ("IN_PROGRESS".into(), 0, 3, vec![]),
            _ => ("IN_PROGRESS".into(), 1, 0, vec![]),
        },
    };
    let mut printed = Printed::default();
    let mut w = [
        watched("good", Duration::from_secs(600)),
        watched("bad", Duration::from_secs(600)),
    ];
    let verdicts = wait(
        &clock,
        &mut observer,
        &mut printed,
        &mut w,
        &mut PollInterval::fixed(Duration::ZERO),
    )
    .await
    .unwrap();
    assert!(matches!(verdicts[0], Verdict::Pending { .. }));
    assert!(matches!(&verdicts[1], Verdict::Failed(f) if f.kind == FailureKind::TasksFailing));
}

#[test]
fn interval_grows_to_fifteen_seconds_or_is_fixed() {
    let mut i = PollInterval::adaptive();
    let waits: Vec<u64> = (0..8).map(|_| i.next_wait().as_millis() as u64).collect();
    assert_eq!(waits, [2000, 3000, 4500, 6750, 10125, 15000, 15000, 15000]);
    assert_eq!(
        PollInterval::from_setting(Some("0")),
        PollInterval::fixed(Duration::ZERO)
    );
    assert_eq!(
        PollInterval::from_setting(Some("0.5")),
        PollInterval::fixed(Duration::from_millis(500))
    );
    assert_eq!(
        PollInterval::from_setting(Some("soon")),
        PollInterval::adaptive()
    );
    assert_eq!(PollInterval::from_setting(None), PollInterval::adaptive());
}

/// The bound: at most 12 DescribeServices calls in any minute (one call covers up to
/// 10 services), from the first poll on.
#[test]
fn the_adaptive_interval_keeps_polls_under_twelve_a_minute() {
    let mut i = PollInterval::adaptive();
    let mut at = Duration::ZERO;
    let mut polls = vec![at];
    while at < Duration::from_secs(3600) {
        at += i.next_wait();
        polls.push(at);
    }
    for (k, start) in polls.iter().enumerate() {
        let in_window = polls[k..]
            .iter()
            .take_while(|t| **t < *start + Duration::from_secs(60))
            .count();
        assert!(
            in_window <= 12,
            "{in_window} polls in the minute from {start:?}"
        );
    }
}

/// Once every task runs, a change brings the next poll back to 1 s instead of the grown wait:
/// the steps left (targets healthy, old tasks drained, COMPLETED) follow quickly.
#[tokio::test]
async fn a_change_with_all_tasks_running_restarts_the_interval() {
    let clock = FakeClock::new();
    let mut observer = Scripted {
        clock: &clock,
        polls: 0,
        script: |n, _| match n {
            0..=2 => ("IN_PROGRESS".into(), 1, 0, vec![]),
            3 => ("IN_PROGRESS".into(), 2, 0, vec![]),
            4 => (
                "IN_PROGRESS".into(),
                2,
                0,
                vec![("e1", "stopped 1 running task")],
            ),
            _ => ("COMPLETED".into(), 2, 0, vec![]),
        },
    };
    let mut printed = Printed::default();
    let mut w = [watched("api", Duration::from_secs(600))];
    let verdicts = wait(
        &clock,
        &mut observer,
        &mut printed,
        &mut w,
        &mut PollInterval::adaptive(),
    )
    .await
    .unwrap();
    assert_eq!(verdicts, [Verdict::Healthy]);
    let secs: Vec<f64> = clock
        .slept
        .borrow()
        .iter()
        .map(Duration::as_secs_f64)
        .collect();
    // Polls 0-2 unchanged at 1/2: the wait grows; poll 3 reaches 2/2: back to 1 s; poll 4 only
    // adds an event (the progress line is the same): the wait grows again.
    assert_eq!(secs, [2.0, 3.0, 4.5, 1.0, 1.5]);
}
