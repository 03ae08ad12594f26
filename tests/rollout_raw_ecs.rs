//! The raw JSON 1.1 ECS client against the ECS simulator: a task definition keeps every field,
//! known to the SDK or not, through describe -> register, and errors carry ECS's code. Behind
//! the fault proxy: RegisterTaskDefinition is sent again only when the failed attempt surely
//! did not take effect, and after an ambiguous failure the revision sent is looked for first,
//! so one call never leaves two revisions.

use std::time::Duration;

use oidc_ecs_deploy::retry::RetryPolicy;
use oidc_ecs_deploy::rollout::raw_ecs::RawEcs;
use serde_json::{Value, json};
use testbed::{EcsSimulator, Fault, FaultProxy, Matcher};

async fn sdk_config() -> aws_config::SdkConfig {
    let credentials = aws_credential_types::Credentials::new(
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        None,
        None,
        "test",
    );
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
    let arn = registered["taskDefinition"]["taskDefinitionArn"]
        .as_str()
        .expect("an ARN")
        .to_owned();
    assert!(arn.contains("task-definition/raw-roundtrip:"), "{arn}");
    assert_eq!(sim.calls("RegisterTaskDefinition"), 1);

    let described = ecs.describe_task_definition(&arn).await.unwrap();
    let def = &described["taskDefinition"];
    assert_eq!(def["futureTaskField"], "from a newer ECS");
    assert_eq!(
        def["containerDefinitions"][0]["futureContainerField"],
        json!({"kept": true})
    );
    assert_eq!(
        described["tags"],
        json!([{"key": "team", "value": "payments"}])
    );
}

#[tokio::test]
async fn an_unknown_task_definition_is_a_typed_client_error() {
    let sim = EcsSimulator::start().await.unwrap();
    let ecs = RawEcs::new(&sdk_config().await, Some(sim.endpoint()));
    let err = ecs
        .describe_task_definition("no-such-family:9")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ClientException"), "{err}");
    assert!(err.to_string().contains("DescribeTaskDefinition"), "{err}");
    // A refusal is not retried.
    assert_eq!(sim.calls("DescribeTaskDefinition"), 1);
}

/// The simulator behind a fault proxy that faults RegisterTaskDefinition per `plan`, and a
/// client talking to the proxy with short retry waits.
async fn behind_faults(plan: Vec<Fault>) -> (EcsSimulator, FaultProxy, RawEcs) {
    let sim = EcsSimulator::start().await.unwrap();
    let matcher = Matcher::AmzTarget(".RegisterTaskDefinition".into());
    let proxy = FaultProxy::start(Some(sim.endpoint().to_owned()), plan, matcher, "")
        .await
        .unwrap();
    let policy = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    };
    let ecs = RawEcs::new(&sdk_config().await, Some(proxy.endpoint())).with_retry(policy);
    (sim, proxy, ecs)
}

fn request(family: &str) -> Value {
    json!({"family": family, "containerDefinitions": [{"name": "api", "image": "repo/api@sha256:bbbb", "essential": true}]})
}

fn json_error(status: u16, error_type: &str) -> Fault {
    Fault::JsonError {
        status,
        error_type: error_type.into(),
        message: "injected".into(),
    }
}

fn revision(answer: &Value) -> &str {
    answer["taskDefinition"]["taskDefinitionArn"]
        .as_str()
        .expect("an ARN")
}

#[tokio::test]
async fn a_registration_whose_answer_was_lost_is_found_not_registered_twice() {
    let (sim, proxy, ecs) = behind_faults(vec![Fault::Forward, Fault::ForwardThenReset]).await;
    // Another revision of the family already exists: the search must tell them apart.
    let mut older = request("lost-answer");
    older["containerDefinitions"][0]["image"] = json!("repo/api@sha256:aaaa");
    ecs.register_task_definition(&older).await.unwrap();
    let answer = ecs
        .register_task_definition(&request("lost-answer"))
        .await
        .unwrap();
    assert!(
        revision(&answer).ends_with("task-definition/lost-answer:2"),
        "{answer}"
    );
    assert_eq!(
        answer["taskDefinition"]["containerDefinitions"][0]["image"],
        "repo/api@sha256:bbbb"
    );
    // Each request reached ECS once; none was sent again.
    assert_eq!(sim.calls("RegisterTaskDefinition"), 2);
    assert_eq!(proxy.request_count(), 2);
    assert!(sim.calls("ListTaskDefinitions") >= 1);
}

#[tokio::test]
async fn a_throttled_registration_is_sent_again_without_looking() {
    let (sim, proxy, ecs) = behind_faults(vec![json_error(400, "ThrottlingException")]).await;
    let answer = ecs
        .register_task_definition(&request("throttled"))
        .await
        .unwrap();
    assert!(
        revision(&answer).ends_with("task-definition/throttled:1"),
        "{answer}"
    );
    assert_eq!(proxy.request_count(), 2);
    assert_eq!(
        sim.calls("RegisterTaskDefinition"),
        1,
        "the throttled attempt never reached ECS"
    );
    assert_eq!(
        sim.calls("ListTaskDefinitions"),
        0,
        "a refusal is not ambiguous"
    );
}

#[tokio::test]
async fn after_a_server_error_without_the_revision_it_registers_once_more() {
    let (sim, proxy, ecs) = behind_faults(vec![json_error(500, "ServerException")]).await;
    let answer = ecs
        .register_task_definition(&request("server-error"))
        .await
        .unwrap();
    assert!(
        revision(&answer).ends_with("task-definition/server-error:1"),
        "{answer}"
    );
    assert_eq!(proxy.request_count(), 2);
    assert_eq!(
        sim.calls("ListTaskDefinitions"),
        1,
        "looked before registering again"
    );
    assert_eq!(sim.calls("RegisterTaskDefinition"), 1);
}

#[tokio::test]
async fn a_refusal_is_final_and_a_persistent_failure_says_how_long_it_was_tried() {
    let (sim, proxy, ecs) = behind_faults(vec![json_error(400, "ClientException")]).await;
    let err = ecs
        .register_task_definition(&request("refused"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ClientException"), "{err}");
    assert_eq!(proxy.request_count(), 1);

    proxy.push((0..3).map(|_| json_error(400, "ThrottlingException")));
    let err = ecs
        .register_task_definition(&request("refused"))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("ThrottlingException") && text.contains("gave up after 3 attempts over "),
        "{text}"
    );
    assert_eq!(
        sim.calls("RegisterTaskDefinition"),
        0,
        "nothing reached ECS"
    );
}
