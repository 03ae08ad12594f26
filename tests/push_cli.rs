//! `oidc-ecs-deploy push` end to end: the built binary pushes an OCI layout to Debian's
//! docker-registry (htpasswd auth), prints `image-digest=` / `image-ref=` on stdout, a re-push
//! uploads nothing, a wrong password fails with a message naming the registry's refusal, and
//! `--dry-run` prints the plan and pushes nothing.

#[path = "image_fixtures.rs"]
mod fixtures;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use fixtures::*;
use oidc_ecs_deploy::image::Digest;
use testbed::Registry;

const BIN: &str = env!("CARGO_BIN_EXE_oidc-ecs-deploy");

/// Run `push` with `args`, the password (if any) on stdin, outside any GitHub runner.
fn run_push(args: &[&str], password: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("push")
        .args(args)
        .env_remove("GITHUB_OUTPUT")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env("RUST_LOG", "info")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run the binary");
    let mut stdin = child.stdin.take().unwrap();
    if let Some(p) = password {
        writeln!(stdin, "{p}").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    eprintln!(
        "--- exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout_value(out: &Output, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn push_then_repush_prints_the_digest_and_uploads_nothing_the_second_time() {
    let reg = Registry::start("ci", "hunter2").await.unwrap();
    let mut layout = OciLayout::create();
    let img = layout.image(&[200_000, 1_100_000], "amd64");
    layout.add_entry(&img.manifest, Some("v1"));
    let source = format!("oci:{}:v1", layout.path().display());
    let args = [
        "--source",
        &source,
        "--registry",
        reg.endpoint(),
        "--repository",
        "team/app",
        "--tag",
        "v1",
        "--tag",
        "latest",
        "--username",
        "ci",
        "--password-stdin",
    ];

    let first = run_push(&args, Some("hunter2"));
    assert!(first.status.success());
    let digest = stdout_value(&first, "image-digest").expect("image-digest line");
    assert_eq!(digest, img.manifest.digest.to_string());
    assert_eq!(
        stdout_value(&first, "image-ref").unwrap(),
        format!("{}/team/app@{digest}", reg.host())
    );
    assert!(
        stderr(&first).contains("uploaded"),
        "per-blob progress on stderr"
    );
    for tag in ["v1", "latest"] {
        let (status, _, body) = fetch_manifest(&reg, "team/app", tag).await;
        assert_eq!(status, 200, "{tag}");
        assert_eq!(Digest::of(&body).to_string(), digest, "{tag}");
    }

    let again = run_push(&args, Some("hunter2"));
    assert!(again.status.success());
    assert_eq!(stdout_value(&again, "image-digest").unwrap(), digest);
    let log = stderr(&again);
    assert!(log.contains("nothing to push"), "{log}");
    assert!(
        !log.contains("uploaded"),
        "a re-push uploads nothing: {log}"
    );
}

#[tokio::test]
async fn a_wrong_password_fails_clearly_and_pushes_nothing() {
    let reg = Registry::start("ci", "hunter2").await.unwrap();
    let mut layout = OciLayout::create();
    let img = layout.image(&[50_000], "amd64");
    layout.add_entry(&img.manifest, None);
    let source = format!("oci:{}", layout.path().display());
    let args = [
        "--source",
        &source,
        "--registry",
        reg.endpoint(),
        "--repository",
        "app",
        "--tag",
        "v1",
        "--username",
        "ci",
        "--password-stdin",
    ];
    let out = run_push(&args, Some("wrong"));
    assert_eq!(out.status.code(), Some(3), "a refused login is a refusal");
    let log = stderr(&out);
    assert!(log.contains("401 Unauthorized"), "{log}");
    assert!(log.contains("did not accept user `ci`"), "{log}");
    assert!(stdout_value(&out, "image-digest").is_none());
    assert_eq!(fetch_manifest(&reg, "app", "v1").await.0, 404);

    // No login at all against a registry that wants one: the hint says how to give one.
    let anonymous = run_push(&args[..8], None);
    assert_eq!(anonymous.status.code(), Some(3));
    assert!(
        stderr(&anonymous).contains("--password-stdin"),
        "{}",
        stderr(&anonymous)
    );
}

#[tokio::test]
async fn dry_run_prints_the_plan_and_pushes_nothing() {
    let reg = Registry::start_anonymous().await.unwrap();
    let mut layout = OciLayout::create();
    let img = layout.image(&[70_000, 80_000], "amd64");
    layout.add_entry(&img.manifest, None);
    let source = format!("oci:{}", layout.path().display());
    let args = [
        "--source",
        &source,
        "--registry",
        reg.endpoint(),
        "--repository",
        "app",
        "--tag",
        "v1",
        "--dry-run",
    ];
    let out = run_push(&args, None);
    assert!(out.status.success());
    let plan = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(plan.contains(&img.manifest.digest.to_string()), "{plan}");
    assert!(plan.contains("tag v1: new"), "{plan}");
    assert_eq!(
        plan.matches(": upload").count(),
        3,
        "config and two layers: {plan}"
    );
    assert_eq!(fetch_manifest(&reg, "app", "v1").await.0, 404);
    let (status, _) = fetch_blob(&reg, "app", &img.layers[0].digest).await;
    assert_eq!(status, 404, "no blob was uploaded");
}

#[tokio::test]
async fn bad_input_exits_2() {
    let reg = Registry::start_anonymous().await.unwrap();
    let missing = run_push(
        &[
            "--source",
            "oci:/nonexistent/layout",
            "--registry",
            reg.endpoint(),
            "--repository",
            "app",
            "--tag",
            "v1",
        ],
        None,
    );
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("/nonexistent/layout"),
        "{}",
        stderr(&missing)
    );

    let mut layout = OciLayout::create();
    let img = layout.image(&[1_000], "amd64");
    layout.add_entry(&img.manifest, None);
    let source = format!("oci:{}", layout.path().display());
    let bad_tag = run_push(
        &[
            "--source",
            &source,
            "--registry",
            reg.endpoint(),
            "--repository",
            "app",
            "--tag",
            "no/slashes",
        ],
        None,
    );
    assert_eq!(bad_tag.status.code(), Some(2));
    assert!(
        stderr(&bad_tag).contains("invalid tag"),
        "{}",
        stderr(&bad_tag)
    );
}
