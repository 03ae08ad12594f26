use super::*;
use serde_json::json;

use crate::rollout::taskdef::{ImageUpdate, render};

const IMG: &str =
    "reg.io/payments/api@sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/// A request as a user writes it: terse, defaults left out, unit strings.
#[rustfmt::skip]
fn request() -> Value {
    json!({
        "family": "payments",
        "networkMode": "awsvpc",
        "cpu": "0.5 vCPU",
        "memory": "1GB",
        "requiresCompatibilities": ["FARGATE", "EC2"],
        "tags": [{"key": "team", "value": "payments"}, {"key": "cost", "value": "42"}],
        "containerDefinitions": [
            {"name": "api", "image": IMG,
             "portMappings": [{"containerPort": 8080}],
             "environment": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}],
             "secrets": [{"name": "DB", "valueFrom": "arn:aws:ssm:eu-west-1:111122223333:parameter/db"}],
             "healthCheck": {"command": ["CMD", "true"]}},
            {"name": "envoy", "image": "public.ecr.aws/envoy:v1", "essential": false}
        ]
    })
}

/// The same definition as `describe-task-definition --include TAGS` returns it once registered:
/// wrapped, read-only fields, defaults filled in, empty lists, other orders.
#[rustfmt::skip]
fn served() -> Value {
    json!({
        "taskDefinition": {
            "taskDefinitionArn": "arn:aws:ecs:eu-west-1:111122223333:task-definition/payments:42",
            "revision": 42,
            "status": "ACTIVE",
            "family": "payments",
            "networkMode": "awsvpc",
            "cpu": "512",
            "memory": "1024",
            "volumes": [],
            "placementConstraints": [],
            "requiresCompatibilities": ["EC2", "FARGATE"],
            "compatibilities": ["EC2", "FARGATE"],
            "requiresAttributes": [{"name": "ecs.capability.task-eni"}],
            "registeredAt": 1795000000.123,
            "registeredBy": "arn:aws:sts::111122223333:assumed-role/deploy/gh",
            "containerDefinitions": [
                {"name": "envoy", "image": "public.ecr.aws/envoy:v1", "cpu": 0, "essential": false,
                 "portMappings": [], "environment": [], "mountPoints": [], "volumesFrom": [], "systemControls": []},
                {"name": "api", "image": IMG, "cpu": 0, "essential": true,
                 "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
                 "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                 "secrets": [{"name": "DB", "valueFrom": "arn:aws:ssm:eu-west-1:111122223333:parameter/db"}],
                 "mountPoints": [], "volumesFrom": [],
                 "healthCheck": {"command": ["CMD", "true"], "interval": 30, "timeout": 5, "retries": 3}}
            ]
        },
        "tags": [{"key": "cost", "value": "42"}, {"key": "team", "value": "payments"}]
    })
}

#[test]
fn the_served_form_of_a_request_is_identical() {
    assert!(is_identical(&request(), &served()));
    assert!(
        diff(&served(), &request()).is_empty(),
        "{:?}",
        diff(&served(), &request())
    );
}

#[test]
fn a_rerendered_serving_definition_is_identical() {
    // The re-run path: render from what is serving, with the image it already runs.
    let r = render(&served(), &ImageUpdate::container("api", IMG)).unwrap();
    assert!(r.changed_containers.is_empty());
    assert!(is_identical(&r.request, &served()));
}

#[test]
#[rustfmt::skip]
fn each_normalisation_is_what_ecs_does() {
    // (what the request says, what describe prints) for one field; each pair must compare equal.
    let base = || request();
    type Edit = fn(&mut Value);
    let equal: &[(&str, Edit, Edit)] = &[
        ("task cpu number vs string", |v| v["cpu"] = json!(512), |v| v["cpu"] = json!("512")),
        ("task memory 0.5GB", |v| v["memory"] = json!("0.5GB"), |v| v["memory"] = json!("512")),
        ("bridge is the default", |v| { v.as_object_mut().unwrap().remove("networkMode"); v["containerDefinitions"][0]["portMappings"] = json!([{"containerPort": 8080}]); },
            |v| { v["networkMode"] = json!("bridge"); v["containerDefinitions"][0]["portMappings"] = json!([{"containerPort": 8080, "hostPort": 0}]); }),
        ("integral float", |v| v["containerDefinitions"][0]["memory"] = json!(512.0), |v| v["containerDefinitions"][0]["memory"] = json!(512)),
        ("dockerLabels {}", |_| {}, |v| v["containerDefinitions"][0]["dockerLabels"] = json!({})),
        ("null member", |_| {}, |v| v["pidMode"] = Value::Null),
        ("container order", |_| {}, |v| v["containerDefinitions"].as_array_mut().unwrap().reverse()),
    ];
    for (what, edit_request, edit_served) in equal {
        let (mut a, mut b) = (base(), base());
        edit_request(&mut a);
        edit_served(&mut b);
        assert!(is_identical(&a, &b), "{what}: {:?}", diff(&b, &a));
    }
}

#[test]
#[rustfmt::skip]
fn real_differences_are_not_normalised_away() {
    type Edit = fn(&mut Value);
    let differ: &[(&str, Edit, &str)] = &[
        ("image", |v| v["containerDefinitions"][0]["image"] = json!("reg.io/payments/api:v2"),
            &format!("containerDefinitions[api].image: {IMG} -> reg.io/payments/api:v2")),
        ("env value", |v| v["containerDefinitions"][0]["environment"][0]["value"] = json!("3"),
            "containerDefinitions[api].environment[B].value: 2 -> 3"),
        ("env added", |v| v["containerDefinitions"][0]["environment"].as_array_mut().unwrap().push(json!({"name": "C", "value": "x"})),
            "containerDefinitions[api].environment[C].value: (none) -> x"),
        ("essential false is not the default", |v| v["containerDefinitions"][0]["essential"] = json!(false),
            "containerDefinitions[api].essential: (none) -> false"),
        ("hostPort differs from containerPort", |v| v["containerDefinitions"][0]["portMappings"][0]["hostPort"] = json!(9090),
            "containerDefinitions[api].portMappings[0].hostPort: (none) -> 9090"),
        ("non-default health interval", |v| v["containerDefinitions"][0]["healthCheck"]["interval"] = json!(10),
            "containerDefinitions[api].healthCheck.interval: (none) -> 10"),
        ("task cpu", |v| v["cpu"] = json!("1 vCPU"), "cpu: 512 -> 1024"),
        ("tag value", |v| v["tags"][0]["value"] = json!("billing"), "tags[team].value: payments -> billing"),
        ("secret source", |v| v["containerDefinitions"][0]["secrets"][0]["valueFrom"] = json!("arn:aws:ssm:eu-west-1:111122223333:parameter/db2"),
            "containerDefinitions[api].secrets[DB]: changed"),
        ("secret removed", |v| { v["containerDefinitions"][0].as_object_mut().unwrap().remove("secrets"); },
            "containerDefinitions[api].secrets[DB]: removed"),
        ("command", |v| v["containerDefinitions"][1]["command"] = json!(["run", "--fast"]),
            "containerDefinitions[envoy].command: (none) -> [\"run\",\"--fast\"]"),
    ];
    for (what, edit, line) in differ {
        let mut after = request();
        edit(&mut after);
        assert!(!is_identical(&after, &served()), "{what}");
        assert_eq!(diff(&served(), &after), [line.to_string()], "{what}");
    }
}

#[test]
fn diff_never_prints_secret_references() {
    let mut after = request();
    after["containerDefinitions"][0]["secrets"] = json!([{"name": "NEW", "valueFrom": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:new"}]);
    after["containerDefinitions"][0]["logConfiguration"] = json!({"logDriver": "awsfirelens",
        "secretOptions": [{"name": "apikey", "valueFrom": "arn:aws:ssm:eu-west-1:111122223333:parameter/k"}]});
    let lines = diff(&served(), &after);
    assert!(lines.iter().all(|l| !l.contains("arn:aws:s")), "{lines:?}");
    assert!(
        lines.contains(&"containerDefinitions[api].secrets[NEW]: added".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(
            &"containerDefinitions[api].logConfiguration.secretOptions[apikey]: added".to_string()
        ),
        "{lines:?}"
    );
}

#[test]
fn diff_order_is_stable() {
    let mut after = request();
    after["memory"] = json!("2GB");
    after["containerDefinitions"][0]["image"] = json!("reg.io/payments/api:v2");
    after["containerDefinitions"][1]["image"] = json!("public.ecr.aws/envoy:v2");
    let lines = diff(&served(), &after);
    assert_eq!(
        lines,
        [
            format!("containerDefinitions[api].image: {IMG} -> reg.io/payments/api:v2"),
            "containerDefinitions[envoy].image: public.ecr.aws/envoy:v1 -> public.ecr.aws/envoy:v2"
                .to_string(),
            "memory: 1024 -> 2048".to_string(),
        ]
    );
    assert_eq!(diff(&served(), &after), lines);
}

#[test]
fn canonical_is_total_on_non_definitions() {
    assert_eq!(canonical(&json!([1.0, null, {}])), json!([1, null, {}]));
    assert_eq!(canonical(&json!({"a": [], "b": {"c": null}})), json!({}));
}

#[test]
fn version_consistency_enabled_is_the_default() {
    let mut served = served();
    served["taskDefinition"]["containerDefinitions"][1]["versionConsistency"] = json!("enabled");
    assert!(is_identical(&request(), &served));
    served["taskDefinition"]["containerDefinitions"][1]["versionConsistency"] = json!("disabled");
    assert!(!is_identical(&request(), &served));
}

#[test]
fn a_first_deploy_diffs_against_nothing() {
    let lines = diff(&Value::Null, &request());
    assert!(
        lines.contains(&"family: (none) -> payments".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"containerDefinitions[api].secrets[DB]: added".to_string()),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .all(|l| !l.starts_with(':') && !l.contains("arn:aws:ssm")),
        "{lines:?}"
    );
}

#[test]
fn registry_credentials_are_not_printed() {
    let mut after = request();
    after["containerDefinitions"][0]["repositoryCredentials"] =
        json!({"credentialsParameter": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:hub"});
    assert_eq!(
        diff(&served(), &after),
        ["containerDefinitions[api].repositoryCredentials: added"]
    );
}

#[test]
fn canonical_is_idempotent() {
    for v in [request(), served(), canonical(&served())] {
        let once = canonical(&v);
        assert_eq!(canonical(&once), once);
        assert!(is_identical(&once, &v));
    }
}
