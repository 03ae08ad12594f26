//! The evidence a failed rollout prints: why each stopped task of the new revision stopped,
//! each container's exit code and reason, and its last log lines (the exit-4 report). Pure:
//! the poller fills [`StoppedTask`] from ListTasks/DescribeTasks and CloudWatch Logs.
//!
//! All text here came from outside (ECS reasons, application logs): control characters are
//! replaced so each returned string is one line, and every value this run masked is replaced by
//! `***` (an application may print a token it was given). Log lines are bounded: the last
//! [`MAX_LOG_LINES`] of a container, each cut at 400 characters, at most [`LOG_BYTES`] in all;
//! and with `show-task-logs: false` none is quoted, only where they are. Escaping for workflow
//! commands is still the runner's job (`neutralize_line` where the report is printed).

use super::events::{KnownCause, classify};
use crate::secret::redact_masked;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoppedTask {
    pub task_id: String,
    pub task_definition: String,
    /// e.g. `Essential container in task exited`.
    pub stopped_reason: Option<String>,
    /// e.g. `EssentialContainerExited`, `TaskFailedToStart`.
    pub stop_code: Option<String>,
    pub containers: Vec<StoppedContainer>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoppedContainer {
    pub name: String,
    pub exit_code: Option<i32>,
    /// e.g. `OutOfMemoryError: Container killed due to memory usage`, `CannotPullContainerError: ...`.
    pub reason: Option<String>,
    /// Where an awslogs container logs; `None` for other drivers.
    pub log: Option<LogRef>,
    /// The last lines of that stream, oldest first (the poller bounds how many).
    pub last_log_lines: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRef {
    pub group: String,
    pub stream: String,
}

/// Longest line kept from outside text: a stack trace line is evidence, a minified bundle is not.
const MAX_LINE: usize = 400;
/// Log lines quoted per container: its last words, not its history.
pub const MAX_LOG_LINES: usize = 10;
/// Bytes of log lines quoted per container, at most: ten short lines fit, a dump does not.
pub const LOG_BYTES: usize = 2048;

/// Lines for one stopped task: the first names the task and why it stopped, the rest are
/// indented two spaces (log lines four) so the caller can indent the block as a whole:
///
/// ```text
/// task 9f2c1a7b...  Essential container in task exited
///   container api: exit code 1
///   last log lines (/ecs/payments, ecs/api/9f2c1a7b...):
///     Error: DATABASE_URL is not set
/// ```
///
/// Containers that exited 0 without a reason are left out (they were stopped with the task,
/// not the cause), unless no container has anything to say. With `show_logs` false
/// (`show-task-logs: false`) no log line is quoted, only the group and stream they are in.
pub fn summarise_stopped_task(task: &StoppedTask, show_logs: bool) -> Vec<String> {
    let id = short_id(&task.task_id);
    let why = task
        .stopped_reason
        .as_deref()
        .or(task.stop_code.as_deref())
        .unwrap_or("stopped (no reason given)");
    let mut lines = vec![format!("task {id}  {}", one_line(why))];

    if let Some(cause) = known_cause(task) {
        lines.push(format!("  cause: {}", cause.cause));
    }

    let telling: Vec<&StoppedContainer> = task
        .containers
        .iter()
        .filter(|c| {
            c.exit_code.is_some_and(|e| e != 0)
                || c.reason.is_some()
                || !c.last_log_lines.is_empty()
        })
        .collect();
    let shown = if telling.is_empty() {
        task.containers.iter().collect()
    } else {
        telling
    };
    for c in shown {
        let mut line = format!("  container {}: ", one_line(&c.name));
        match c.exit_code {
            Some(code) => line.push_str(&format!(
                "exit code {code}{}",
                signal_note(code, c.reason.is_some())
            )),
            None => line.push_str("no exit code"),
        }
        if let Some(reason) = &c.reason {
            line.push_str(&format!(" ({})", one_line(reason)));
        }
        lines.push(line);
        if let Some(log) = &c.log {
            let at = format!("{}, {}", one_line(&log.group), one_line(&log.stream));
            if !show_logs {
                lines.push(format!(
                    "  log lines not shown (show-task-logs: false): {at}"
                ));
            } else if c.last_log_lines.is_empty() {
                lines.push(format!("  no log lines in ({at})"));
            } else {
                lines.push(format!("  last log lines ({at}):"));
                lines.extend(
                    quoted_log_lines(&c.last_log_lines)
                        .into_iter()
                        .map(|l| format!("    {l}")),
                );
            }
        }
    }
    lines
}

/// The recognised cause of a task's stop (`events::KNOWN_CAUSES`), from its stopped reason or
/// a container's reason, for the caller to put the hint under a failure that had none (a
/// circuit-breaker failure says only "tasks failed to start"; the tasks say why).
pub fn known_cause(task: &StoppedTask) -> Option<&'static KnownCause> {
    std::iter::once(task.stopped_reason.as_deref())
        .chain(task.containers.iter().map(|c| c.reason.as_deref()))
        .flatten()
        .find_map(classify)
}

/// What an exit code past 128 says about the signal, when ECS gave no reason of its own.
fn signal_note(code: i32, has_reason: bool) -> &'static str {
    match (code, has_reason) {
        (137, false) => {
            " (killed by SIGKILL: out of memory, or it did not stop within stopTimeout)"
        }
        (139, false) => " (segmentation fault)",
        (143, false) => " (stopped by SIGTERM)",
        _ => "",
    }
}

/// Task ids are 32 hex digits; eight are enough to tell tasks apart in one report, and the
/// log stream printed below carries the full id.
fn short_id(task_id: &str) -> String {
    let id = task_id.rsplit('/').next().unwrap_or(task_id);
    if id.len() > 12 && id.is_char_boundary(8) {
        format!("{}...", &id[..8])
    } else {
        id.to_string()
    }
}

/// The last log lines within [`MAX_LOG_LINES`] and [`LOG_BYTES`], oldest first, each made one
/// line; a note first when earlier lines were left out.
fn quoted_log_lines(lines: &[String]) -> Vec<String> {
    let mut kept = Vec::new();
    let mut bytes = 0;
    for line in lines.iter().rev().take(MAX_LOG_LINES) {
        let line = one_line(line);
        if bytes + line.len() > LOG_BYTES {
            break;
        }
        bytes += line.len();
        kept.push(line);
    }
    kept.reverse();
    let left_out = lines.len() - kept.len();
    if left_out > 0 {
        kept.insert(
            0,
            format!("({left_out} earlier line(s) left out: at most {MAX_LOG_LINES} lines, {LOG_BYTES} bytes)"),
        );
    }
    kept
}

/// Masked values become `***`; control characters (CR, LF, ESC, ...) become spaces: the text
/// must stay one line and must not move the terminal's cursor; long lines are cut (after the
/// masking, so no part of a secret is left at the cut).
fn one_line(text: &str) -> String {
    let mut s: String = redact_masked(text)
        .trim_end()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.len() > MAX_LINE {
        let mut cut = MAX_LINE;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crashed() -> StoppedTask {
        StoppedTask {
            task_id:
                "arn:aws:ecs:eu-west-1:111122223333:task/prod/9f2c1a7b4d5e6f708192a3b4c5d6e7f8"
                    .into(),
            task_definition: "payments:42".into(),
            stopped_reason: Some("Essential container in task exited".into()),
            stop_code: Some("EssentialContainerExited".into()),
            containers: vec![
                StoppedContainer {
                    name: "api".into(),
                    exit_code: Some(1),
                    reason: None,
                    log: Some(LogRef {
                        group: "/ecs/payments".into(),
                        stream: "ecs/api/9f2c1a7b4d5e6f708192a3b4c5d6e7f8".into(),
                    }),
                    last_log_lines: vec![
                        "starting".into(),
                        "Error: DATABASE_URL is not set\r".into(),
                    ],
                },
                StoppedContainer {
                    name: "envoy".into(),
                    exit_code: Some(0),
                    reason: None,
                    log: None,
                    last_log_lines: vec![],
                },
            ],
        }
    }

    #[test]
    fn a_crash_loop_reads_like_the_example() {
        assert_eq!(
            summarise_stopped_task(&crashed(), true),
            [
                "task 9f2c1a7b...  Essential container in task exited",
                "  container api: exit code 1",
                "  last log lines (/ecs/payments, ecs/api/9f2c1a7b4d5e6f708192a3b4c5d6e7f8):",
                "    starting",
                "    Error: DATABASE_URL is not set",
            ]
        );
    }

    #[test]
    fn a_pull_failure_names_its_cause() {
        let task = StoppedTask {
            task_id: "0123456789abcdef0123456789abcdef".into(),
            task_definition: "payments:42".into(),
            stopped_reason: Some("CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref".into()),
            stop_code: Some("TaskFailedToStart".into()),
            containers: vec![StoppedContainer { name: "api".into(), exit_code: None, reason: Some("CannotPullContainerError: ...".into()), log: None, last_log_lines: vec![] }],
        };
        let lines = summarise_stopped_task(&task, true);
        assert!(
            lines[0].starts_with("task 01234567...  CannotPullContainerError"),
            "{lines:?}"
        );
        assert!(
            lines[1].starts_with("  cause: the image cannot be pulled"),
            "{lines:?}"
        );
        assert_eq!(
            lines[2],
            "  container api: no exit code (CannotPullContainerError: ...)"
        );
    }

    #[test]
    fn oom_kill_and_silent_containers() {
        let mut task = crashed();
        task.containers[0].exit_code = Some(137);
        task.containers[0].last_log_lines.clear();
        let lines = summarise_stopped_task(&task, true);
        assert!(
            lines[1].contains("exit code 137 (killed by SIGKILL: out of memory"),
            "{lines:?}"
        );
        assert_eq!(
            lines[2],
            "  no log lines in (/ecs/payments, ecs/api/9f2c1a7b4d5e6f708192a3b4c5d6e7f8)"
        );
        // Nothing telling at all: every container is listed rather than none.
        task.containers[0].exit_code = Some(0);
        task.containers[0].log = None;
        task.stopped_reason = None;
        let lines = summarise_stopped_task(&task, true);
        assert_eq!(
            lines,
            [
                "task 9f2c1a7b...  EssentialContainerExited",
                "  container api: exit code 0",
                "  container envoy: exit code 0"
            ]
        );
    }

    #[test]
    fn log_lines_are_masked_bounded_and_can_be_left_out() {
        crate::secret::remember_masked("ghs_5UPPOSEDLY5ECRET0000");
        let mut task = crashed();
        let container = &mut task.containers[0];
        container.last_log_lines = (1..=14).map(|i| format!("line {i}")).collect();
        container.last_log_lines[13] = "token=ghs_5UPPOSEDLY5ECRET0000 rejected".into();
        let lines = summarise_stopped_task(&task, true);
        assert_eq!(
            lines[3],
            "    (4 earlier line(s) left out: at most 10 lines, 2048 bytes)"
        );
        assert_eq!(lines[4], "    line 5");
        assert_eq!(lines[13], "    token=*** rejected");
        assert_eq!(lines.len(), 14);

        // Ten long lines are cut to what fits in the byte budget, the newest kept.
        task.containers[0].last_log_lines =
            (0..10).map(|i| format!("{i}{}", "x".repeat(500))).collect();
        let lines = summarise_stopped_task(&task, true);
        let quoted: Vec<&String> = lines.iter().skip(3).collect();
        assert!(
            quoted[0].contains("5 earlier line(s) left out"),
            "{quoted:?}"
        );
        assert!(
            quoted[1].starts_with("    5xxx") && quoted.last().unwrap().starts_with("    9xxx")
        );
        let bytes: usize = quoted[1..].iter().map(|l| l.trim_start().len()).sum();
        assert!(bytes <= LOG_BYTES, "{bytes}");

        let hidden = summarise_stopped_task(&task, false);
        assert_eq!(
            hidden[2],
            "  log lines not shown (show-task-logs: false): /ecs/payments, ecs/api/9f2c1a7b4d5e6f708192a3b4c5d6e7f8"
        );
        assert_eq!(hidden.len(), 3, "{hidden:?}");
    }

    #[test]
    fn outside_text_stays_on_one_line() {
        let mut task = crashed();
        task.containers[0].last_log_lines = vec!["a\nb\x1b[2Jc".into(), "x".repeat(1000)];
        let lines = summarise_stopped_task(&task, true);
        assert_eq!(lines[3], "    a b [2Jc");
        assert!(lines[4].len() < 420 && lines[4].ends_with("..."));
        assert!(lines.iter().all(|l| !l.chars().any(char::is_control)));
    }
}
