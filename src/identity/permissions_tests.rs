use super::*;

fn spec() -> PermissionsSpec {
    PermissionsSpec {
        partition: "aws".into(),
        account: "111122223333".into(),
        region: "eu-west-1".into(),
        repositories: vec!["team/web".into()],
        create_repository: false,
        cluster: "prod".into(),
        services: vec!["web".into(), "worker".into()],
        pass_roles: vec![
            "arn:aws:iam::111122223333:role/web-task".into(),
            "arn:aws:iam::111122223333:role/ecsTaskExecutionRole".into(),
        ],
        log_groups: vec!["/ecs/web".into()],
    }
}

/// (action, resources) pairs of every Allow statement, with its condition.
fn grants(policy: &Value) -> Vec<(String, Vec<String>, Value)> {
    let list = |v: &Value| -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
            _ => panic!("not a string or list: {v}"),
        }
    };
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            assert_eq!(s["Effect"], "Allow");
            let resources = list(&s["Resource"]);
            let condition = s.get("Condition").cloned().unwrap_or(Value::Null);
            list(&s["Action"])
                .into_iter()
                .map(move |a| (a, resources.clone(), condition.clone()))
        })
        .collect()
}

fn resources_of(policy: &Value, action: &str) -> Vec<String> {
    grants(policy)
        .into_iter()
        .find(|(a, ..)| a == action)
        .unwrap_or_else(|| panic!("{action} is not granted"))
        .1
}

#[test]
fn every_call_the_action_makes_is_granted_on_its_resources_only() {
    let p = generate(&spec()).unwrap();
    let svc = |s: &str| format!("arn:aws:ecs:eu-west-1:111122223333:service/prod/{s}");
    // (action, the exact resources)
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("ecr:GetAuthorizationToken", vec!["*".into()]),
        (
            "ecr:PutImage",
            vec!["arn:aws:ecr:eu-west-1:111122223333:repository/team/web".into()],
        ),
        (
            "ecr:InitiateLayerUpload",
            vec!["arn:aws:ecr:eu-west-1:111122223333:repository/team/web".into()],
        ),
        (
            "ecr:DescribeImageScanFindings",
            vec!["arn:aws:ecr:eu-west-1:111122223333:repository/team/web".into()],
        ),
        ("ecs:RegisterTaskDefinition", vec!["*".into()]),
        ("ecs:DescribeTaskDefinition", vec!["*".into()]),
        ("ecs:UpdateService", vec![svc("web"), svc("worker")]),
        ("ecs:DescribeServices", vec![svc("web"), svc("worker")]),
        (
            "ecs:ListServiceDeployments",
            vec![svc("web"), svc("worker")],
        ),
        (
            "ecs:DescribeTasks",
            vec!["arn:aws:ecs:eu-west-1:111122223333:task/prod/*".into()],
        ),
        (
            "ecs:DescribeClusters",
            vec!["arn:aws:ecs:eu-west-1:111122223333:cluster/prod".into()],
        ),
        (
            "elasticloadbalancing:DescribeTargetHealth",
            vec!["*".into()],
        ),
        (
            "logs:GetLogEvents",
            vec!["arn:aws:logs:eu-west-1:111122223333:log-group:/ecs/web:log-stream:*".into()],
        ),
        ("iam:PassRole", spec().pass_roles),
    ];
    for (action, resources) in cases {
        assert_eq!(resources_of(&p, action), resources, "{action}");
    }
    assert!(
        resources_of(&p, "ecs:DescribeServiceDeployments").contains(
            &"arn:aws:ecs:eu-west-1:111122223333:service-deployment/prod/web/*".to_string()
        )
    );
}

#[test]
fn wildcards_and_conditions_are_where_iam_leaves_no_choice() {
    let p = generate(&spec()).unwrap();
    let unscoped = [
        "ecr:GetAuthorizationToken",
        "ecs:RegisterTaskDefinition",
        "ecs:DescribeTaskDefinition",
        "elasticloadbalancing:DescribeTargetHealth",
        "ecs:ListTasks",
    ];
    for (action, resources, condition) in grants(&p) {
        assert!(!action.contains('*'), "an action wildcard: {action}");
        if resources.contains(&"*".to_string()) {
            assert!(unscoped.contains(&action.as_str()), "{action} on *");
        }
        match action.as_str() {
            "ecs:ListTasks" => assert_eq!(
                condition,
                json!({"ArnEquals": {"ecs:cluster": "arn:aws:ecs:eu-west-1:111122223333:cluster/prod"}})
            ),
            "iam:PassRole" => assert_eq!(
                condition,
                json!({"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}})
            ),
            "ecs:TagResource" => assert_eq!(
                condition["StringEquals"]["ecs:CreateAction"],
                "RegisterTaskDefinition"
            ),
            _ => assert!(condition.is_null(), "{action} has an unexpected condition"),
        }
    }
    assert!(!grants(&p).iter().any(|(a, ..)| a == "ecr:CreateRepository"));
}

#[test]
fn options_widen_only_what_they_name() {
    let mut s = spec();
    s.create_repository = true;
    s.pass_roles.clear();
    s.log_groups.clear();
    s.partition = "aws-cn".into();
    s.region = "cn-north-1".into();
    let p = generate(&s).unwrap();
    assert_eq!(
        resources_of(&p, "ecr:CreateRepository"),
        ["arn:aws-cn:ecr:cn-north-1:111122223333:repository/team/web"]
    );
    assert!(
        !grants(&p).iter().any(|(a, ..)| a == "iam:PassRole"),
        "no roles named, nothing to pass"
    );
    assert_eq!(
        resources_of(&p, "logs:GetLogEvents"),
        ["arn:aws-cn:logs:cn-north-1:111122223333:log-group:*:log-stream:*"]
    );
}

#[test]
fn bad_values_are_refused_by_name() {
    let with = |f: &dyn Fn(&mut PermissionsSpec)| {
        let mut s = spec();
        f(&mut s);
        generate(&s).unwrap_err().to_string()
    };
    type Change = dyn Fn(&mut PermissionsSpec);
    let cases: [(&Change, &str); 7] = [
        (
            &|s| s.account = "1234".into(),
            "not a 12-digit AWS account ID",
        ),
        (&|s| s.region = "Europe".into(), "not an AWS region name"),
        (
            &|s| s.repositories.clear(),
            "name at least one ECR repository",
        ),
        (&|s| s.services.clear(), "name at least one ECS service"),
        (
            &|s| s.services = vec!["web/*".into()],
            "the service \"web/*\" is not a valid name",
        ),
        (
            &|s| s.cluster = "prod*".into(),
            "the cluster \"prod*\" is not a valid name",
        ),
        (
            &|s| s.pass_roles = vec!["arn:aws:iam::111122223333:user/bob".into()],
            "is not an IAM role ARN",
        ),
    ];
    for (change, words) in cases {
        let e = with(change);
        assert!(e.contains(words), "wanted {words:?}: {e}");
    }
}
