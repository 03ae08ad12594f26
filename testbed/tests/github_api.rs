//! The GitHub API mock refuses what GitHub would refuse: prism serving the cut description
//! answers a valid request with the description's example and no violation, and an invalid one
//! (a missing field, an unknown state, a path the action does not use) with an error that
//! `violations()` reports, so a test asserting "no violations" can fail.

use serde_json::{Value, json};
use testbed::GithubApi;
use testbed::net::http_client;

async fn post(api: &GithubApi, path: &str, body: Value) -> (u16, Value) {
    let response = http_client()
        .post(format!("{}{path}", api.endpoint()))
        .header("authorization", "Bearer ghs_example")
        .json(&body)
        .send()
        .await
        .expect("prism answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_requests_pass_and_invalid_ones_are_violations() {
    let api = GithubApi::start()
        .await
        .expect("start prism (scripts/setup.sh installs it)");

    let (status, created) = post(
        &api,
        "/repos/octo-org/payments/deployments",
        json!({"ref": "main", "environment": "production", "required_contexts": []}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert!(
        created["id"].is_u64(),
        "the description's example: {created}"
    );
    let (status, _) = post(
        &api,
        "/repos/octo-org/payments/deployments/1/statuses",
        json!({"state": "in_progress", "log_url": "https://github.com/o/r/actions/runs/1"}),
    )
    .await;
    assert_eq!(status, 201);
    let none = api.violations().await;
    assert!(none.is_empty(), "{none:#?}");

    let (status, _) = post(
        &api,
        "/repos/octo-org/payments/deployments",
        json!({"environment": "production"}),
    )
    .await;
    assert_eq!(status, 422, "a Deployment without `ref`");
    let (status, _) = post(
        &api,
        "/repos/octo-org/payments/deployments/1/statuses",
        json!({"state": "done"}),
    )
    .await;
    assert_eq!(status, 422, "a state GitHub does not know");
    let (status, _) = post(
        &api,
        "/repos/octo-org/payments/issues",
        json!({"title": "t"}),
    )
    .await;
    assert_eq!(status, 404, "a path outside the cut description");

    let violations = api.violations().await;
    assert_eq!(
        violations
            .iter()
            .filter(|v| v.contains("> Responding with \"422\""))
            .count(),
        2,
        "{violations:#?}\n{}",
        api.log()
    );
    assert_eq!(
        violations
            .iter()
            .filter(|v| v.contains("NO_PATH_MATCHED"))
            .count(),
        1,
        "{violations:#?}\n{}",
        api.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn examples_come_from_githubs_description() {
    let listed = GithubApi::example("/repos/{owner}/{repo}/deployments", "get", 200)
        .await
        .expect("an example");
    assert!(
        listed[0]["sha"].is_string() && listed[0]["environment"].is_string(),
        "{listed}"
    );
    let statuses = GithubApi::example(
        "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses",
        "get",
        200,
    )
    .await
    .expect("an example");
    assert!(statuses[0]["state"].is_string(), "{statuses}");
    assert!(
        GithubApi::example("/repos/{owner}/{repo}/deployments", "delete", 204)
            .await
            .is_err(),
        "not in the cut"
    );
}
