//! `oidc-ecs-deploy push` end to end: the built binary pushes an OCI layout to Debian's
//! docker-registry (htpasswd auth), prints `image-digest=` / `image-ref=` on stdout, a re-push
//! uploads nothing, a wrong password fails with a message naming the registry's refusal, and
//! `--dry-run` prints the plan and pushes nothing. A registry whose Bearer challenge names a
//! plain-http token service off this machine is refused before any credentials go there.

mod common;
#[path = "image_fixtures.rs"]
mod fixtures;

use common::{ActionRun, Run, assert_no_leaks};
use fixtures::*;
use oidc_ecs_deploy::image::Digest;
use testbed::{FaultProxy, Matcher, Registry};

/// The password the registries of these tests accept (the secret `--password-stdin` carries).
const PASSWORD: &str = "hunter2-registry-password";

/// The login the password-protected registries of these tests take (the password on stdin).
const LOGIN: [&str; 3] = ["--username", "ci", "--password-stdin"];

/// The arguments every push here gives: the source, the registry, the repository and a tag;
/// `more` follows (more tags, the login, `--dry-run`).
fn push_args<'a>(
    source: &'a str,
    reg: &'a Registry,
    repository: &'a str,
    tag: &'a str,
    more: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        "--source",
        source,
        "--registry",
        reg.endpoint(),
        "--repository",
        repository,
        "--tag",
        tag,
    ];
    args.extend_from_slice(more);
    args
}

/// Run `push` with `args`, the password (if any) on stdin, outside any GitHub runner.
async fn run_push(args: &[&str], password: Option<&str>) -> Run {
    let mut run =
        ActionRun::cli(std::iter::once("push").chain(args.iter().copied())).env("RUST_LOG", "info");
    if let Some(p) = password {
        run = run.password_stdin(p);
    }
    let out = run.run().await;
    eprintln!("{}", out.dump());
    out
}

fn stdout_value(out: &Run, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
}

fn stderr(out: &Run) -> String {
    out.stderr.clone()
}

#[tokio::test]
async fn push_then_repush_prints_the_digest_and_uploads_nothing_the_second_time() {
    let reg = Registry::start("ci", PASSWORD).await.unwrap();
    let mut layout = OciLayout::create();
    let img = layout.image(&[200_000, 1_100_000], "amd64");
    layout.add_entry(&img.manifest, Some("v1"));
    let source = format!("oci:{}:v1", layout.path().display());
    let login_and_latest = [&["--tag", "latest"][..], &LOGIN].concat();
    let args = push_args(&source, &reg, "team/app", "v1", &login_and_latest);

    let first = run_push(&args, Some(PASSWORD)).await;
    first.assert_code(0);
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

    let again = run_push(&args, Some(PASSWORD)).await;
    again.assert_code(0);
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
    let reg = Registry::start("ci", PASSWORD).await.unwrap();
    let mut layout = OciLayout::create();
    let img = layout.image(&[50_000], "amd64");
    layout.add_entry(&img.manifest, None);
    let source = format!("oci:{}", layout.path().display());
    let args = push_args(&source, &reg, "app", "v1", &LOGIN);
    let out = run_push(&args, Some("wrong-password-given")).await;
    assert_eq!(out.code, 3, "a refused login is a refusal");
    let log = stderr(&out);
    assert!(log.contains("401 Unauthorized"), "{log}");
    assert!(log.contains("did not accept user `ci`"), "{log}");
    assert!(stdout_value(&out, "image-digest").is_none());
    assert_eq!(fetch_manifest(&reg, "app", "v1").await.0, 404);

    // No login at all against a registry that wants one: the hint says how to give one.
    let anonymous = run_push(&push_args(&source, &reg, "app", "v1", &[]), None).await;
    assert_eq!(anonymous.code, 3);
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
    let args = push_args(&source, &reg, "app", "v1", &["--dry-run"]);
    let out = run_push(&args, None).await;
    out.assert_code(0);
    let plan = out.stdout.clone();
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
        &push_args("oci:/nonexistent/layout", &reg, "app", "v1", &[]),
        None,
    )
    .await;
    assert_eq!(missing.code, 2);
    assert!(
        stderr(&missing).contains("/nonexistent/layout"),
        "{}",
        stderr(&missing)
    );

    let mut layout = OciLayout::create();
    let img = layout.image(&[1_000], "amd64");
    layout.add_entry(&img.manifest, None);
    let source = format!("oci:{}", layout.path().display());
    let bad_tag = run_push(&push_args(&source, &reg, "app", "no/slashes", &[]), None).await;
    assert_eq!(bad_tag.code, 2);
    assert!(
        stderr(&bad_tag).contains("invalid tag"),
        "{}",
        stderr(&bad_tag)
    );
}

/// Pushes a one-layer image to `reg` as user `ci` with the password on stdin.
async fn push_with_login(reg: &Registry) -> Run {
    let mut layout = OciLayout::create();
    let img = layout.image(&[10_000], "amd64");
    layout.add_entry(&img.manifest, None);
    let source = format!("oci:{}", layout.path().display());
    run_push(
        &push_args(&source, reg, "app", "v1", &LOGIN),
        Some(PASSWORD),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_http_token_realm_is_refused_and_gets_no_credentials() {
    // A token service that records what reaches it. `0.0.0.0` reaches it too, but is not a
    // loopback name: a realm check that let it through would show up here.
    let token_service = FaultProxy::start(None, Vec::new(), Matcher::All, "")
        .await
        .expect("start the recorder");
    let port = token_service.endpoint().rsplit(':').next().unwrap();
    let realm = format!("http://0.0.0.0:{port}/token");
    let reg = Registry::start_with_token_realm(&realm)
        .await
        .expect("start docker-registry (scripts/setup.sh installs it)");

    let out = push_with_login(&reg).await;
    assert_eq!(out.code, 3, "a refused token service is a refusal");
    let error = out.error_block();
    assert!(
        error.contains(&format!(
            "asks for a token from \"{realm}\", which was refused"
        )) && error.contains("plain http"),
        "{}",
        out.dump()
    );
    assert!(out.hint().contains("https"), "{}", out.dump());
    assert_eq!(
        token_service.request_count(),
        0,
        "nothing went to the realm"
    );
    assert!(
        !reg.storage_dir()
            .join("docker/registry/v2/repositories")
            .exists(),
        "nothing was pushed"
    );

    // The same challenge naming the loopback address: the token request goes there, with the
    // login (the recorder answers no token, so the push still fails).
    let loopback = Registry::start_with_token_realm(&format!("{}/token", token_service.endpoint()))
        .await
        .expect("start docker-registry");
    let out = push_with_login(&loopback).await;
    assert_ne!(out.code, 0, "{}", out.dump());
    let asked = token_service.requests();
    assert!(
        asked
            .first()
            .is_some_and(|r| r.path.starts_with("/token?service=testbed-registry")
                && r.header("authorization")
                    .is_some_and(|a| a.starts_with("Basic "))),
        "{asked:?}\n{}",
        out.dump()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_workflow_step_the_stdin_password_is_masked_before_anything_else() {
    let reg = Registry::start("ci", PASSWORD).await.unwrap();
    let mut layout = OciLayout::create();
    let img = layout.image(&[20_000], "amd64");
    layout.add_entry(&img.manifest, None);
    let source = format!("oci:{}", layout.path().display());
    // A `run:` step: GITHUB_ACTIONS and the output file are set, the password comes from a pipe.
    let args = push_args(&source, &reg, "app", "v1", &LOGIN);
    let job = ActionRun::cli(std::iter::once("push").chain(args))
        .env("GITHUB_ACTIONS", "true")
        .env("RUST_LOG", "info")
        .password_stdin(PASSWORD)
        .interleaved();
    let outputs = job.file("github_output", "");
    let run = job
        .env("GITHUB_OUTPUT", outputs.to_str().unwrap())
        .run()
        .await;

    run.assert_code(0);
    assert_eq!(
        run.output("image-digest"),
        Some(img.manifest.digest.to_string().as_str())
    );
    assert_no_leaks(&run, &[("the --password-stdin password", PASSWORD)], false);
    assert_eq!(
        run.combined.lines().next(),
        Some(format!("::add-mask::{PASSWORD}").as_str()),
        "the mask is the first line, before the login\n{}",
        run.dump()
    );
}
