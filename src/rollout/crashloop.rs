//! The crash-loop rule: when is a new revision's failure certain before ECS's failed-task
//! threshold is reached? Pure: the poller (`watch`) fills [`StartExits`] from the stopped tasks
//! of our deployment (listed only when its failed-task count changed) and what it saw of their
//! health; `assess` asks [`crash_loop`] before it waits for more failures.
//!
//! # How many exits are enough
//!
//! The rule fires when every task our deployment has stopped exited by itself
//! (`EssentialContainerExited`) with a non-zero code, none of its tasks was ever seen healthy
//! (no healthy target, no `HEALTHY` container health check), and there are at least
//! [`ENOUGH_EXITS`] (two) of them. The evidence behind two, not one and not ECS's three:
//! - One exit is not enough. A single task can die of its surroundings, not of its image: the
//!   host ran out of memory, a dependency restarted at that moment, a sidecar raced the app.
//!   ECS replaces it, and the replacement is an independent trial.
//! - Two exits from two different tasks, with no healthy task of the revision in between, is
//!   the signature of a revision that cannot start (a missing variable, a bad command, a
//!   migration that fails): the same image, definition and environment failed twice in a row
//!   with nothing succeeding. The simulator's crash loop and the EXAMPLES-style reports show
//!   every further exit repeating the first one's code and last log lines; a third exit adds a
//!   whole task start (image pull, start, crash: tens of seconds on Fargate) and no new fact.
//! - ECS's circuit breaker waits for max(3, desired/2) failures because it judges every kind of
//!   failure (placement, ELB health checks, capacity), many of them transient; this rule judges
//!   only tasks that ran and exited non-zero by themselves, before any became healthy. A task
//!   stopped by the scheduler (ELB health checks: exit 143, `ServiceSchedulerInitiated`) or that
//!   never started (`TaskFailedToStart`) is not an exit and keeps the general threshold.
//! - Measured (scripts/bench-verdict.sh, desired 2): the first two exits arrive together on
//!   the poll that shows the first wave stopped; waiting for a third costs two more polls (the
//!   replacements' start and crash), which is what separated the crash verdict from the
//!   0.15x-of-the-peer target.
//!
//! When ECS's circuit breaker will roll back by itself, the poller does not apply this rule
//! (never race ECS's own rollback).

/// Stopped tasks that exited by themselves needed for a certain crash loop: see the module doc.
pub const ENOUGH_EXITS: usize = 2;

/// ECS's stop code for a task whose essential container exited.
const ESSENTIAL_CONTAINER_EXITED: &str = "EssentialContainerExited";

/// What the poller knows of our deployment's stopped tasks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartExits {
    /// Every stopped task of our deployment described so far.
    pub stopped: Vec<TaskExit>,
    /// A task of our deployment was seen healthy (target or container health check).
    pub any_healthy: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskExit {
    pub task_id: String,
    pub stop_code: Option<String>,
    /// The first non-zero container exit code, else the first code reported.
    pub exit_code: Option<i32>,
}

impl TaskExit {
    fn exited_non_zero(&self) -> bool {
        self.stop_code.as_deref() == Some(ESSENTIAL_CONTAINER_EXITED)
            && self.exit_code.is_some_and(|c| c != 0)
    }
}

/// The crash loop's evidence, when the rule holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrashLoop {
    pub exits: usize,
    /// The distinct exit codes, in the order first seen.
    pub exit_codes: Vec<i32>,
}

/// `Some` when every stopped task exited non-zero by itself, none was healthy, and there are
/// at least [`ENOUGH_EXITS`].
pub fn crash_loop(evidence: &StartExits) -> Option<CrashLoop> {
    if evidence.any_healthy
        || evidence.stopped.len() < ENOUGH_EXITS
        || !evidence.stopped.iter().all(TaskExit::exited_non_zero)
    {
        return None;
    }
    let mut exit_codes = Vec::new();
    for code in evidence.stopped.iter().filter_map(|t| t.exit_code) {
        if !exit_codes.contains(&code) {
            exit_codes.push(code);
        }
    }
    Some(CrashLoop {
        exits: evidence.stopped.len(),
        exit_codes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit(stop_code: &str, code: Option<i32>) -> TaskExit {
        TaskExit {
            task_id: format!("t{}", code.unwrap_or(-1)),
            stop_code: Some(stop_code.to_owned()),
            exit_code: code,
        }
    }

    #[test]
    fn two_non_zero_exits_before_any_healthy_task_are_a_crash_loop() {
        let crashed = exit(ESSENTIAL_CONTAINER_EXITED, Some(1));
        let oom = exit(ESSENTIAL_CONTAINER_EXITED, Some(137));
        let clean = exit(ESSENTIAL_CONTAINER_EXITED, Some(0));
        let elb = exit("ServiceSchedulerInitiated", Some(143));
        let no_start = exit("TaskFailedToStart", None);
        let cases: [(&str, Vec<TaskExit>, bool, Option<Vec<i32>>); 8] = [
            ("no exit yet", vec![], false, None),
            ("one exit is not enough", vec![crashed.clone()], false, None),
            (
                "two exits",
                vec![crashed.clone(), crashed.clone()],
                false,
                Some(vec![1]),
            ),
            (
                "different codes still crash",
                vec![crashed.clone(), oom.clone()],
                false,
                Some(vec![1, 137]),
            ),
            (
                "a healthy task was seen",
                vec![crashed.clone(), crashed.clone()],
                true,
                None,
            ),
            (
                "a clean exit is not a crash",
                vec![crashed.clone(), clean],
                false,
                None,
            ),
            (
                "ELB stops are not exits",
                vec![crashed.clone(), elb],
                false,
                None,
            ),
            (
                "tasks that never started",
                vec![no_start.clone(), no_start],
                false,
                None,
            ),
        ];
        for (name, stopped, any_healthy, want) in cases {
            let got = crash_loop(&StartExits {
                stopped: stopped.clone(),
                any_healthy,
            });
            assert_eq!(got.as_ref().map(|c| c.exit_codes.clone()), want, "{name}");
            if let Some(c) = got {
                assert_eq!(c.exits, stopped.len(), "{name}");
            }
        }
    }
}
