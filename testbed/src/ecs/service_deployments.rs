//! The simulator's record of service deployments (ECS keeps one per deployment a service
//! starts) and service revisions, the setups that script them, and the members they add to a
//! rendered Service. Their API is in `deployment_api.rs`.
//!
//! A service deployment is created by every UpdateService that starts a deployment (whatever the
//! strategy) and, at seed time, one SUCCESSFUL per seeded deployment. Each names its target
//! service revision (`service-revision/<cluster>/<service>/<19 digits>`, one per ECS deployment
//! id) and the source revisions that served when it began. How the records move on each poll is
//! in `strategies.rs`; what a service's deployments do (hooks' answers, an alarm, a failing
//! rollback) is scripted per service with [`DeploymentsSetup`].

use std::collections::BTreeMap;

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::state::{Service, SimState, ecs_arn};

/// Terminal service-deployment states: nothing moves them again.
pub(crate) const TERMINAL: [&str; 4] = [
    "SUCCESSFUL",
    "STOPPED",
    "ROLLBACK_SUCCESSFUL",
    "ROLLBACK_FAILED",
];

/// How a service's deployments behave beyond its tasks: its `deploymentConfiguration` strategy
/// members (as UpdateService takes them) and what the outside world answers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DeploymentsSetup {
    /// Merged into the service's deployment configuration: `strategy`, `bakeTimeInMinutes`,
    /// `linearConfiguration`, `canaryConfiguration`, `lifecycleHooks`, `alarms`.
    pub deployment_configuration: Value,
    /// Gives every load balancer of the service an `advancedConfiguration` with an alternate
    /// target group and listener rules (what BLUE_GREEN, LINEAR and CANARY need).
    pub alternate_target_group: bool,
    pub script: Script,
}

impl DeploymentsSetup {
    /// A traffic-shifting `strategy` (BLUE_GREEN, LINEAR, CANARY) with `bake_minutes` of bake
    /// time and the `extra` members of `deploymentConfiguration` (hooks, steps, alarms), and
    /// the alternate target group it needs.
    pub fn staged(strategy: &str, bake_minutes: u32, extra: Value) -> DeploymentsSetup {
        let mut dc = json!({"strategy": strategy, "bakeTimeInMinutes": bake_minutes});
        for (k, v) in extra.as_object().into_iter().flatten() {
            dc[k] = v.clone();
        }
        DeploymentsSetup {
            deployment_configuration: dc,
            alternate_target_group: true,
            script: Script::default(),
        }
    }
}

/// `deploymentConfiguration` members with one Lambda lifecycle hook `arn` at `stage`.
pub fn lambda_hook_at(arn: &str, stage: &str) -> Value {
    json!({"lifecycleHooks": [{"hookTargetArn": arn, "roleArn": "arn:aws:iam::123456789012:role/ecs-hooks", "lifecycleStages": [stage]}]})
}

/// What the world outside ECS does during this service's deployments.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Script {
    /// Lambda hook function ARN -> how it answers (unlisted functions answer SUCCEEDED at once).
    pub lambda: BTreeMap<String, LambdaScript>,
    /// A CloudWatch alarm that goes to ALARM when a deployment reaches a lifecycle stage.
    pub alarm: Option<AlarmScript>,
    /// ECS's own rollback of the next failing deployment ends ROLLBACK_FAILED.
    pub rollback_fails: bool,
}

/// One Lambda hook's answers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LambdaScript {
    /// Answers FAILED at this lifecycle stage (SUCCEEDED at the others).
    pub fails_at: Option<String>,
    /// Answers IN_PROGRESS this many times before its verdict.
    pub in_progress_polls: u32,
}

/// An alarm that fires at a stage.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AlarmScript {
    pub name: String,
    pub stage: String,
}

/// One service revision: the configuration one ECS deployment runs.
pub(crate) struct Revision {
    pub arn: String,
    pub cluster: String,
    pub service: String,
    pub deployment_id: String,
    pub task_definition: String,
    pub created_at: u64,
}

/// One lifecycle hook invocation.
pub(crate) struct HookRun {
    pub hook_id: String,
    /// AWS_LAMBDA or PAUSE.
    pub target_type: String,
    pub target_arn: Option<String>,
    /// IN_PROGRESS, AWAITING_ACTION, SUCCEEDED, FAILED, TIMED_OUT.
    pub status: String,
    pub expires_at: u64,
    pub timeout_action: String,
    pub stage: String,
    pub polls: u32,
}

/// A monitor's state (circuit breaker or alarms): DISABLED, MONITORING, TRIGGERED,
/// MONITORING_COMPLETE.
pub(crate) struct Monitor {
    pub status: String,
    pub failure_count: u32,
    pub threshold: u32,
    pub triggered: Vec<String>,
}

/// One service deployment and where its strategy has got to.
pub(crate) struct Record {
    pub arn: String,
    pub cluster: String,
    pub service: String,
    pub created_at: u64,
    pub started_at: Option<u64>,
    pub finished_at: Option<u64>,
    pub stopped_at: Option<u64>,
    pub updated_at: u64,
    pub target_revision: String,
    pub target_deployment: String,
    pub source_revisions: Vec<String>,
    pub source_deployments: Vec<String>,
    pub status: String,
    pub status_reason: Option<String>,
    pub stage: Option<String>,
    pub hooks: Vec<HookRun>,
    /// The service's deployment configuration when the deployment began.
    pub config: Value,
    /// (reason, started at, service revision ARN rolled back to).
    pub rollback: Option<(String, u64, String)>,
    pub breaker: Monitor,
    pub alarms: Monitor,
    /// Percent of production and test traffic on the target revision (None for ROLLING).
    pub production_weight: Option<f64>,
    pub test_weight: Option<f64>,
    /// When the current stage, and the current traffic step, began (simulated seconds).
    pub stage_entered: u64,
    pub step_entered: u64,
    /// The ECS deployment that carries a rollback.
    pub rollback_deployment: Option<String>,
    pub rollback_fails: bool,
}

impl Record {
    pub fn strategy(&self) -> &str {
        self.config["strategy"].as_str().unwrap_or("ROLLING")
    }
    pub fn terminal(&self) -> bool {
        TERMINAL.contains(&self.status.as_str())
    }
}

/// Everything the simulator knows about service deployments.
#[derive(Default)]
pub(crate) struct ServiceDeployments {
    /// Oldest first.
    pub records: Vec<Record>,
    pub revisions: Vec<Revision>,
    /// (cluster, service) -> its setup.
    pub setups: BTreeMap<(String, String), DeploymentsSetup>,
}

impl ServiceDeployments {
    /// The newest service deployment of a service.
    pub fn latest(&self, cluster: &str, service: &str) -> Option<usize> {
        self.records
            .iter()
            .rposition(|r| r.cluster == cluster && r.service == service)
    }

    pub fn setup(&self, cluster: &str, service: &str) -> DeploymentsSetup {
        self.setups
            .get(&(cluster.to_owned(), service.to_owned()))
            .cloned()
            .unwrap_or_default()
    }

    fn revision_of(&self, deployment_id: &str) -> Option<&Revision> {
        self.revisions
            .iter()
            .find(|r| r.deployment_id == deployment_id)
    }
}

/// `n` random characters of `[A-Za-z0-9]`.
fn base62(n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut r = rand::rng();
    (0..n)
        .map(|_| char::from(ALPHABET[r.random_range(0..ALPHABET.len())]))
        .collect()
}

/// The deployment configuration a service deployment shows: the service's breaker and percents
/// with the setup's strategy members.
fn configuration(svc: &Service, setup: &DeploymentsSetup) -> Value {
    let mut v = json!({
        "deploymentCircuitBreaker": {"enable": svc.cb_enable, "rollback": svc.cb_rollback},
        "maximumPercent": svc.max_percent,
        "minimumHealthyPercent": svc.min_healthy,
        "strategy": "ROLLING",
    });
    if let Some(extra) = setup.deployment_configuration.as_object() {
        for (k, val) in extra {
            v[k] = val.clone();
        }
    }
    v
}

/// A monitor's status once its deployment is over without it triggering.
pub(crate) fn monitor_done(status: &str) -> String {
    if status == "MONITORING" {
        "MONITORING_COMPLETE".into()
    } else {
        status.into()
    }
}

fn monitor(enabled: bool, threshold: u32) -> Monitor {
    Monitor {
        status: if enabled { "MONITORING" } else { "DISABLED" }.into(),
        failure_count: 0,
        threshold,
        triggered: Vec::new(),
    }
}

impl SimState {
    /// The service revision of ECS deployment `deployment_id`, created on first use.
    fn revision_for(
        &mut self,
        svc: &Service,
        deployment_id: &str,
        task_definition: &str,
    ) -> String {
        if let Some(r) = self.service_deployments.revision_of(deployment_id) {
            return r.arn.clone();
        }
        let digits: String = {
            let mut r = rand::rng();
            (0..19)
                .map(|k| char::from(b'0' + r.random_range(u8::from(k == 0)..10u8)))
                .collect()
        };
        let arn = ecs_arn(&format!(
            "service-revision/{}/{}/{digits}",
            svc.cluster, svc.name
        ));
        self.service_deployments.revisions.push(Revision {
            arn: arn.clone(),
            cluster: svc.cluster.clone(),
            service: svc.name.clone(),
            deployment_id: deployment_id.to_owned(),
            task_definition: task_definition.to_owned(),
            created_at: self.clock,
        });
        arn
    }

    /// Records the service deployment that UpdateService just started (the service's PRIMARY
    /// deployment is its target; the others are its sources); any earlier one still running is
    /// STOPPED. Returns its ARN.
    pub(crate) fn start_service_deployment(&mut self, svc: &Service) -> String {
        let i = self.new_record(svc, 0);
        self.service_deployments.records[i].arn.clone()
    }

    /// A PENDING record whose target is deployment `k` of `svc` and whose sources are the
    /// deployments older than it; returns its index.
    fn new_record(&mut self, svc: &Service, k: usize) -> usize {
        let now = self.clock;
        let setup = self.service_deployments.setup(&svc.cluster, &svc.name);
        let target = &svc.deployments[k];
        let (target_id, target_td) = (target.id.clone(), target.task_definition.clone());
        let target_revision = self.revision_for(svc, &target_id, &target_td);
        let mut source_revisions = Vec::new();
        let mut source_deployments = Vec::new();
        for d in &svc.deployments[k + 1..] {
            source_revisions.push(self.revision_for(svc, &d.id, &d.task_definition));
            source_deployments.push(d.id.clone());
        }
        let arn = ecs_arn(&format!(
            "service-deployment/{}/{}/{}",
            svc.cluster,
            svc.name,
            base62(22)
        ));
        for r in &mut self.service_deployments.records {
            if r.cluster == svc.cluster && r.service == svc.name && !r.terminal() {
                r.status = "STOPPED".into();
                r.status_reason = Some(format!("Superseded by service deployment {arn}."));
                r.stopped_at = Some(now);
                r.updated_at = now;
            }
        }
        let config = configuration(svc, &setup);
        let staged = config["strategy"] != "ROLLING";
        let alarms_on = config["alarms"]["enable"].as_bool().unwrap_or(false);
        self.service_deployments.records.push(Record {
            arn,
            cluster: svc.cluster.clone(),
            service: svc.name.clone(),
            created_at: now,
            started_at: None,
            finished_at: None,
            stopped_at: None,
            updated_at: now,
            target_revision,
            target_deployment: target_id,
            source_revisions,
            source_deployments,
            status: "PENDING".into(),
            status_reason: None,
            stage: None,
            hooks: Vec::new(),
            config,
            rollback: None,
            breaker: monitor(svc.cb_enable, svc.desired.div_ceil(2).clamp(3, 200)),
            alarms: monitor(alarms_on, 0),
            production_weight: staged.then_some(0.0),
            test_weight: staged.then_some(0.0),
            stage_entered: now,
            step_entered: now,
            rollback_deployment: None,
            rollback_fails: setup.script.rollback_fails,
        });
        self.service_deployments.records.len() - 1
    }

    /// At seed time: one service deployment per deployment the service has, oldest first:
    /// SUCCESSFUL for a COMPLETED one, PENDING (moving on the next poll) for one in progress.
    pub(crate) fn seed_service_deployments(&mut self, svc: &Service) {
        let now = self.clock;
        for k in (0..svc.deployments.len()).rev() {
            let i = self.new_record(svc, k);
            let rec = &mut self.service_deployments.records[i];
            if svc.deployments[k].rollout_state == "COMPLETED" {
                rec.started_at = Some(now);
                rec.status = "SUCCESSFUL".into();
                rec.finished_at = Some(now);
                rec.stage = Some("CLEAN_UP".into());
                rec.production_weight = rec.production_weight.map(|_| 100.0);
                rec.test_weight = rec.test_weight.map(|_| 100.0);
                rec.breaker.status = monitor_done(&rec.breaker.status);
                rec.alarms.status = monitor_done(&rec.alarms.status);
            }
        }
    }

    /// Applies a setup to an existing service; false when there is no such service.
    pub fn set_deployments_setup(
        &mut self,
        cluster: &str,
        service: &str,
        setup: DeploymentsSetup,
    ) -> bool {
        let key = (cluster.to_owned(), service.to_owned());
        if !self.services.contains_key(&key) {
            return false;
        }
        self.service_deployments.setups.insert(key, setup);
        true
    }

    /// UpdateService's `deploymentConfiguration`: its strategy members join the setup.
    pub(crate) fn configure_strategy(&mut self, cluster: &str, service: &str, dc: &Value) {
        const MEMBERS: [&str; 6] = [
            "strategy",
            "bakeTimeInMinutes",
            "linearConfiguration",
            "canaryConfiguration",
            "lifecycleHooks",
            "alarms",
        ];
        let key = (cluster.to_owned(), service.to_owned());
        let setup = self.service_deployments.setups.entry(key).or_default();
        if !setup.deployment_configuration.is_object() {
            setup.deployment_configuration = json!({});
        }
        for m in MEMBERS {
            if let Some(v) = dc.get(m) {
                setup.deployment_configuration[m] = v.clone();
            }
        }
    }

    /// Adds what the service-deployment era added to a rendered Service: the strategy members
    /// of `deploymentConfiguration`, load balancers' `advancedConfiguration`,
    /// `currentServiceDeployment` and `currentServiceRevisions`.
    pub(crate) fn put_service_deployment_fields(&self, v: &mut Value, svc: &Service) {
        let sd = &self.service_deployments;
        let setup = sd.setup(&svc.cluster, &svc.name);
        let config = configuration(svc, &setup);
        if let Some(obj) = config.as_object() {
            for (k, val) in obj {
                v["deploymentConfiguration"][k] = val.clone();
            }
        }
        if setup.alternate_target_group
            && let Some(lbs) = v["loadBalancers"].as_array_mut()
        {
            for lb in lbs {
                let tg = lb["targetGroupArn"].as_str().unwrap_or_default();
                let listener = format!(
                    "arn:aws:elasticloadbalancing:{}:{}:listener-rule/app/{}-alb/50dc6c495c0c9188/f2f7dc8efc522ab2",
                    super::SIM_REGION,
                    super::SIM_ACCOUNT,
                    svc.name
                );
                lb["advancedConfiguration"] = json!({
                    "alternateTargetGroupArn": tg.replace("-tg/", "-tg-green/"),
                    "productionListenerRule": format!("{listener}/9683b2d02a6cabee"),
                    "testListenerRule": format!("{listener}/4c5e1d7a9b3f2e10"),
                    "roleArn": format!("arn:aws:iam::{}:role/ecsInfrastructureRoleForLoadBalancers", super::SIM_ACCOUNT),
                });
            }
        }
        if let Some(i) = sd.latest(&svc.cluster, &svc.name) {
            v["currentServiceDeployment"] = json!(sd.records[i].arn);
        }
        let current: Vec<Value> = svc
            .deployments
            .iter()
            .filter_map(|d| {
                sd.revision_of(&d.id).map(|r| {
                    json!({
                        "arn": r.arn,
                        "requestedTaskCount": d.desired,
                        "runningTaskCount": d.running,
                        "pendingTaskCount": d.pending,
                    })
                })
            })
            .collect();
        v["currentServiceRevisions"] = Value::Array(current);
    }
}

impl super::EcsSimulator {
    /// Sets how service `name`'s deployments behave from its next deployment on (strategy,
    /// hooks, alarms, what the world answers); false when there is no such service.
    pub fn set_deployments_setup(
        &self,
        cluster: &str,
        name: &str,
        setup: DeploymentsSetup,
    ) -> bool {
        self.lock().set_deployments_setup(cluster, name, setup)
    }

    /// The status and lifecycle stage of the newest service deployment of service `name`.
    pub fn service_deployment_state(
        &self,
        cluster: &str,
        name: &str,
    ) -> Option<(String, Option<String>)> {
        let st = self.lock();
        let sd = &st.service_deployments;
        sd.latest(cluster, name)
            .map(|i| (sd.records[i].status.clone(), sd.records[i].stage.clone()))
    }
}
