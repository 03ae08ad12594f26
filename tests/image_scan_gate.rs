//! The scan gate end to end: the built binary pushes to a registry whose pushes moto's ECR sees
//! (`Bed::start_synced`: the registry notifies, moto gets the same manifest and, when ECR would
//! scan the push by itself, scans it; moto's default findings are one HIGH, CVE-9999-9999), then
//! waits for the scan and refuses or passes by the threshold.
//!
//! What moto cannot do is done by the test bed: findings on a second page are served by a
//! `FaultProxy` in front of moto's ECR answering the request that carries the first page's
//! `nextToken` (moto ignores the token); Inspector's `enhancedFindings` are moto's own
//! scan-finding results (`Moto::ecr_scan_results`) in a region whose registry scanning
//! configuration is ENHANCED (moto keeps one per region, so the other tests' BASIC stays).

#[path = "common/image_bed.rs"]
mod bed;
mod common;
#[path = "image_fixtures.rs"]
mod fixtures;

use bed::{Bed, ECR, SHA, assert_summary_row, layout_with_image, oci, repo_name};
use common::ActionRun;
use serde_json::{Value, json};
use testbed::fault::{Fault, STS_XMLNS};
use testbed::{FaultProxy, Matcher};

const ENHANCED_REGION: &str = "eu-west-1";

/// A job pushing a fresh image to `repo` with the gate at `threshold`; also returns the
/// image's digest.
fn gated_job(
    bed: &Bed,
    repo: &str,
    threshold: &str,
) -> (ActionRun, String, fixtures::OciLayout, fixtures::BuiltImage) {
    let (layout, img) = layout_with_image();
    let job = bed
        .job(repo, &oci(layout.path()))
        .with("scan-severity-threshold", threshold);
    (job, img.manifest.digest.to_string(), layout, img)
}

/// The job in moto's region `region` (ECR's API and the registry's mirroring both there).
fn in_region(job: ActionRun, region: &str) -> ActionRun {
    job.with("aws-region", region)
}

/// A scan result as `DescribeImageScanFindings` answers it.
fn scan_result(repo: &str, digest: &str, status: &str, findings: Value) -> Value {
    json!({
        "registryId": "123456789012",
        "repositoryName": repo,
        "imageId": { "imageDigest": digest },
        "imageScanStatus": { "status": status, "description": "The scan was completed successfully." },
        "imageScanFindings": findings,
    })
}

fn basic_finding(severity: &str, name: &str) -> Value {
    json!({ "name": name, "severity": severity, "uri": format!("https://cve.example/{name}") })
}

async fn make_registry_enhanced(bed: &Bed) {
    let config = json!({ "scanType": "ENHANCED", "rules": [{ "scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{ "filter": "e2e/enhanced-*", "filterType": "WILDCARD" }] }] });
    bed.moto
        .json_in(
            ENHANCED_REGION,
            "ecr",
            &format!("{ECR}.PutRegistryScanningConfiguration"),
            &config,
        )
        .await
        .expect("PutRegistryScanningConfiguration");
}

/// A proxy in front of moto's ECR: the requests `matcher` selects are recorded and get `plan`'s
/// answers, then are forwarded.
async fn ecr_proxy(bed: &Bed, plan: Vec<Fault>, matcher: Matcher) -> FaultProxy {
    FaultProxy::start(
        Some(bed.moto.endpoint().to_owned()),
        plan,
        matcher,
        STS_XMLNS,
    )
    .await
    .expect("start the ECR proxy")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finding_at_the_threshold_refuses_the_image() {
    let bed = Bed::start_synced("us-east-1").await;
    let repo = repo_name("scanned");
    let (job, _, _layout, _) = gated_job(&bed, &repo, "HIGH");
    let run = job.with("create-repository", "true").run().await;
    run.assert_code(3);
    run.assert_stderr_has(&[
        "the image scan found 1 finding(s) at or above HIGH",
        "HIGH",
        "CVE-9999-9999",
        "scan-severity-threshold",
    ]);
    run.assert_annotation("Refused", "CVE-9999-9999");
    // The image was pushed (the scan needs it), but no output names it as deployable.
    assert_eq!(run.output("image-digest"), None, "{}", run.dump());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn findings_below_the_threshold_pass() {
    let bed = Bed::start_synced("us-east-1").await;
    let repo = repo_name("scanned");
    let (job, digest, _layout, _) = gated_job(&bed, &repo, "CRITICAL");
    let run = job.with("create-repository", "true").run().await;
    run.assert_code(0);
    run.assert_stderr_has(&["scan complete: nothing at or above CRITICAL"]);
    assert_eq!(
        run.output("image-digest"),
        Some(digest.as_str()),
        "{}",
        run.dump()
    );
    assert_summary_row(
        &run,
        "| scan | passed: nothing at or above CRITICAL (1 finding(s) read over 1 page; basic scanning, scan on push) |",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_scan_on_push_the_gate_starts_the_scan_and_a_rerun_judges_it_again() {
    let bed = Bed::start_synced("us-east-1").await;
    let repo = repo_name("manual-scan");
    bed.create_repository(&repo, "IMMUTABLE").await; // moto: scanOnPush false, no registry rule
    let (job, digest, layout, _) = gated_job(&bed, &repo, "CRITICAL");
    let run = job.run().await;
    run.assert_code(0);
    run.assert_stderr_has(&[
        "started a basic scan of",
        "scan complete: nothing at or above CRITICAL",
    ]);
    assert_eq!(
        run.output("image-digest"),
        Some(digest.as_str()),
        "{}",
        run.dump()
    );
    assert_summary_row(&run, "started by this run) |");

    // ECR allows one basic scan an image a day: the re-run judges the scan that exists.
    let rerun = bed
        .job(&repo, &oci(layout.path()))
        .with("scan-severity-threshold", "HIGH")
        .run()
        .await;
    rerun.assert_code(3).assert_stderr_has(&[
        "nothing to upload",
        "the image scan found 1 finding(s) at or above HIGH",
        "CVE-9999-9999",
    ]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finding_on_a_later_page_refuses_the_image() {
    let bed = Bed::start_synced("us-east-1").await;
    let repo = repo_name("paged");
    let (job, digest, _layout, _) = gated_job(&bed, &repo, "HIGH");
    let mut first = scan_result(
        &repo,
        &digest,
        "COMPLETE",
        json!({ "findings": [basic_finding("LOW", "CVE-2026-0001")], "findingSeverityCounts": { "LOW": 1, "CRITICAL": 1 } }),
    );
    first["nextToken"] = json!("page-2");
    bed.moto
        .ecr_scan_results("us-east-1", vec![first])
        .await
        .expect("queue the first page");
    let second = scan_result(
        &repo,
        &digest,
        "COMPLETE",
        json!({ "findings": [basic_finding("CRITICAL", "CVE-2026-0002")], "findingSeverityCounts": { "LOW": 1, "CRITICAL": 1 } }),
    );
    let page_two = Fault::Raw {
        status: 200,
        content_type: "application/x-amz-json-1.1".into(),
        body: second.to_string(),
    };
    let asks_page_two = Matcher::Custom(std::sync::Arc::new(|r: &testbed::RecordedRequest| {
        r.header("x-amz-target")
            .is_some_and(|t| t.ends_with(".DescribeImageScanFindings"))
            && String::from_utf8_lossy(&r.body).contains("nextToken")
    }));
    let ecr = ecr_proxy(&bed, vec![page_two], asks_page_two).await;

    let run = job
        .with("create-repository", "true")
        .env("AWS_ENDPOINT_URL_ECR", ecr.endpoint())
        .run()
        .await;

    run.assert_code(3).assert_stderr_has(&[
        "the image scan found 1 finding(s) at or above HIGH (worst: CRITICAL CVE-2026-0002)",
        "2 finding(s) read over 2 pages",
    ]);
    let asked = ecr.requests();
    assert_eq!(asked.len(), 1, "one request for page 2: {asked:?}");
    let body: Value = serde_json::from_slice(&asked[0].body).expect("a JSON request");
    assert_eq!(body["nextToken"], "page-2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enhanced_scanning_findings_are_judged_and_no_basic_scan_is_started() {
    let bed = Bed::start_synced(ENHANCED_REGION).await;
    make_registry_enhanced(&bed).await;
    let repo = repo_name("enhanced-judged");
    let (job, digest, _layout, _) = gated_job(&bed, &repo, "HIGH");
    let inspector = |severity: &str, status: &str, id: &str| json!({ "severity": severity, "status": status, "title": format!("{id} - openssl"), "packageVulnerabilityDetails": { "vulnerabilityId": id, "sourceUrl": format!("https://nvd.example/{id}") } });
    let findings = json!({ "enhancedFindings": [inspector("MEDIUM", "ACTIVE", "CVE-2026-1000"), inspector("CRITICAL", "SUPPRESSED", "CVE-2026-2222"), inspector("HIGH", "ACTIVE", "CVE-2026-1111")], "findingSeverityCounts": { "MEDIUM": 1, "HIGH": 1 } });
    bed.moto
        .ecr_scan_results(
            ENHANCED_REGION,
            vec![scan_result(&repo, &digest, "ACTIVE", findings)],
        )
        .await
        .expect("queue Inspector's findings");
    let ecr = ecr_proxy(&bed, vec![], Matcher::AmzTarget(".StartImageScan".into())).await;

    let run = in_region(job, ENHANCED_REGION)
        .with("create-repository", "true")
        .env("AWS_ENDPOINT_URL_ECR", ecr.endpoint())
        .run()
        .await;

    run.assert_code(3).assert_stderr_has(&[
        "the image scan found 1 finding(s) at or above HIGH (worst: HIGH CVE-2026-1111)",
        "enhanced scanning (Amazon Inspector)",
    ]);
    assert!(
        !run.stderr.contains("CVE-2026-2222"),
        "a suppressed finding was held against the image\n{}",
        run.dump()
    );
    assert_eq!(
        ecr.request_count(),
        0,
        "StartImageScan under enhanced scanning: {:?}",
        ecr.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enhanced_scanning_that_leaves_the_repository_out_is_refused_before_the_push() {
    let bed = Bed::start_synced(ENHANCED_REGION).await;
    make_registry_enhanced(&bed).await;
    let repo = repo_name("uncovered");
    let (job, _, _layout, img) = gated_job(&bed, &repo, "HIGH");

    let run = in_region(job, ENHANCED_REGION)
        .with("create-repository", "true")
        .run()
        .await;

    run.assert_code(3).assert_stderr_has(&[
        "none of its rules covers repository",
        "nothing was uploaded",
        "put-registry-scanning-configuration",
        &repo,
    ]);
    assert_eq!(bed.digest_of(&repo, SHA).await, None, "{}", run.dump());
    bed.assert_no_blobs(&repo, &img, &run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_verdict_within_scan_wait_minutes_is_a_refusal_that_says_how_to_proceed() {
    let bed = Bed::start_synced("us-east-1").await;
    let repo = repo_name("slow-scan");
    let (job, digest, _layout, _) = gated_job(&bed, &repo, "HIGH");
    let in_progress = scan_result(&repo, &digest, "IN_PROGRESS", json!({}));
    bed.moto
        .ecr_scan_results("us-east-1", vec![in_progress])
        .await
        .expect("queue a scan that never finishes");

    let run = job
        .with("create-repository", "true")
        .with("scan-wait-minutes", "1")
        .timeout(std::time::Duration::from_secs(180))
        .run()
        .await;

    run.assert_code(3).assert_stderr_has(&[
        "the image scan gave no verdict within 1 minute (status IN_PROGRESS)",
        "Re-run the job once the scan has finished",
        "raise `scan-wait-minutes` (now 1)",
        &digest,
    ]);
    // The gate waited the minute it was given (the moment it gave up is not bounded: a loaded
    // machine may be late).
    assert!(
        run.elapsed >= std::time::Duration::from_secs(59),
        "gave up after {:?}\n{}",
        run.elapsed,
        run.dump()
    );
    assert_eq!(run.output("image-digest"), None, "{}", run.dump());
}
