//! The log lines a failed rollout quotes from its stopped tasks, end to end. They are the
//! application's own output: a value the run masked is replaced by `***`, a line that looks
//! like a workflow command is escaped so the runner cannot take it for one, and with
//! `show-task-logs: false` no line is quoted (nor is CloudWatch Logs read); the rollback
//! happens either way.

mod common;

use common::Run;
use common::rollout::{job, seed, sim_with, task_definition};
use testbed::{Scenario, ServiceSeed};

/// The job's secret access key (from the environment, masked by the identity stage).
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// A service whose new tasks print these lines (the last one as they crash) and exit 1.
fn crashing_with(lines: &[&str]) -> ServiceSeed {
    ServiceSeed {
        crash_log: lines.iter().map(|l| l.to_string()).collect(),
        ..seed("api", Scenario::CrashLoop)
    }
}

/// Every line the runner would read for commands: stdout and stderr.
fn log_lines(run: &Run) -> impl Iterator<Item = &str> {
    run.stdout.lines().chain(run.stderr.lines())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quoted_log_lines_are_masked_and_cannot_issue_workflow_commands() {
    let printed_secret = format!("connecting with aws_secret_access_key={SECRET_KEY}");
    let sim = sim_with(vec![crashing_with(&[
        "booting",
        "::error title=Injected::the app wrote this",
        "  ##[warning]the legacy form",
        &printed_secret,
        "Error: DATABASE_URL is not set",
    ])])
    .await;
    let old = task_definition(&sim, "api");
    let run = job(&sim, "api").await.run().await;

    run.assert_code(4).assert_stderr_has(&[
        "rolled back to api:1",
        "last log lines (/ecs/api, ecs/app/",
        "    booting",
        "\\::error title=Injected::the app wrote this",
        "##\\[warning]the legacy form",
        "connecting with aws_secret_access_key=***",
        "Error: DATABASE_URL is not set",
    ]);
    for line in log_lines(&run) {
        assert!(
            !line.trim_start().starts_with("::error title=Injected")
                && !line.contains("##[warning]"),
            "an application log line reads as a workflow command: {line}\n{}",
            run.dump()
        );
    }
    assert!(
        run.error_annotations()
            .iter()
            .all(|(props, _)| !props.contains("Injected")),
        "{}",
        run.dump()
    );
    assert!(
        run.summary
            .contains("connecting with aws_secret_access_key=***"),
        "the summary quotes the masked line\n{}",
        run.dump()
    );
    assert!(sim.calls("GetLogEvents") > 0);
    assert_eq!(task_definition(&sim, "api"), old, "rolled back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_show_task_logs_off_no_log_line_is_quoted_or_read() {
    let sim = sim_with(vec![crashing_with(&[
        "booting",
        "Error: DATABASE_URL is not set",
    ])])
    .await;
    let old = task_definition(&sim, "api");
    let run = job(&sim, "api")
        .await
        .with("show-task-logs", "false")
        .run()
        .await;

    run.assert_code(4).assert_stderr_has(&[
        "rolled back to api:1",
        "container app: exit code 1",
        "log lines not shown (show-task-logs: false): /ecs/api, ecs/app/",
    ]);
    for text in [&run.stdout, &run.stderr, &run.summary] {
        assert!(
            !text.contains("booting") && !text.contains("DATABASE_URL"),
            "a log line was quoted\n{}",
            run.dump()
        );
    }
    assert_eq!(sim.calls("GetLogEvents"), 0, "CloudWatch Logs was not read");
    assert_eq!(
        task_definition(&sim, "api"),
        old,
        "rolled back all the same"
    );
}
