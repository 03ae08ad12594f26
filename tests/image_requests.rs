//! The image stage's registry requests, counted: a deploy decides (log in, what each tag names,
//! which blobs the repository has) and then acts on those answers, so each question reaches the
//! registry once. The job runs as the runner runs the action (moto as ECR's API, Debian's
//! docker-registry), through a forwarding `FaultProxy` that records every request; the proxy
//! rewrites upload `Location`s to itself, so uploads go through it too.

#[path = "common/image_bed.rs"]
mod bed;
mod common;
#[path = "image_fixtures.rs"]
mod fixtures;

use bed::{Bed, SHA, blobs, layout_with_image, oci, repo_name};
use common::Run;
use oidc_ecs_deploy::image::Digest;
use testbed::RecordedRequest;

/// How many recorded requests have this method and a path (before any query) equal to `path`.
fn count(requests: &[RecordedRequest], method: &str, path: &str) -> usize {
    requests
        .iter()
        .filter(|r| r.method == method && r.path.split('?').next() == Some(path))
        .count()
}

/// Requests that sent `digest`'s bytes: the `PUT ?digest=` closing an upload.
fn uploads_of(requests: &[RecordedRequest], digest: &Digest) -> usize {
    requests
        .iter()
        .filter(|r| r.method == "PUT" && r.path.contains("/blobs/uploads/"))
        .filter(|r| r.path.contains(digest.hex()))
        .count()
}

fn listing(requests: &[RecordedRequest]) -> String {
    let lines: Vec<String> = requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    lines.join("\n")
}

/// One `GET /v2/`, and each tag's manifest HEADed exactly once.
fn assert_one_login_and_one_look_per_tag(requests: &[RecordedRequest], repo: &str, run: &Run) {
    let all = listing(requests);
    assert_eq!(
        count(requests, "GET", "/v2/"),
        1,
        "one login\n{all}\n{}",
        run.dump()
    );
    for tag in [SHA, "stable"] {
        let path = format!("/v2/{repo}/manifests/{tag}");
        assert_eq!(
            count(requests, "HEAD", &path),
            1,
            "{tag} looked up once\n{all}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_asks_each_question_once_and_sends_each_blob_once() {
    let bed = Bed::start().await;
    let repo = repo_name("requests");
    bed.create_repository(&repo, "MUTABLE").await;
    // `stable` names another image already: the deploy moves it (a mutable repository).
    let (layout_old, old) = layout_with_image();
    bed.job(&repo, &oci(layout_old.path()))
        .with("image-tag", "stable")
        .run()
        .await
        .assert_code(0);
    let (layout, img) = layout_with_image();
    let proxy = bed.recording_proxy().await;

    let run = bed
        .job_via(proxy.endpoint(), &repo, &oci(layout.path()))
        .with("image-tags", "stable")
        .run()
        .await;

    run.assert_code(0);
    let requests = proxy.requests();
    let all = listing(&requests);
    assert_one_login_and_one_look_per_tag(&requests, &repo, &run);
    for blob in blobs(&img) {
        let head = format!("/v2/{repo}/blobs/{blob}");
        assert_eq!(
            count(&requests, "HEAD", &head),
            1,
            "blob {blob} looked up once\n{all}"
        );
        assert_eq!(
            uploads_of(&requests, &blob),
            1,
            "blob {blob} sent once\n{all}"
        );
    }
    for tag in [SHA, "stable"] {
        let path = format!("/v2/{repo}/manifests/{tag}");
        assert_eq!(count(&requests, "PUT", &path), 1, "{tag} put once\n{all}");
        assert_eq!(
            bed.digest_of(&repo, tag).await,
            Some(img.manifest.digest.clone())
        );
    }
    let moved = run
        .stdout
        .lines()
        .any(|l| l.starts_with("::warning") && l.contains(&old.manifest.digest.to_string()));
    assert!(
        moved,
        "the move of `stable` from the digest the plan saw is not reported\n{}",
        run.dump()
    );
}
