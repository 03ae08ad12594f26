//! What the rollout has changed so far, written as it goes: every service of the plan once it is
//! decided, each UpdateService as it is sent and as ECS accepts it, and the moment the health
//! gate commits the deploy. A cancelled run drops the rollout's future wherever it was waiting;
//! this record, shared with the cancel path (`app::cancel`), is what survives, so the cancel
//! path knows which services to put back and where to.
//!
//! An update is recorded as in flight before its request is sent: a future dropped while the
//! request is on the wire cannot tell whether ECS accepted it, so the cancel path treats it as
//! changed (a rollback to the revision a service already runs changes nothing).

use std::sync::{Arc, Mutex, MutexGuard};

use crate::rollout::plan::Plan;

/// Where one service's UpdateService stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// The plan leaves it as it is, or the run has not reached it yet.
    NotSent,
    /// Sent, no answer yet.
    InFlight,
    /// ECS accepted it and started this deployment (and this service deployment, where ECS
    /// records one).
    Accepted {
        deployment_id: String,
        service_deployment: Option<String>,
    },
}

/// One service of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub service: String,
    /// The revision it served before this run.
    pub served: String,
    /// Where a rollback returns (the last completed deployment's revision).
    pub previous: String,
    /// The revision this run gives it (what it serves when the plan leaves it).
    pub wanted: String,
    /// It served `previous` steadily before: a rollback of its service deployment returns there.
    pub steady_before: bool,
    pub update: Update,
}

impl Change {
    /// Whether this run may have changed the service.
    pub fn touched(&self) -> bool {
        self.update != Update::NotSent
    }
}

#[derive(Debug, Default)]
struct Record {
    changes: Vec<Change>,
    /// The health gate passed: every change is kept.
    committed: bool,
}

/// The shared record; clones write to and read the same one.
#[derive(Debug, Clone, Default)]
pub struct Changes(Arc<Mutex<Record>>);

impl Changes {
    fn lock(&self) -> MutexGuard<'_, Record> {
        // A panic elsewhere must not hide what was changed from the cancel path.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The plan is decided and its revisions registered (`arns`, one per registration): every
    /// service it names, none updated yet.
    pub fn planned(&self, plan: &Plan, arns: &[String]) {
        self.lock().changes = plan
            .services
            .iter()
            .map(|s| Change {
                service: s.service.clone(),
                served: s.serving.clone(),
                previous: s.rollback_to.clone(),
                wanted: if s.update {
                    arns[s.registration].clone()
                } else {
                    s.serving.clone()
                },
                steady_before: s.rollback_to == s.serving,
                update: Update::NotSent,
            })
            .collect();
    }

    /// UpdateService for `service` is about to be sent.
    pub fn sending(&self, service: &str) {
        self.set(service, Update::InFlight);
    }

    /// ECS accepted the update of `service`.
    pub fn accepted(&self, service: &str, deployment_id: &str, service_deployment: Option<&str>) {
        self.set(
            service,
            Update::Accepted {
                deployment_id: deployment_id.to_owned(),
                service_deployment: service_deployment.map(str::to_owned),
            },
        );
    }

    /// ECS refused the update of `service`: it still runs what it ran.
    pub fn refused(&self, service: &str) {
        self.set(service, Update::NotSent);
    }

    /// The health gate passed: nothing of this run is to be rolled back any more.
    pub fn commit(&self) {
        self.lock().committed = true;
    }

    pub fn committed(&self) -> bool {
        self.lock().committed
    }

    /// The record as it is now, in plan order.
    pub fn snapshot(&self) -> Vec<Change> {
        self.lock().changes.clone()
    }

    fn set(&self, service: &str, update: Update) {
        if let Some(c) = self
            .lock()
            .changes
            .iter_mut()
            .find(|c| c.service == service)
        {
            c.update = update;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::rollout::plan::{Registration, ServicePlan};

    /// A plan updating `updated` (to `new:2`) and leaving `kept` on what it serves.
    fn planned(updated: &[&str], kept: &[&str]) -> Changes {
        let service = |name: &str, update: bool| ServicePlan {
            service: name.to_owned(),
            family: name.to_owned(),
            serving: format!("{name}:1"),
            rollback_to: format!("{name}:0"),
            registration: 0,
            update,
            diff: Vec::new(),
        };
        let plan = Plan {
            registrations: vec![Registration::Reuse("new:2".into())],
            services: updated
                .iter()
                .map(|s| service(s, true))
                .chain(kept.iter().map(|s| service(s, false)))
                .collect(),
        };
        let changes = Changes::default();
        changes.planned(&plan, &["new:2".to_owned()]);
        changes
    }

    #[test]
    fn the_plan_says_where_each_service_goes_and_returns() {
        let changes = planned(&["api"], &["worker"]);
        let wanted: Vec<(&str, &str, &str, &str)> = vec![
            ("api", "api:1", "api:0", "new:2"),
            ("worker", "worker:1", "worker:0", "worker:1"),
        ];
        let now = changes.snapshot();
        let got: Vec<(&str, &str, &str, &str)> = now
            .iter()
            .map(|c| {
                (
                    c.service.as_str(),
                    c.served.as_str(),
                    c.previous.as_str(),
                    c.wanted.as_str(),
                )
            })
            .collect();
        assert_eq!(got, wanted);
        assert!(now.iter().all(|c| !c.touched()));
    }

    #[test]
    fn each_step_of_an_update_is_seen_through_every_clone() {
        let changes = planned(&["api", "worker"], &[]);
        let writer = changes.clone();
        type Step<'a> = (&'a dyn Fn(&Changes), Update);
        let steps: [Step; 2] = [
            (&|c| c.sending("api"), Update::InFlight),
            (
                &|c| c.accepted("api", "ecs-svc/1", Some("sd/1")),
                Update::Accepted {
                    deployment_id: "ecs-svc/1".into(),
                    service_deployment: Some("sd/1".into()),
                },
            ),
        ];
        for (step, expected) in steps {
            step(&writer);
            let now = changes.snapshot();
            assert_eq!(now[0].update, expected);
            assert!(now[0].touched());
            assert!(!now[1].touched(), "worker was never sent an update");
        }
        assert!(!changes.committed());
        writer.commit();
        assert!(changes.committed());
    }

    #[test]
    fn a_refused_update_or_a_service_outside_the_plan_leaves_nothing_touched() {
        let changes = planned(&["api"], &[]);
        changes.sending("other");
        assert_eq!(changes.snapshot()[0].update, Update::NotSent);
        changes.sending("api");
        changes.refused("api");
        assert!(!changes.snapshot()[0].touched());
    }
}
