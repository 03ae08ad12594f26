//! End-to-end tests of the image stage: the built binary run as the GitHub runner runs the
//! container action (inputs from action.yml, a clean environment, the runner's files), with
//! moto as ECR's API and Debian's docker-registry as the registry (it accepts exactly the login
//! moto's `GetAuthorizationToken` hands out). Moto's proxy endpoint names the real ECR host, so
//! every job sets `registry-endpoint` to the local registry.
//!
//! The identity stage adopts static credentials from the environment (no `role-to-assume`):
//! the image stage is what is under test here. Where a test must prove the registry received
//! no upload, the run goes through a forwarding `FaultProxy` in front of the registry and the
//! proxy's recorded requests are counted (an upload there would show as a recorded
//! `POST .../blobs/uploads/`, whatever happened after it). `image_requests.rs` counts the
//! requests of a whole push the same way.
//!
//! `docker-daemon:` sources are exported from a small fake Engine on a unix socket named by
//! `DOCKER_HOST` (the two endpoints the action uses).
//!
//! The scan gate that completes is in `image_scan_gate.rs` (it needs a registry whose pushes
//! moto's ECR sees).

#[path = "common/image_bed.rs"]
mod bed;
mod common;
#[path = "image_fixtures.rs"]
mod fixtures;

use bed::{ACCESS_KEY, Bed, SECRET_KEY, SHA, blobs, layout_with_image, moto, oci, repo_name};
use common::{ActionRun, Run, assert_no_leaks, unique};
use fixtures::{OciLayout, docker_archive, docker_archive_with_oci_index, fetch_manifest};
use oidc_ecs_deploy::image::Digest;
use oidc_ecs_deploy::image::manifest;
use serde_json::{Value, json};
use testbed::fault::STS_XMLNS;
use testbed::{FaultProxy, Matcher, RecordedRequest, Registry};

/// Requests that started, continued or finished a blob upload, or wrote anything.
fn writes(requests: &[RecordedRequest]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.method != "GET" && r.method != "HEAD")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

fn upload_starts(requests: &[RecordedRequest]) -> usize {
    requests
        .iter()
        .filter(|r| r.method == "POST" && r.path.contains("/blobs/uploads"))
        .count()
}

fn assert_pushed_outputs(run: &Run, bed: &Bed, repo: &str, tag: &str, digest: &Digest) {
    let host = bed.reg.host();
    let expect = [
        ("registry", host.to_owned()),
        ("image-uri", format!("{host}/{repo}:{tag}")),
        ("image-digest", digest.to_string()),
        ("image-ref", format!("{host}/{repo}@{digest}")),
    ];
    for (name, value) in expect {
        assert_eq!(
            run.output(name),
            Some(value.as_str()),
            "output {name}\n{}",
            run.dump()
        );
    }
}

async fn ecr_password() -> String {
    moto()
        .await
        .ecr_authorization()
        .await
        .expect("moto GetAuthorizationToken")
        .password
}

// 1 ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_layout_directory_is_pushed_and_reported() {
    let bed = Bed::start().await;
    let repo = repo_name("oci-dir");
    bed.create_repository(&repo, "IMMUTABLE").await;
    let (layout, img) = layout_with_image();

    let run = bed
        .job(&repo, &oci(layout.path()))
        .interleaved()
        .run()
        .await;

    run.assert_code(0).assert_stdout_only_commands();
    let digest = &img.manifest.digest;
    assert_pushed_outputs(&run, &bed, &repo, SHA, digest);
    let (status, content_type, bytes) = fetch_manifest(&bed.reg, &repo, SHA).await;
    assert_eq!(status, 200, "{}", run.dump());
    assert_eq!(content_type, manifest::OCI_MANIFEST);
    assert_eq!(
        &Digest::of(&bytes),
        digest,
        "the registry holds the reported digest"
    );
    assert_eq!(
        bytes, img.manifest_bytes,
        "the layout's manifest bytes, unchanged"
    );
    for blob in blobs(&img) {
        assert_eq!(bed.blob_status(&repo, &blob).await, 200, "blob {blob}");
    }
    let uri = format!("{}/{repo}:{SHA}", bed.reg.host());
    let bytes: u64 = img.config.size + img.layers.iter().map(|l| l.size).sum::<u64>();
    for row in [
        "### oidc-ecs-deploy: image pushed".to_owned(),
        format!("| image | {uri} |"),
        format!("| digest | {digest} |"),
        "| blobs | 3 uploaded, 0 already there, 0 mounted |".to_owned(),
        format!("| bytes uploaded | 0.0 MiB ({bytes} bytes) |"),
        "| time | ".to_owned(),
    ] {
        assert!(
            run.summary.contains(&row),
            "the summary lacks `{row}`\n{}",
            run.dump()
        );
    }
    let password = ecr_password().await;
    assert_no_leaks(&run, &[("the ECR password", &password)], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_refusing_the_ecr_login_stops_the_push_and_says_why() {
    // A registry whose password is not the one moto's GetAuthorizationToken hands out.
    let bed = Bed {
        moto: moto().await,
        reg: Registry::start("AWS", "another-accounts-token")
            .await
            .unwrap(),
    };
    let repo = repo_name("bad-login");
    bed.create_repository(&repo, "IMMUTABLE").await;
    let (layout, _) = layout_with_image();

    for source in [oci(layout.path()), "ecr:candidate".to_owned()] {
        let run = bed.job(&repo, &source).run().await;
        run.assert_code(1)
            .assert_stderr_has(&["401", "GetAuthorizationToken"]);
        assert!(run.output("image-digest").is_none(), "{}", run.dump());
        assert_no_leaks(&run, &[("the ECR password", &ecr_password().await)], false);
    }
    assert_eq!(bed.digest_of(&repo, SHA).await, None);
}

// 2 ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_layout_tar_is_pushed() {
    let bed = Bed::start().await;
    let repo = repo_name("oci-tar");
    bed.create_repository(&repo, "IMMUTABLE").await;
    let (layout, img) = layout_with_image();
    let out = tempfile::tempdir().unwrap();
    let tar = layout.to_tar(out.path());
    drop(layout);

    let run = bed
        .job(&repo, &oci(&tar))
        .with("image-tag", "v1")
        .run()
        .await;

    run.assert_code(0);
    assert_pushed_outputs(&run, &bed, &repo, "v1", &img.manifest.digest);
    assert_eq!(
        bed.digest_of(&repo, "v1").await,
        Some(img.manifest.digest.clone())
    );
    for blob in blobs(&img) {
        assert_eq!(bed.blob_status(&repo, &blob).await, 200, "blob {blob}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_archive_is_pushed() {
    let bed = Bed::start().await;
    let repo = repo_name("docker-save");
    bed.create_repository(&repo, "IMMUTABLE").await;
    let out = tempfile::tempdir().unwrap();
    let (archive, config, layers) = docker_archive(out.path(), "app:v1", &[3_000, 5_000], false);

    let run = bed
        .job(&repo, &format!("docker-archive:{}", archive.display()))
        .run()
        .await;

    run.assert_code(0);
    let digest = Digest::parse(run.output("image-digest").unwrap_or_default())
        .unwrap_or_else(|e| panic!("image-digest is not a digest: {e}\n{}", run.dump()));
    assert_pushed_outputs(&run, &bed, &repo, SHA, &digest);
    let (status, content_type, bytes) = fetch_manifest(&bed.reg, &repo, SHA).await;
    assert_eq!(status, 200);
    assert_eq!(
        Digest::of(&bytes),
        digest,
        "the registry holds the reported digest"
    );
    assert_eq!(content_type, manifest::DOCKER_MANIFEST);
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        doc["config"]["digest"].as_str(),
        Some(Digest::of(&config).to_string().as_str())
    );
    // The archive repeats its last layer (a shared layer); the image has each layer once per
    // position, and every one is in the registry.
    let pushed_layers: Vec<&str> = doc["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap())
        .collect();
    for layer in &layers {
        let d = Digest::of(layer);
        assert!(
            pushed_layers.contains(&d.to_string().as_str()),
            "layer {d} not in {pushed_layers:?}"
        );
        assert_eq!(bed.blob_status(&repo, &d).await, 200, "layer {d}");
    }
    assert_eq!(bed.blob_status(&repo, &Digest::of(&config)).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_archive_with_an_oci_index_inside_is_pushed() {
    let bed = Bed::start().await;
    let repo = repo_name("docker-save-25");
    bed.create_repository(&repo, "IMMUTABLE").await;
    let out = tempfile::tempdir().unwrap();
    let (archive, layers, _) =
        docker_archive_with_oci_index(out.path(), "web:2.0", &[6_000, 1_000]);

    let run = bed
        .job(&repo, &format!("docker-archive:{}", archive.display()))
        .with("image-tag", "v2")
        .run()
        .await;

    run.assert_code(0);
    let digest = Digest::parse(run.output("image-digest").unwrap_or_default())
        .unwrap_or_else(|e| panic!("image-digest is not a digest: {e}\n{}", run.dump()));
    assert_pushed_outputs(&run, &bed, &repo, "v2", &digest);
    assert_eq!(bed.digest_of(&repo, "v2").await, Some(digest));
    for layer in &layers {
        let d = Digest::of(layer);
        assert_eq!(bed.blob_status(&repo, &d).await, 200, "layer {d}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_platform_index_pushes_children_then_the_index() {
    let bed = Bed::start().await;
    let repo = repo_name("multi");
    bed.create_repository(&repo, "IMMUTABLE").await;
    let mut layout = OciLayout::create();
    let amd = layout.image(&[2_000, 3_000], "amd64");
    let arm = layout.image(&[2_500], "arm64");
    let (index, index_bytes) = layout.index(&[&amd, &arm]);
    layout.add_entry(&index, None);

    let run = bed.job(&repo, &oci(layout.path())).run().await;

    run.assert_code(0);
    assert_pushed_outputs(&run, &bed, &repo, SHA, &index.digest);
    let (status, content_type, bytes) = fetch_manifest(&bed.reg, &repo, SHA).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, manifest::OCI_INDEX);
    assert_eq!(bytes, index_bytes);
    assert_eq!(Digest::of(&bytes), index.digest);
    for child in [&amd, &arm] {
        let digest = &child.manifest.digest;
        assert_eq!(
            bed.digest_of(&repo, &digest.to_string()).await.as_ref(),
            Some(digest),
            "child manifest {digest}"
        );
        for blob in blobs(child) {
            assert_eq!(bed.blob_status(&repo, &blob).await, 200, "blob {blob}");
        }
    }
}

// 3 ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rerun_of_the_same_job_uploads_nothing_and_passes() {
    let bed = Bed::start().await;
    let repo = repo_name("rerun");
    bed.create_repository(&repo, "IMMUTABLE").await;
    let (layout, img) = layout_with_image();
    let source = oci(layout.path());

    bed.job(&repo, &source)
        .with("image-tags", "stable")
        .run()
        .await
        .assert_code(0);
    let proxy = bed.recording_proxy().await;
    let run = bed
        .job_via(proxy.endpoint(), &repo, &source)
        .with("image-tags", "stable")
        .run()
        .await;

    run.assert_code(0);
    assert!(
        run.stderr.contains("nothing to upload"),
        "the re-run does not say it had nothing to upload\n{}",
        run.dump()
    );
    assert_eq!(
        run.output("image-digest"),
        Some(img.manifest.digest.to_string().as_str())
    );
    let requests = proxy.requests();
    let mut asked: Vec<String> = requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    asked.sort();
    assert_eq!(
        asked,
        vec![
            "GET /v2/".to_owned(),
            format!("HEAD /v2/{repo}/manifests/{SHA}"),
            format!("HEAD /v2/{repo}/manifests/stable"),
        ],
        "a re-run logs in once and looks at each tag once, nothing else"
    );
    assert_eq!(upload_starts(&requests), 0, "blob uploads on a re-run");
    assert_eq!(
        writes(&requests),
        Vec::<String>::new(),
        "the re-run wrote to the registry"
    );
    assert!(
        run.summary
            .contains("| blobs | 0 uploaded, 3 already there, 0 mounted |"),
        "the summary does not say every blob was already there\n{}",
        run.dump()
    );
    for tag in [SHA, "stable"] {
        assert_eq!(
            bed.digest_of(&repo, tag).await,
            Some(img.manifest.digest.clone())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_named_twice_is_pushed_and_reported_once() {
    let bed = Bed::start().await;
    let repo = repo_name("dup-tags");
    bed.create_repository(&repo, "IMMUTABLE").await;
    let (layout, img) = layout_with_image();

    let run = bed
        .job(&repo, &oci(layout.path()))
        .with("image-tag", "v1")
        .with("image-tags", "v2\nv1")
        .run()
        .await;

    run.assert_code(0);
    for tag in ["v1", "v2"] {
        assert_eq!(
            bed.digest_of(&repo, tag).await,
            Some(img.manifest.digest.clone()),
            "tag {tag}"
        );
    }
    assert!(
        run.summary.contains("| tags | v1, v2 |"),
        "the summary lists a tag twice (non-adjacent duplicates survive `dedup`)\n{}",
        run.dump()
    );
}

// 4 ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_repository_creates_an_immutable_scanned_repository() {
    let bed = Bed::start().await;
    let repo = repo_name("created");
    assert!(bed.describe_repository(&repo).await.is_none());
    let (layout, img) = layout_with_image();

    let run = bed
        .job(&repo, &oci(layout.path()))
        .with("create-repository", "true")
        .run()
        .await;

    run.assert_code(0);
    let described = bed
        .describe_repository(&repo)
        .await
        .unwrap_or_else(|| panic!("the repository was not created\n{}", run.dump()));
    assert_eq!(described["imageTagMutability"], "IMMUTABLE", "{described}");
    assert_eq!(
        described["imageScanningConfiguration"]["scanOnPush"], true,
        "{described}"
    );
    assert_eq!(
        bed.digest_of(&repo, SHA).await,
        Some(img.manifest.digest.clone())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_repository_without_create_is_refused_and_nothing_is_pushed() {
    let bed = Bed::start().await;
    let repo = repo_name("missing");
    let (layout, img) = layout_with_image();
    let proxy = bed.recording_proxy().await;

    let run = bed
        .job_via(proxy.endpoint(), &repo, &oci(layout.path()))
        .run()
        .await;

    run.assert_code(2)
        .assert_stderr_has(&[&format!("`{repo}` does not exist")]);
    assert!(
        run.hint().contains("create-repository: true"),
        "the hint does not point at create-repository\n{}",
        run.dump()
    );
    run.assert_annotation("Invalid input", &repo);
    assert!(
        bed.describe_repository(&repo).await.is_none(),
        "the repository was created"
    );
    assert_eq!(
        proxy.request_count(),
        0,
        "the registry was contacted: {:?}",
        proxy.requests()
    );
    assert_eq!(bed.digest_of(&repo, SHA).await, None);
    for blob in blobs(&img) {
        assert_eq!(bed.blob_status(&repo, &blob).await, 404, "blob {blob}");
    }
    assert!(run.output("image-digest").is_none(), "{}", run.dump());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_source_fails_before_the_repository_is_created() {
    let bed = Bed::start().await;
    let repo = repo_name("not-created");
    let empty = tempfile::tempdir().unwrap();

    let run = bed
        .job(&repo, &oci(empty.path()))
        .with("create-repository", "true")
        .run()
        .await;

    run.assert_code(2);
    assert!(
        bed.describe_repository(&repo).await.is_none(),
        "a repository was created for a source that cannot be read\n{}",
        run.dump()
    );
}

// 5 ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicting_immutable_tag_is_refused_before_anything_is_uploaded() {
    let bed = Bed::start().await;
    let repo = repo_name("immutable");
    bed.create_repository(&repo, "IMMUTABLE").await;
    let (layout_a, a) = layout_with_image();
    let (layout_b, b) = layout_with_image();
    bed.job(&repo, &oci(layout_a.path()))
        .with("image-tag", "release")
        .run()
        .await
        .assert_code(0);

    let proxy = bed.recording_proxy().await;
    let run = bed
        .job_via(proxy.endpoint(), &repo, &oci(layout_b.path()))
        .with("image-tag", "release")
        .run()
        .await;

    run.assert_code(3).assert_stderr_has(&[
        &a.manifest.digest.to_string(),
        &b.manifest.digest.to_string(),
        "nothing was uploaded",
        "release",
    ]);
    let requests = proxy.requests();
    assert_eq!(upload_starts(&requests), 0, "uploads during a refused push");
    assert_eq!(
        writes(&requests),
        Vec::<String>::new(),
        "a refused push wrote to the registry"
    );
    for blob in blobs(&b) {
        assert_eq!(
            bed.blob_status(&repo, &blob).await,
            404,
            "blob {blob} of B reached the registry"
        );
    }
    assert_eq!(
        bed.digest_of(&repo, &b.manifest.digest.to_string()).await,
        None,
        "B's manifest reached the registry"
    );
    assert_eq!(
        bed.digest_of(&repo, "release").await,
        Some(a.manifest.digest.clone())
    );
    assert!(run.output("image-digest").is_none(), "{}", run.dump());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutable_tag_is_moved_with_a_warning() {
    let bed = Bed::start().await;
    let repo = repo_name("mutable");
    bed.create_repository(&repo, "MUTABLE").await;
    let (layout_a, a) = layout_with_image();
    let (layout_b, b) = layout_with_image();
    bed.job(&repo, &oci(layout_a.path()))
        .with("image-tag", "latest")
        .run()
        .await
        .assert_code(0);

    let run = bed
        .job(&repo, &oci(layout_b.path()))
        .with("image-tag", "latest")
        .run()
        .await;

    run.assert_code(0);
    let old = a.manifest.digest.to_string();
    let warned = run
        .stdout
        .lines()
        .any(|l| l.starts_with("::warning") && l.contains(&old));
    assert!(
        warned,
        "no ::warning naming the old digest {old}\n{}",
        run.dump()
    );
    assert_eq!(
        bed.digest_of(&repo, "latest").await,
        Some(b.manifest.digest.clone())
    );
    assert_pushed_outputs(&run, &bed, &repo, "latest", &b.manifest.digest);
}

// 6 ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecr_promotion_retags_without_moving_a_blob() {
    let bed = Bed::start().await;
    let repo = repo_name("promote");
    bed.create_repository(&repo, "IMMUTABLE").await;
    let (layout, img) = layout_with_image();
    bed.job(&repo, &oci(layout.path()))
        .with("image-tag", "candidate")
        .run()
        .await
        .assert_code(0);

    let proxy = bed.recording_proxy().await;
    let run = bed
        .job_via(proxy.endpoint(), &repo, "ecr:candidate")
        .with("image-tag", "prod")
        .run()
        .await;

    run.assert_code(0);
    let digest = &img.manifest.digest;
    assert_eq!(bed.digest_of(&repo, "prod").await.as_ref(), Some(digest));
    assert_eq!(
        bed.digest_of(&repo, "candidate").await.as_ref(),
        Some(digest)
    );
    assert_eq!(
        run.output("image-digest"),
        Some(digest.to_string().as_str()),
        "{}",
        run.dump()
    );
    let host = proxy.endpoint().trim_start_matches("http://");
    assert_eq!(
        run.output("image-ref"),
        Some(format!("{host}/{repo}@{digest}").as_str())
    );
    let requests = proxy.requests();
    assert_eq!(
        upload_starts(&requests),
        0,
        "blob uploads during a promotion"
    );
    let writes = writes(&requests);
    assert!(
        writes
            .iter()
            .all(|w| w.starts_with("PUT ") && w.contains("/manifests/prod")),
        "a promotion writes only the new tag's manifest: {writes:?}"
    );
    assert!(!writes.is_empty(), "the promotion never wrote the tag");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecr_promotion_onto_an_immutable_tag_naming_another_image_is_refused() {
    let bed = Bed::start().await;
    let repo = repo_name("promote-conflict");
    bed.create_repository(&repo, "IMMUTABLE").await;
    let (layout_a, a) = layout_with_image();
    let (layout_b, b) = layout_with_image();
    for (layout, tag) in [(&layout_a, "candidate"), (&layout_b, "prod")] {
        bed.job(&repo, &oci(layout.path()))
            .with("image-tag", tag)
            .run()
            .await
            .assert_code(0);
    }

    let proxy = bed.recording_proxy().await;
    let run = bed
        .job_via(proxy.endpoint(), &repo, "ecr:candidate")
        .with("image-tag", "prod")
        .run()
        .await;

    run.assert_code(3).assert_stderr_has(&[
        &a.manifest.digest.to_string(),
        &b.manifest.digest.to_string(),
        "prod",
    ]);
    assert_eq!(
        writes(&proxy.requests()),
        Vec::<String>::new(),
        "a refused promotion wrote to the registry"
    );
    assert_eq!(
        bed.digest_of(&repo, "prod").await,
        Some(b.manifest.digest.clone())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecr_promotion_of_a_missing_tag_is_refused() {
    let bed = Bed::start().await;
    let repo = repo_name("promote-missing");
    bed.create_repository(&repo, "IMMUTABLE").await;

    let run = bed
        .job(&repo, "ecr:missing")
        .with("image-tag", "prod")
        .run()
        .await;

    run.assert_code(2)
        .assert_stderr_has(&["`ecr:missing` does not exist", &repo]);
    assert_eq!(bed.digest_of(&repo, "prod").await, None);
    assert!(run.output("image-digest").is_none(), "{}", run.dump());
}

// 7 ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_source_blob_is_refused_and_nothing_is_tagged() {
    let bed = Bed::start().await;
    let repo = repo_name("corrupt");
    bed.create_repository(&repo, "IMMUTABLE").await;
    let (layout, img) = layout_with_image();
    let bad = img.layers[1].digest.clone();
    let path = layout.blob_path(&bad);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[100] ^= 0xff;
    bytes[10_000] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();

    let run = bed.job(&repo, &oci(layout.path())).run().await;

    run.assert_code(2).assert_stderr_has(&[&bad.to_string()]);
    assert_eq!(
        bed.digest_of(&repo, SHA).await,
        None,
        "the tag exists after a refused push"
    );
    assert_eq!(
        bed.digest_of(&repo, &img.manifest.digest.to_string()).await,
        None,
        "the manifest was pushed"
    );
    assert_eq!(
        bed.blob_status(&repo, &bad).await,
        404,
        "the corrupt blob was stored"
    );
    assert!(run.output("image-digest").is_none(), "{}", run.dump());
}

// docker-daemon ---------------------------------------------------------------------------------

/// A fake Docker Engine on a unix socket holding one image: `GET /images/{name}/json` answers
/// its Id, `GET /images/get?names=...` the `docker save` tar; anything else 404 as the Engine
/// does. One request per connection (`Connection: close`); request lines are recorded.
struct FakeEngine {
    socket: std::path::PathBuf,
    requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl FakeEngine {
    fn start(name: &str, id: &str, tar: Vec<u8>) -> FakeEngine {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let dir = tempfile::Builder::new()
            .prefix("fake-engine-")
            .tempdir()
            .unwrap();
        let socket = dir.path().join("docker.sock");
        let listener = tokio::net::UnixListener::bind(&socket).unwrap();
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = requests.clone();
        let inspect = format!("/images/{name}/json");
        let id = id.to_owned();
        let tar = std::sync::Arc::new(tar);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (inspect, id, tar, seen) =
                    (inspect.clone(), id.clone(), tar.clone(), seen.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let line = head.lines().next().unwrap_or_default().to_owned();
                    let path = line.split(' ').nth(1).unwrap_or_default().to_owned();
                    seen.lock().unwrap().push(line);
                    let (status, body): (&str, Vec<u8>) = if path == inspect {
                        ("200 OK", json!({ "Id": id }).to_string().into_bytes())
                    } else if path.starts_with("/images/get?names=") {
                        ("200 OK", tar.to_vec())
                    } else {
                        ("404 Not Found", br#"{"message":"No such image"}"#.to_vec())
                    };
                    let reply = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(reply.as_bytes()).await;
                    let _ = stream.write_all(&body).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        FakeEngine {
            socket,
            requests,
            _dir: dir,
        }
    }

    fn docker_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_daemon_image_is_exported_and_pushed() {
    let bed = Bed::start().await;
    let out = tempfile::tempdir().unwrap();
    let (archive, config, layers) = docker_archive(out.path(), "app:v1", &[3_000, 4_000], false);
    let tar = std::fs::read(&archive).unwrap();
    let engine = FakeEngine::start("app:v1", &Digest::of(&config).to_string(), tar);
    let (from_daemon, from_archive) = (repo_name("daemon"), repo_name("daemon-archive"));

    let run = bed
        .job(&from_daemon, "docker-daemon:app:v1")
        .env("DOCKER_HOST", &engine.docker_host())
        .with("create-repository", "true")
        .run()
        .await;

    run.assert_code(0);
    let digest = Digest::parse(run.output("image-digest").unwrap_or_default())
        .unwrap_or_else(|e| panic!("image-digest is not a digest: {e}\n{}", run.dump()));
    assert_pushed_outputs(&run, &bed, &from_daemon, SHA, &digest);
    assert_eq!(bed.digest_of(&from_daemon, SHA).await, Some(digest.clone()));
    for layer in &layers {
        let d = Digest::of(layer);
        assert_eq!(bed.blob_status(&from_daemon, &d).await, 200, "layer {d}");
    }
    let requests = engine.requests.lock().unwrap().clone();
    assert!(
        requests
            .iter()
            .all(|r| r.starts_with("GET /images/app:v1/json ")
                || r.starts_with("GET /images/get?names=")),
        "the Engine was asked for something else: {requests:?}"
    );
    // The same image as a `docker save` file: the same digest.
    bed.create_repository(&from_archive, "IMMUTABLE").await;
    let same = bed
        .job(
            &from_archive,
            &format!("docker-archive:{}", archive.display()),
        )
        .run()
        .await;
    same.assert_code(0);
    assert_eq!(
        same.output("image-digest"),
        Some(digest.to_string().as_str()),
        "{}",
        same.dump()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_daemon_unreachable_fails_before_anything_is_created() {
    let bed = Bed::start().await;
    let repo = repo_name("no-engine");
    let missing = std::env::temp_dir()
        .join(unique("no-docker"))
        .join("docker.sock");
    let proxy = bed.recording_proxy().await;

    let run = bed
        .job_via(proxy.endpoint(), &repo, "docker-daemon:app:v1")
        .env("DOCKER_HOST", &format!("unix://{}", missing.display()))
        .with("create-repository", "true")
        .run()
        .await;

    run.assert_code(2)
        .assert_stderr_has(&[&missing.display().to_string()]);
    assert!(run.hint().contains("DOCKER_HOST"), "{}", run.dump());
    assert!(
        bed.describe_repository(&repo).await.is_none(),
        "a repository was created"
    );
    assert_eq!(
        proxy.request_count(),
        0,
        "the registry was contacted: {:?}",
        proxy.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_daemon_unknown_image_is_refused() {
    let bed = Bed::start().await;
    let out = tempfile::tempdir().unwrap();
    let (archive, config, _) = docker_archive(out.path(), "app:v1", &[1_000], false);
    let engine = FakeEngine::start(
        "app:v1",
        &Digest::of(&config).to_string(),
        std::fs::read(&archive).unwrap(),
    );
    let repo = repo_name("daemon-unknown");
    bed.create_repository(&repo, "IMMUTABLE").await;

    let run = bed
        .job(&repo, "docker-daemon:web:v9")
        .env("DOCKER_HOST", &engine.docker_host())
        .run()
        .await;

    run.assert_code(2)
        .assert_stderr_has(&["web:v9", &engine.socket.display().to_string()]);
    assert_eq!(bed.digest_of(&repo, SHA).await, None);
}

// 8, 9 ------------------------------------------------------------------------------------------

/// A job whose AWS endpoint is a dead end that records requests: input errors must be found
/// before any of them.
async fn offline_job(repository: &str, source: &str) -> (ActionRun, FaultProxy) {
    let aws = FaultProxy::start(None, vec![], Matcher::All, STS_XMLNS)
        .await
        .expect("start the AWS stand-in");
    let run = ActionRun::new()
        .aws(aws.endpoint())
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .with("aws-region", "us-east-1")
        .with("registry-endpoint", "http://127.0.0.1:9")
        .with("repository", repository)
        .with("image-source", source);
    (run, aws)
}

fn assert_refused_offline(run: &Run, aws: &FaultProxy, needles: &[&str]) {
    run.assert_code(2).assert_stderr_has(needles);
    assert_eq!(
        aws.request_count(),
        0,
        "an AWS call before the inputs were checked: {:?}",
        aws.requests()
    );
    assert!(
        run.output_file.is_empty(),
        "outputs were written\n{}",
        run.dump()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_source_path_is_refused_before_any_aws_call() {
    let missing = std::env::temp_dir().join(unique("no-such-layout"));
    let (job, aws) = offline_job("e2e/app", &oci(&missing)).await;
    let run = job.run().await;
    assert_refused_offline(
        &run,
        &aws,
        &[
            "image-source",
            &missing.display().to_string(),
            "does not exist",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_repository_is_refused_before_any_aws_call() {
    let (layout, _) = layout_with_image();
    let (job, aws) = offline_job("Payments/API!", &oci(layout.path())).await;
    let run = job.run().await;
    assert_refused_offline(
        &run,
        &aws,
        &[
            "repository",
            "`Payments/API!` is not a valid ECR repository name",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_scan_severity_threshold_is_refused_before_any_aws_call() {
    let (layout, _) = layout_with_image();
    let (job, aws) = offline_job("e2e/app", &oci(layout.path())).await;
    let run = job.with("scan-severity-threshold", "SEVERE").run().await;
    assert_refused_offline(
        &run,
        &aws,
        &["scan-severity-threshold", "`SEVERE` is not a severity"],
    );
}
