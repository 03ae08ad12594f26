//! The raw JSON 1.1 ECS client against the ECS simulator: a task definition keeps every field,
//! known to the SDK or not, through describe -> register, and errors carry ECS's code.

use oidc_ecs_deploy::rollout::raw_ecs::RawEcs;
use serde_json::json;
use testbed::EcsSimulator;

async fn sdk_config() -> aws_config::SdkConfig {
    let credentials = aws_credential_types::Credentials::new("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", None, None, "test");
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(credentials)
        .load()
        .await
}

#[tokio::test]
async fn a_registered_definition_keeps_fields_the_sdk_does_not_know() {
    let sim = EcsSimulator::start().await.unwrap();
    let ecs = RawEcs::new(&sdk_config().await, Some(sim.endpoint()));
    let request = json!({
        "family": "raw-roundtrip",
        "containerDefinitions": [{"name": "api", "image": "repo/api@sha256:aaaa", "essential": true,
                                  "futureContainerField": {"kept": true}}],
        "futureTaskField": "from a newer ECS",
        "tags": [{"key": "team", "value": "payments"}]
    });
    let registered = ecs.register_task_definition(&request).await.unwrap();
    let arn = registered["taskDefinition"]["taskDefinitionArn"].as_str().expect("an ARN").to_owned();
    assert!(arn.contains("task-definition/raw-roundtrip:"), "{arn}");
    assert_eq!(sim.calls("RegisterTaskDefinition"), 1);

    let described = ecs.describe_task_definition(&arn).await.unwrap();
    let def = &described["taskDefinition"];
    assert_eq!(def["futureTaskField"], "from a newer ECS");
    assert_eq!(def["containerDefinitions"][0]["futureContainerField"], json!({"kept": true}));
    assert_eq!(described["tags"], json!([{"key": "team", "value": "payments"}]));
}

#[tokio::test]
async fn an_unknown_task_definition_is_a_typed_client_error() {
    let sim = EcsSimulator::start().await.unwrap();
    let ecs = RawEcs::new(&sdk_config().await, Some(sim.endpoint()));
    let err = ecs.describe_task_definition("no-such-family:9").await.unwrap_err();
    assert_eq!(err.code(), Some("ClientException"), "{err}");
    assert!(err.to_string().contains("DescribeTaskDefinition"), "{err}");
    // A refusal is not retried.
    assert_eq!(sim.calls("DescribeTaskDefinition"), 1);
}
