//! Tables for the strategy plan: its lines, who rolls back, and the refusals.

use super::*;

const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-tg/1";

fn lb(alternate: bool) -> LoadBalancerSetting {
    LoadBalancerSetting {
        target_group_arn: Some(TG.into()),
        alternate_target_group_arn: alternate.then(|| TG.replace("web-tg", "web-tg-green")),
        production_listener_rule: alternate.then(|| "arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/web/1/2/3".into()),
    }
}

fn settings(strategy: &str) -> DeploymentSettings {
    DeploymentSettings {
        strategy: Some(strategy.into()),
        bake_time_in_minutes: Some(15),
        load_balancers: vec![lb(true)],
        ..DeploymentSettings::default()
    }
}

#[test]
fn each_strategy_reads_as_one_line_and_says_who_rolls_back() {
    let mut linear = settings("LINEAR");
    linear.linear = Some(TrafficStep { percent: Some(20.0), bake_minutes: Some(3) });
    let canary = settings("CANARY");
    let mut rolling = DeploymentSettings::default();
    rolling.circuit_breaker = Some((true, false));
    let mut rolling_cb = DeploymentSettings::default();
    rolling_cb.circuit_breaker = Some((true, true));
    let table = [
        (settings("BLUE_GREEN"), vec![
            "strategy BLUE_GREEN: the new revision gets all production traffic at once; bake time 15 min with the old one kept",
            "on failure ECS rolls back by itself (the BLUE_GREEN strategy (a failed hook or health check)): this action waits for it and reports why",
        ]),
        (linear, vec![
            "strategy LINEAR: 20% more production traffic every 3 min; bake time 15 min",
            "on failure ECS rolls back by itself (the LINEAR strategy (a failed hook or health check)): this action waits for it and reports why",
        ]),
        (canary, vec![
            "strategy CANARY: 5% of production traffic for 10 min, then the rest; bake time 15 min",
            "on failure ECS rolls back by itself (the CANARY strategy (a failed hook or health check)): this action waits for it and reports why",
        ]),
        (rolling, vec![
            "strategy ROLLING: tasks replaced in place",
            "circuit breaker: rollback off",
            "on failure this action rolls back to the revision serving now",
        ]),
        (rolling_cb, vec![
            "strategy ROLLING: tasks replaced in place",
            "circuit breaker: rollback on",
            "on failure ECS rolls back by itself (the circuit breaker (rollback on)): this action waits for it and reports why",
        ]),
    ];
    for (s, lines) in table {
        assert_eq!(plan_lines(&s), lines, "{s:?}");
    }
}

#[test]
fn hooks_and_alarms_are_listed_with_their_stages_and_rollback() {
    let mut s = settings("BLUE_GREEN");
    s.hooks = vec![
        HookSetting {
            target_type: "AWS_LAMBDA".into(),
            target_arn: Some("arn:aws:lambda:us-east-1:1:function:smoke".into()),
            stages: vec!["POST_TEST_TRAFFIC_SHIFT".into(), "PRODUCTION_TRAFFIC_SHIFT".into()],
            ..HookSetting::default()
        },
        HookSetting {
            target_type: "PAUSE".into(),
            stages: vec!["POST_SCALE_UP".into()],
            timeout_minutes: Some(30),
            timeout_action: Some("CONTINUE".into()),
            ..HookSetting::default()
        },
    ];
    s.alarms = Some(AlarmSetting { names: vec!["web-5xx".into(), "web-p99".into()], enable: true, rollback: true });
    let lines = plan_lines(&s);
    assert_eq!(&lines[1..4], [
        "lifecycle hook arn:aws:lambda:us-east-1:1:function:smoke at POST_TEST_TRAFFIC_SHIFT, PRODUCTION_TRAFFIC_SHIFT (times out after 1440 min: ROLLBACK)",
        "lifecycle hook PAUSE at POST_SCALE_UP: waits for ContinueServiceDeployment (times out after 30 min: CONTINUE)",
        "alarms web-5xx, web-p99: rollback on",
    ]);
    assert!(lines[4].contains("alarms web-5xx, web-p99 (rollback on); the BLUE_GREEN strategy"), "{}", lines[4]);
    // Alarms configured but disabled say nothing and roll nothing back.
    s.alarms = Some(AlarmSetting { names: vec!["web-5xx".into()], enable: false, rollback: true });
    assert!(!plan_lines(&s).iter().any(|l| l.starts_with("alarms")));
}

#[test]
fn alarms_with_rollback_make_a_rolling_service_roll_back_by_itself() {
    let mut s = DeploymentSettings::default();
    assert!(ecs_rolls_back(&s).is_empty());
    s.alarms = Some(AlarmSetting { names: vec!["web-5xx".into()], enable: true, rollback: false });
    assert!(ecs_rolls_back(&s).is_empty(), "rollback off: ECS only stops the deployment");
    s.alarms.as_mut().unwrap().rollback = true;
    assert_eq!(ecs_rolls_back(&s), ["alarms web-5xx (rollback on)"]);
}

#[test]
fn traffic_shifting_strategies_are_refused_without_somewhere_to_shift() {
    let mut no_alternate = settings("BLUE_GREEN");
    no_alternate.load_balancers = vec![lb(true), lb(false)];
    let mut nothing = settings("CANARY");
    nothing.load_balancers.clear();
    let mut service_connect = settings("LINEAR");
    service_connect.load_balancers.clear();
    service_connect.service_connect = true;
    let mut rolling = DeploymentSettings::default();
    rolling.load_balancers = vec![lb(false)];
    let table: [(DeploymentSettings, Vec<StrategyRefusal>); 5] = [
        (settings("BLUE_GREEN"), vec![]),
        (no_alternate, vec![StrategyRefusal::NoAlternateTargetGroup { service: "web".into(), strategy: "BLUE_GREEN".into(), target_group: TG.into() }]),
        (nothing, vec![StrategyRefusal::NoTrafficRouting { service: "web".into(), strategy: "CANARY".into() }]),
        (service_connect, vec![]),
        (rolling, vec![]),
    ];
    for (s, refusals) in table {
        assert_eq!(strategy_refusals("web", &s), refusals, "{s:?}");
    }
    let r = &strategy_refusals("web", &{ let mut s = settings("BLUE_GREEN"); s.load_balancers = vec![lb(false)]; s })[0];
    assert_eq!(
        r.to_string(),
        format!("the service web uses the BLUE_GREEN strategy but its load balancer (target group {TG}) has no alternate target group: ECS has nowhere to start the new revision")
    );
    assert!(r.hint().contains("alternateTargetGroupArn"));
}
