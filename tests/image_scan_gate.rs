//! The scan gate end to end: the built binary pushes to a registry whose pushes moto's ECR sees
//! (`Registry::start_synced_with_moto`: the registry notifies, moto gets the same manifest and
//! scans it; moto's default findings are one HIGH, CVE-9999-9999), then waits for the scan and
//! refuses or passes by the threshold.

mod common;
#[path = "image_fixtures.rs"]
mod fixtures;

use common::{ActionRun, unique};
use fixtures::OciLayout;
use testbed::{Moto, Registry};

async fn pushed_with_threshold(threshold: &str) -> (common::Run, String) {
    let moto = Moto::shared().await.expect("start moto (scripts/setup.sh installs it)");
    let registry = Registry::start_synced_with_moto(moto).await.expect("start docker-registry");
    let mut layout = OciLayout::create();
    let image = layout.image(&[4_096], "amd64");
    layout.add_entry(&image.manifest, None);
    let repository = unique("scanned");
    let run = ActionRun::new()
        .aws(moto.endpoint())
        .env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        .with("aws-region", "us-east-1")
        .with("registry-endpoint", registry.endpoint())
        .with("repository", &repository)
        .with("create-repository", "true")
        .with("image-source", &format!("oci:{}", layout.path().display()))
        .with("scan-severity-threshold", threshold)
        .run()
        .await;
    let synced = registry.ecr_sync().expect("synced registry").synced();
    assert!(synced.iter().any(|(r, _, _)| *r == repository), "moto never saw the push: {synced:?}\n{}", run.dump());
    (run, image.manifest.digest.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finding_at_the_threshold_refuses_the_image() {
    let (run, digest) = pushed_with_threshold("HIGH").await;
    run.assert_code(3);
    run.assert_stderr_has(&["the image scan found 1 finding(s) at or above HIGH", "HIGH", "CVE-9999-9999", "scan-severity-threshold"]);
    run.assert_annotation("Refused", "CVE-9999-9999");
    // The image was pushed (the scan needs it), but no output names it as deployable.
    assert_eq!(run.output("image-digest"), None, "{}", run.dump());
    assert!(!digest.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn findings_below_the_threshold_pass() {
    let (run, digest) = pushed_with_threshold("CRITICAL").await;
    run.assert_code(0);
    run.assert_stderr_has(&["scan complete: nothing at or above CRITICAL"]);
    assert_eq!(run.output("image-digest"), Some(digest.as_str()), "{}", run.dump());
}
