//! The plan for a service's deployment strategy (pure): its strategy, bake time, traffic steps,
//! lifecycle hooks, alarms and circuit breaker as plan lines, who rolls back a failure (ECS by
//! itself, or this action), and the refusals for what cannot work, before any change.
//! `service_deployment.rs` reads [`DeploymentSettings`] from DescribeServices.

/// A LINEAR or CANARY traffic step: percent and minutes to wait after it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TrafficStep {
    pub percent: Option<f64>,
    pub bake_minutes: Option<i32>,
}

/// One lifecycle hook as configured.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HookSetting {
    /// AWS_LAMBDA (the default) or PAUSE.
    pub target_type: String,
    pub target_arn: Option<String>,
    pub stages: Vec<String>,
    pub timeout_minutes: Option<i32>,
    pub timeout_action: Option<String>,
}

/// The service's alarms configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlarmSetting {
    pub names: Vec<String>,
    pub enable: bool,
    pub rollback: bool,
}

/// One load balancer of the service, with what blue/green needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoadBalancerSetting {
    pub target_group_arn: Option<String>,
    pub alternate_target_group_arn: Option<String>,
    pub production_listener_rule: Option<String>,
}

/// A service's `deploymentConfiguration` and load balancers, as the plan needs them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeploymentSettings {
    /// ROLLING when absent.
    pub strategy: Option<String>,
    pub bake_time_in_minutes: Option<i32>,
    pub linear: Option<TrafficStep>,
    pub canary: Option<TrafficStep>,
    pub hooks: Vec<HookSetting>,
    pub alarms: Option<AlarmSetting>,
    /// (enable, rollback).
    pub circuit_breaker: Option<(bool, bool)>,
    pub load_balancers: Vec<LoadBalancerSetting>,
    /// Service Connect routes the traffic (blue/green without a load balancer).
    pub service_connect: bool,
}

impl DeploymentSettings {
    pub fn strategy(&self) -> &str {
        self.strategy.as_deref().unwrap_or("ROLLING")
    }

    /// BLUE_GREEN, LINEAR or CANARY: two revisions side by side, traffic shifted between them.
    pub fn shifts_traffic(&self) -> bool {
        matches!(self.strategy(), "BLUE_GREEN" | "LINEAR" | "CANARY")
    }
}

/// Why ECS rolls a failed deployment back by itself (empty: this action must).
pub fn ecs_rolls_back(s: &DeploymentSettings) -> Vec<String> {
    let mut why = Vec::new();
    if s.circuit_breaker == Some((true, true)) {
        why.push("the circuit breaker (rollback on)".to_owned());
    }
    if let Some(a) = s.alarms.as_ref().filter(|a| a.enable && a.rollback) {
        why.push(format!("alarms {} (rollback on)", a.names.join(", ")));
    }
    if s.shifts_traffic() {
        why.push(format!("the {} strategy (a failed hook or health check)", s.strategy()));
    }
    why
}

fn minutes(m: Option<i32>, default: i32) -> i32 {
    m.unwrap_or(default)
}

/// What the plan prints about the service's strategy, one line each.
pub fn plan_lines(s: &DeploymentSettings) -> Vec<String> {
    let bake = minutes(s.bake_time_in_minutes, 0);
    let mut lines = vec![match s.strategy() {
        "BLUE_GREEN" => format!(
            "strategy BLUE_GREEN: the new revision gets all production traffic at once; bake time {bake} min with the old one kept"
        ),
        "LINEAR" => {
            let step = s.linear.unwrap_or_default();
            format!(
                "strategy LINEAR: {}% more production traffic every {} min; bake time {bake} min",
                step.percent.unwrap_or(10.0),
                minutes(step.bake_minutes, 6)
            )
        }
        "CANARY" => {
            let step = s.canary.unwrap_or_default();
            format!(
                "strategy CANARY: {}% of production traffic for {} min, then the rest; bake time {bake} min",
                step.percent.unwrap_or(5.0),
                minutes(step.bake_minutes, 10)
            )
        }
        other => format!("strategy {other}: tasks replaced in place"),
    }];
    for h in &s.hooks {
        let stages = h.stages.join(", ");
        let timeout = format!(
            "times out after {} min: {}",
            minutes(h.timeout_minutes, 1440),
            h.timeout_action.as_deref().unwrap_or("ROLLBACK")
        );
        lines.push(match (h.target_type.as_str(), &h.target_arn) {
            ("PAUSE", _) => format!(
                "lifecycle hook PAUSE at {stages}: waits for ContinueServiceDeployment ({timeout})"
            ),
            (_, Some(arn)) => format!("lifecycle hook {arn} at {stages} ({timeout})"),
            (t, None) => format!("lifecycle hook {t} at {stages} ({timeout})"),
        });
    }
    match &s.alarms {
        Some(a) if a.enable => lines.push(format!(
            "alarms {}: rollback {}",
            a.names.join(", "),
            if a.rollback { "on" } else { "off" }
        )),
        _ => {}
    }
    if let Some((true, rollback)) = s.circuit_breaker {
        lines.push(format!(
            "circuit breaker: rollback {}",
            if rollback { "on" } else { "off" }
        ));
    }
    let ecs = ecs_rolls_back(s);
    lines.push(if ecs.is_empty() {
        "on failure this action rolls back to the revision serving now".to_owned()
    } else {
        format!(
            "on failure ECS rolls back by itself ({}): this action waits for it and reports why",
            ecs.join("; ")
        )
    });
    lines
}

/// A strategy that cannot work as the service is configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrategyRefusal {
    #[error(
        "the service {service} uses the {strategy} strategy but its load balancer (target group {target_group}) has no alternate target group: ECS has nowhere to start the new revision"
    )]
    NoAlternateTargetGroup {
        service: String,
        strategy: String,
        target_group: String,
    },
    #[error(
        "the service {service} uses the {strategy} strategy with neither a load balancer nor Service Connect: ECS has no traffic to shift"
    )]
    NoTrafficRouting { service: String, strategy: String },
}

impl StrategyRefusal {
    pub fn hint(&self) -> &'static str {
        match self {
            StrategyRefusal::NoAlternateTargetGroup { .. } => {
                "set loadBalancers[].advancedConfiguration (alternateTargetGroupArn, productionListenerRule, roleArn) on the service, or use strategy ROLLING"
            }
            StrategyRefusal::NoTrafficRouting { .. } => {
                "attach a load balancer with an alternate target group or Service Connect, or use strategy ROLLING"
            }
        }
    }
}

/// What refuses the deployment of `service` before any change.
pub fn strategy_refusals(service: &str, s: &DeploymentSettings) -> Vec<StrategyRefusal> {
    if !s.shifts_traffic() {
        return Vec::new();
    }
    let strategy = s.strategy().to_owned();
    if s.load_balancers.is_empty() && !s.service_connect {
        return vec![StrategyRefusal::NoTrafficRouting {
            service: service.into(),
            strategy,
        }];
    }
    s.load_balancers
        .iter()
        .filter(|lb| lb.alternate_target_group_arn.is_none())
        .map(|lb| StrategyRefusal::NoAlternateTargetGroup {
            service: service.into(),
            strategy: strategy.clone(),
            target_group: lb
                .target_group_arn
                .clone()
                .unwrap_or_else(|| "(none)".into()),
        })
        .collect()
}

#[cfg(test)]
#[path = "strategy_plan_tests.rs"]
mod tests;
