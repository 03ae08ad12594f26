//! Tests of the `testbed up` binary: it writes the state file once everything answers, cleans
//! up on SIGTERM, and its children die with it even on SIGKILL (PR_SET_PDEATHSIG).

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use testbed::http_client;

fn up(state: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_testbed"))
        .args([
            "up",
            "--state",
            state.to_str().unwrap(),
            "--claims",
            r#"{"repository":"acme/api"}"#,
        ])
        .spawn()
        .unwrap()
}

async fn read_state(state: &Path, child: &mut Child) -> HashMap<String, String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !state.exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "testbed up exited early"
        );
        assert!(Instant::now() < deadline, "no state file after 60 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = std::fs::read_to_string(state).unwrap();
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

async fn answers(url: &str) -> bool {
    http_client()
        .get(url)
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .is_ok()
}

async fn gone_within(url: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if !answers(url).await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: plain syscall on our own child's pid.
    unsafe { libc::kill(child.id() as i32, sig) };
}

#[tokio::test]
async fn up_serves_then_cleans_up_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("testbed.env");
    let mut child = up(&state);
    let env = read_state(&state, &mut child).await;

    let registry = &env["REGISTRY_URL"];
    assert_eq!(registry, &format!("http://{}", env["REGISTRY"]));
    let v2 = http_client()
        .get(format!("{registry}/v2/"))
        .basic_auth(&env["REGISTRY_USER"], Some(&env["REGISTRY_PASSWORD"]))
        .send()
        .await
        .unwrap();
    assert_eq!(v2.status().as_u16(), 200);
    assert_eq!(env["REGISTRY_PASSWORD"], "123456789012-auth-token");
    let token = http_client()
        .get(format!(
            "{}&audience=sts.amazonaws.com",
            env["ACTIONS_ID_TOKEN_REQUEST_URL"]
        ))
        .bearer_auth(&env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status().as_u16(), 200);
    let moto = format!("{}/moto-api/", env["AWS_ENDPOINT_URL"]);
    assert!(answers(&moto).await);

    signal(&child, libc::SIGTERM);
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status}");
    assert!(!state.exists(), "state file left behind");
    assert!(
        !answers(&format!("{registry}/v2/")).await,
        "registry outlived testbed up"
    );
    if std::env::var_os(testbed::moto::MOTO_URL_ENV).is_none() {
        assert!(!answers(&moto).await, "moto outlived testbed up");
    }
}

#[tokio::test]
async fn children_die_with_a_killed_parent() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("testbed.env");
    let mut child = up(&state);
    let env = read_state(&state, &mut child).await;
    signal(&child, libc::SIGKILL);
    let _ = tokio::task::spawn_blocking(move || child.wait()).await;
    let registry = format!("{}/v2/", env["REGISTRY_URL"]);
    assert!(
        gone_within(&registry, Duration::from_secs(5)).await,
        "registry outlived a SIGKILLed parent"
    );
    if std::env::var_os(testbed::moto::MOTO_URL_ENV).is_none() {
        let moto = format!("{}/moto-api/", env["AWS_ENDPOINT_URL"]);
        assert!(
            gone_within(&moto, Duration::from_secs(5)).await,
            "moto outlived a SIGKILLed parent"
        );
    }
}
