use super::*;
use serde_json::json;

const REG: &str = "111122223333.dkr.ecr.eu-west-1.amazonaws.com";
const NEW: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn pushed() -> String {
    format!("{REG}/payments/api@{NEW}")
}

/// What `aws ecs describe-task-definition --include TAGS` prints for a three-container service:
/// two containers from the pushed repository (api, worker), one sidecar from elsewhere.
fn described() -> Value {
    json!({
        "taskDefinition": {
            "taskDefinitionArn": "arn:aws:ecs:eu-west-1:111122223333:task-definition/payments:41",
            "family": "payments",
            "revision": 41,
            "status": "ACTIVE",
            "networkMode": "awsvpc",
            "executionRoleArn": "arn:aws:iam::111122223333:role/payments-exec",
            "containerDefinitions": [
                {"name": "api", "image": format!("{REG}/payments/api:v41"), "essential": true,
                 "environment": [{"name": "LOG_LEVEL", "value": "info"}],
                 "secrets": [{"name": "DATABASE_URL", "valueFrom": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:db"}],
                 "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/payments"}}},
                {"name": "worker", "image": format!("{REG}/payments/api@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), "command": ["worker"]},
                {"name": "envoy", "image": "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29", "essential": false}
            ],
            "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.logging-driver.awslogs"}],
            "compatibilities": ["EC2", "FARGATE"],
            "requiresCompatibilities": ["FARGATE"],
            "cpu": "512",
            "memory": "1024",
            "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
            "ephemeralStorage": {"sizeInGiB": 30},
            "registeredAt": "2026-11-20T10:00:00.000000+00:00",
            "registeredBy": "arn:aws:sts::111122223333:assumed-role/deploy/gh"
        },
        "tags": [{"key": "team", "value": "payments"}]
    })
}

fn image_of<'a>(request: &'a Value, name: &str) -> &'a str {
    containers(request)
        .into_iter()
        .find(|c| c["name"] == name)
        .and_then(|c| c["image"].as_str())
        .unwrap_or_else(|| panic!("no container {name}"))
}

#[test]
fn describe_shape_is_unwrapped_stripped_and_keeps_tags_and_unknown_fields() {
    let r = render(&described(), &ImageUpdate::container("api", pushed())).unwrap();
    let obj = r.request.as_object().unwrap();
    for field in READ_ONLY_FIELDS {
        assert!(!obj.contains_key(*field), "{field} kept");
    }
    assert!(!obj.contains_key("taskDefinition"));
    assert_eq!(
        r.request["tags"],
        json!([{"key": "team", "value": "payments"}])
    );
    // Fields the user set are kept as they were, including ones a typed SDK struct may lack.
    assert_eq!(r.request["runtimePlatform"]["cpuArchitecture"], "ARM64");
    assert_eq!(r.request["ephemeralStorage"]["sizeInGiB"], 30);
    assert_eq!(
        r.request["containerDefinitions"][0]["secrets"][0]["name"],
        "DATABASE_URL"
    );
    assert!(r.unknown_fields.is_empty(), "{:?}", r.unknown_fields);
}

#[test]
fn only_the_named_container_changes() {
    let r = render(&described(), &ImageUpdate::container("api", pushed())).unwrap();
    assert_eq!(image_of(&r.request, "api"), pushed());
    assert!(image_of(&r.request, "worker").ends_with("aaaa"));
    assert_eq!(
        image_of(&r.request, "envoy"),
        "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29"
    );
    assert_eq!(
        r.changed_containers,
        [ImageChange {
            container: "api".into(),
            old: format!("{REG}/payments/api:v41"),
            new: pushed()
        }]
    );
}

#[test]
fn default_selects_every_container_of_the_pushed_repository() {
    let r = render(&described(), &ImageUpdate::same_repository(pushed())).unwrap();
    assert_eq!(image_of(&r.request, "api"), pushed());
    assert_eq!(image_of(&r.request, "worker"), pushed());
    assert_eq!(
        image_of(&r.request, "envoy"),
        "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29"
    );
    // Container order and the other fields of the selected containers are untouched.
    assert_eq!(
        r.request["containerDefinitions"][1]["command"],
        json!(["worker"])
    );
}

#[test]
fn containers_lines_set_each_named_container() {
    let update = ImageUpdate::containers([
        ("api", pushed()),
        (
            "envoy",
            "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.30".to_owned(),
        ),
    ]);
    let r = render(&described(), &update).unwrap();
    assert_eq!(image_of(&r.request, "api"), pushed());
    assert_eq!(
        image_of(&r.request, "envoy"),
        "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.30"
    );
    assert_eq!(r.changed_containers.len(), 2);
}

#[test]
fn an_update_restricted_to_a_family_keeps_only_its_containers() {
    // `containers` naming api (this family) and sidecar (another family's container).
    let update = ImageUpdate::containers([("api", pushed()), ("sidecar", pushed())]);
    let here = update.restricted_to(&described());
    assert_eq!(here.named_containers(), ["api"]);
    assert_eq!(update.named_containers(), ["api", "sidecar"]);
    let same = ImageUpdate::same_repository(pushed()).restricted_to(&described());
    assert_eq!(same, ImageUpdate::same_repository(pushed()));
    let none = ImageUpdate::container("sidecar", pushed()).restricted_to(&described());
    assert!(none.assignments.is_empty());
}

#[test]
fn rerun_with_the_same_image_changes_nothing() {
    let first = render(&described(), &ImageUpdate::container("api", pushed())).unwrap();
    let again = render(&first.request, &ImageUpdate::container("api", pushed())).unwrap();
    assert!(again.changed_containers.is_empty());
    assert_eq!(again.request, first.request);
}

#[test]
fn yaml_and_json_files_give_the_same_request() {
    let json_text = r#"{"family": "payments", "networkMode": "awsvpc", "cpu": "256", "memory": "512",
        "containerDefinitions": [{"name": "api", "image": "reg.io/payments/api:v1",
        "portMappings": [{"containerPort": 8080}]}]}"#;
    let yaml_text = "family: payments\nnetworkMode: awsvpc\ncpu: '256'\nmemory: '512'\ncontainerDefinitions:\n  - name: api\n    image: reg.io/payments/api:v1\n    portMappings:\n      - containerPort: 8080\n";
    let cases = [
        ("taskdef.json", json_text),
        ("taskdef.yaml", yaml_text),
        ("taskdef.yml", yaml_text),
        ("taskdef", json_text), // by content
        ("taskdef.txt", yaml_text),
    ];
    let want: Value = serde_json::from_str(json_text).unwrap();
    for (name, text) in cases {
        assert_eq!(
            parse_task_definition_file(text, name).unwrap(),
            want,
            "{name}"
        );
    }
}

#[test]
fn a_file_in_describe_shape_is_accepted() {
    let text = serde_json::to_string_pretty(&described()).unwrap();
    let def = parse_task_definition_file(&text, "deploy/taskdef.json").unwrap();
    assert_eq!(def["family"], "payments");
    assert!(def.get("revision").is_none());
    assert_eq!(def["tags"][0]["key"], "team");
}

#[test]
fn untagged_describe_output_has_no_empty_tags() {
    let mut d = described();
    d["tags"] = json!([]);
    let def = request_shape(&d);
    assert!(def.get("tags").is_none());
}

#[test]
fn errors_name_the_problem_and_the_fix() {
    let one = |def: Value, update: ImageUpdate| render(&def, &update).unwrap_err().to_string();
    let bare =
        |containers: Value| json!({"family": "payments", "containerDefinitions": containers});

    let e = one(described(), ImageUpdate::container("web", pushed()));
    assert!(
        e.contains("no container named \"web\"") && e.contains("it has: api, worker, envoy"),
        "{e}"
    );

    let e = one(
        described(),
        ImageUpdate::same_repository(format!("{REG}/billing/api@{NEW}")),
    );
    assert!(e.contains(&format!("from {REG}/billing/api")), "{e}");
    assert!(
        e.contains("api: 111122223333")
            && e.contains("envoy: public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29"),
        "{e}"
    );
    assert!(e.contains("`container-name` or `containers`"), "{e}");

    let e = one(bare(json!([])), ImageUpdate::container("api", pushed()));
    assert!(e.contains("no containerDefinitions"), "{e}");
    let e = one(
        json!({"family": "payments"}),
        ImageUpdate::container("api", pushed()),
    );
    assert!(e.contains("no containerDefinitions"), "{e}");

    let e = one(
        json!({"containerDefinitions": [{"name": "api", "image": "x"}]}),
        ImageUpdate::container("api", pushed()),
    );
    assert!(e.contains("no `family`"), "{e}");

    let update = ImageUpdate::container("api", "reg.io/Payments/api:v1");
    let err = render(&described(), &update).unwrap_err();
    // The message names the problem; the cause (printed under it) names the bad component.
    let cause = std::error::Error::source(&err).unwrap().to_string();
    assert!(cause.contains("\"Payments\" is not valid"), "{cause}");
    let e = err.to_string();
    assert!(
        e.contains(
            "\"reg.io/Payments/api:v1\" for container \"api\" is not a valid image reference"
        ),
        "{e}"
    );
    assert!(
        e.contains("registry/repository[:tag][@sha256:digest]"),
        "{e}"
    );

    let e = parse_task_definition_file("{\"family\": ", "td.json")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("td.json is not valid JSON"), "{e}");
    let e = parse_task_definition_file("family: [unclosed", "td.yaml")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("td.yaml is not valid YAML"), "{e}");
    let e = parse_task_definition_file("[1, 2]", "td.json")
        .unwrap_err()
        .to_string();
    assert!(e.contains("holds an array, not a task definition"), "{e}");
}

#[test]
fn a_failed_render_leaves_no_partial_result() {
    // The second line names a missing container: nothing is returned, not a half-updated value.
    let update = ImageUpdate::containers([("api", pushed()), ("web", pushed())]);
    assert!(matches!(
        render(&described(), &update),
        Err(TaskDefError::ContainerNotFound { .. })
    ));
}

#[test]
fn unknown_top_level_fields_are_kept_and_reported() {
    let mut d = request_shape(&described());
    d["fieldEcsAddsIn2027"] = json!({"enabled": true});
    let r = render(&d, &ImageUpdate::container("api", pushed())).unwrap();
    assert_eq!(r.unknown_fields, ["fieldEcsAddsIn2027"]);
    assert_eq!(r.request["fieldEcsAddsIn2027"]["enabled"], true);
}

#[test]
fn yaml_scalars_become_the_strings_the_api_wants() {
    let yaml = "family: payments\ncpu: 256\nmemory: 512\ntags:\n  - {key: tier, value: 1}\n\
                containerDefinitions:\n  - name: api\n    image: reg.io/payments/api:v1\n\
                \x20   environment:\n      - {name: PORT, value: 8080}\n      - {name: DEBUG, value: false}\n\
                \x20   dockerLabels: {version: 2}\n\
                \x20   logConfiguration: {logDriver: awslogs, options: {awslogs-create-group: true}}\n";
    let def = parse_task_definition_file(yaml, "td.yaml").unwrap();
    let r = render(&def, &ImageUpdate::container("api", pushed())).unwrap();
    let q = &r.request;
    assert_eq!((&q["cpu"], &q["memory"]), (&json!("256"), &json!("512")));
    assert_eq!(q["tags"][0]["value"], "1");
    let api = &q["containerDefinitions"][0];
    assert_eq!(
        api["environment"],
        json!([{"name": "PORT", "value": "8080"}, {"name": "DEBUG", "value": "false"}])
    );
    assert_eq!(api["dockerLabels"]["version"], "2");
    assert_eq!(
        api["logConfiguration"]["options"]["awslogs-create-group"],
        "true"
    );
    // Members the API types as numbers stay numbers.
    assert!(!q.to_string().contains("\"essential\":\""));
}

#[test]
fn reserved_aws_tags_are_not_sent_back() {
    let mut d = described();
    d["tags"] = json!([
        {"key": "aws:cloudformation:stack-name", "value": "payments"},
        {"key": "AWS:other", "value": "x"},
        {"key": "team", "value": "payments"}
    ]);
    let r = render(&d, &ImageUpdate::container("api", pushed())).unwrap();
    assert_eq!(
        r.request["tags"],
        json!([{"key": "team", "value": "payments"}])
    );
    d["tags"] = json!([{"key": "aws:cloudformation:stack-name", "value": "payments"}]);
    assert!(request_shape(&d).get("tags").is_none());
}
