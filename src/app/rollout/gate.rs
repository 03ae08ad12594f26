//! Wait: the health gate over every service reached (changed or not), through the poll loop
//! with what the polls saw recorded, so the report quotes observations; then, on failure, the
//! evidence (stopped tasks, exit codes, last log lines) of the service that failed.

use std::time::SystemTime;

use crate::inputs::RolloutConfig;
use crate::rollout::ecs_api::EcsApi;
use crate::rollout::observed::{FailedPolls, Recorded, deployment_counts};
use crate::rollout::probe::Probe;
use crate::rollout::service_deployment::ServiceDeploymentReader;
use crate::rollout::watch::{
    Clock, EcsObserver, PollInterval, Report, Watched, wait as poll_until_decided,
};
use crate::rollout::{StoppedTask, Verdict};

use super::act::Started;
use super::decide::Decision;

/// Stopped tasks reported for the failed service, and log lines per container.
const STOPPED_SHOWN: usize = 3;
const LOG_LINES: i32 = crate::rollout::stopped::MAX_LOG_LINES as i32;

/// How the wait ended, per watched service (in the order watched).
pub struct Waited {
    /// A verdict per service, or the polls that kept failing.
    pub result: Result<Vec<Verdict>, FailedPolls>,
    /// When each service's last answer was observed (its verdict's time).
    pub decided_at: Vec<Option<SystemTime>>,
    /// Running and desired tasks of each watched deployment, as last observed.
    pub counts: Vec<Option<(u32, u32)>>,
}

impl Waited {
    pub fn all_healthy(&self) -> bool {
        self.result
            .as_ref()
            .is_ok_and(|v| v.iter().all(|v| *v == Verdict::Healthy))
    }

    pub fn verdict(&self, i: usize) -> Option<&Verdict> {
        self.result.as_ref().ok().and_then(|v| v.get(i))
    }

    /// The first service whose verdict is final and not healthy.
    pub fn first_failure(&self) -> Option<(usize, &Verdict)> {
        self.result
            .as_ref()
            .ok()?
            .iter()
            .enumerate()
            .find(|(_, v)| v.is_final() && **v != Verdict::Healthy)
    }
}

pub async fn wait<C: Clock, R: Report>(
    api: &EcsApi,
    reader: &ServiceDeploymentReader,
    clock: &C,
    cfg: &RolloutConfig,
    report: &mut R,
    watched: &mut [Watched],
    mut interval: PollInterval,
) -> Waited {
    let probe = cfg
        .health_check_url
        .as_deref()
        .map(|url| Probe::new(url, cfg.health_check_successes));
    let mut observer = EcsObserver::new(api, clock, probe).with_deployments(reader);
    let mut recorded = Recorded::new(&mut observer, clock);
    let answer = poll_until_decided(clock, &mut recorded, report, watched, &mut interval).await;
    let result = answer.map_err(|error| {
        recorded.failing().cloned().unwrap_or_else(|| {
            let now = clock.now();
            FailedPolls {
                count: 1,
                first: now,
                last: now,
                error,
            }
        })
    });
    let last: Vec<_> = watched
        .iter()
        .map(|w| {
            recorded.last(&w.service).map(|s| {
                (
                    s.observed_at,
                    deployment_counts(s, &w.watch.our_deployment_id),
                )
            })
        })
        .collect();
    Waited {
        result,
        decided_at: last.iter().map(|l| l.map(|(at, _)| at)).collect(),
        counts: last.iter().map(|l| l.and_then(|(_, c)| c)).collect(),
    }
}

/// The failed service (an index into `started.tracked`) and its stopped tasks.
pub struct Evidence {
    pub failed: Option<usize>,
    pub stopped: Vec<StoppedTask>,
}

/// The failed service's stopped tasks; their log lines only when `show_logs` (`show-task-logs`),
/// else CloudWatch Logs is not read at all.
pub async fn evidence(
    api: &EcsApi,
    started: &Started,
    waited: &Waited,
    decision: &Decision,
    show_logs: bool,
) -> Evidence {
    let Some((i, _)) = waited.first_failure() else {
        return Evidence {
            failed: None,
            stopped: Vec::new(),
        };
    };
    let (t, w) = (&started.tracked[i], &started.watched[i]);
    let stopped = api
        .stopped_tasks(
            &t.service,
            &w.watch.our_deployment_id,
            &decision.rendered[t.index],
            STOPPED_SHOWN,
            if show_logs { LOG_LINES } else { 0 },
        )
        .await
        .unwrap_or_else(|e| {
            tracing::warn!("cannot read the stopped tasks: {e}");
            Vec::new()
        });
    Evidence {
        failed: Some(i),
        stopped,
    }
}
