//! Tables for where each service stands: the sentence, the revision it serves now, and the
//! verdict column, for each way a service's part of a run can end.

use std::time::Duration;

use super::*;
use crate::rollout::rollback::RollbackOutcome;

const OLD: &str = "arn:aws:ecs:r:1:task-definition/api:17";
const NEW: &str = "arn:aws:ecs:r:1:task-definition/api:18";

fn reverted(settled: Settled) -> RollbackOutcome {
    RollbackOutcome {
        service: "api".into(),
        task_definition: OLD.into(),
        deployment_id: Some("ecs-svc/9".into()),
        settled,
    }
}

#[test]
fn each_fate_says_where_the_service_stands() {
    let healthy = reverted(Settled::Healthy {
        running: 2,
        desired: 2,
        took: Duration::from_secs(18),
    });
    let not_settled = reverted(Settled::NotSettled("1/2 running".into()));
    let failed = reverted(Settled::UpdateFailed("UpdateService failed: denied".into()));
    let cases: [(Fate, bool, &str, &str); 9] = [
        (Fate::Healthy, true, NEW, "api serves api:18, healthy"),
        (
            Fate::Healthy,
            false,
            NEW,
            "api serves api:18, healthy (this run changed nothing)",
        ),
        (
            Fate::Refused,
            false,
            OLD,
            "api still serves api:17 (its update was refused)",
        ),
        (
            Fate::Untouched,
            false,
            OLD,
            "api still serves api:17 (untouched)",
        ),
        (
            Fate::Left,
            true,
            NEW,
            "api was left on api:18 (rollback: false)",
        ),
        (
            Fate::Reverted {
                outcome: &healthy,
                by_ecs: false,
            },
            true,
            OLD,
            "api had been updated to api:18: rolled back, and is serving api:17 again (2/2 running, steady state reached in 18 s)",
        ),
        (
            Fate::Reverted {
                outcome: &healthy,
                by_ecs: true,
            },
            true,
            OLD,
            "api: ECS rolled it back, and is serving api:17 again (2/2 running, steady state reached in 18 s)",
        ),
        (
            Fate::Reverted {
                outcome: &not_settled,
                by_ecs: false,
            },
            true,
            OLD,
            "api had been updated to api:18: rolled back to api:17, but it is not serving it healthily yet: 1/2 running",
        ),
        (
            Fate::Reverted {
                outcome: &failed,
                by_ecs: false,
            },
            true,
            NEW,
            "api: the rollback to api:17 failed: UpdateService failed: denied; it still runs api:18",
        ),
    ];
    for (fate, updated, now, sentence) in cases {
        let wanted = if matches!(fate, Fate::Refused | Fate::Untouched) {
            OLD
        } else {
            NEW
        };
        assert_eq!(
            stand("api", OLD, wanted, updated, &fate),
            (now.to_owned(), sentence.to_owned()),
            "{fate:?}"
        );
    }
}

#[test]
fn the_verdict_column_names_the_verdict_and_the_rollback() {
    let healthy = reverted(Settled::Healthy {
        running: 2,
        desired: 2,
        took: Duration::from_secs(3),
    });
    let unsettled = reverted(Settled::NotSettled("x".into()));
    let failure = Verdict::TimedOut {
        waiting_for: "1/2".into(),
    };
    let pending = Verdict::Pending {
        progress: String::new(),
    };
    let cases: [(Option<&Verdict>, bool, Fate, &str); 7] = [
        (Some(&Verdict::Healthy), false, Fate::Healthy, "healthy"),
        (
            Some(&failure),
            false,
            Fate::Reverted {
                outcome: &healthy,
                by_ecs: false,
            },
            "timed out, rolled back",
        ),
        (
            Some(&failure),
            false,
            Fate::Reverted {
                outcome: &unsettled,
                by_ecs: true,
            },
            "timed out, rollback by ECS not settled",
        ),
        (
            Some(&failure),
            false,
            Fate::Left,
            "timed out, left as it is",
        ),
        (
            Some(&pending),
            true,
            Fate::Left,
            "unknown (polls failed), left as it is",
        ),
        (None, false, Fate::Refused, "update refused"),
        (None, false, Fate::Untouched, "not updated"),
    ];
    for (verdict, polls_failed, fate, text) in cases {
        assert_eq!(verdict_text(verdict, polls_failed, &fate), text, "{fate:?}");
    }
}
