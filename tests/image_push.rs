//! `image::push` against Debian's docker-registry over real HTTP: the pushed manifest comes back
//! byte for byte under its tag with the reported digest, a re-push uploads nothing, a corrupt
//! blob is refused before anything is tagged, indexes go children first, docker-archive and OCI
//! tar sources, chunked uploads, mounts, and a wrong password.

#[path = "image_fixtures.rs"]
mod fixtures;

use fixtures::*;
use oidc_ecs_deploy::image::manifest;
use oidc_ecs_deploy::image::{
    BlobOutcome, Credentials, Digest, LocalImage, ManifestOutcome, PushError, PushOptions,
    PushReport, RegistryClient, SourceRef, UploadMode, push,
};
use testbed::Registry;

fn tags(t: &[&str]) -> Vec<String> {
    t.iter().map(|s| s.to_string()).collect()
}

fn uploaded(o: &BlobOutcome) -> bool {
    matches!(o, BlobOutcome::Uploaded { .. })
}

/// The image a source reference names, opened (the test's own fixture: it must open).
async fn open_source(reference: &str) -> LocalImage {
    SourceRef::parse(reference).unwrap().open().await.unwrap()
}

/// Push with the default options and tags `t`; the push must succeed.
async fn push_default(
    image: &LocalImage,
    client: &RegistryClient,
    repo: &str,
    t: &[&str],
) -> PushReport {
    push(image, client, repo, &tags(t), &PushOptions::default())
        .await
        .unwrap()
}

#[tokio::test]
async fn oci_layout_push_fetch_back_and_repush_uploads_nothing() {
    init_logs();
    let reg = Registry::start("AWS", "s3cret-token").await.unwrap();
    let mut layout = OciLayout::create();
    let img = layout.image(&[300_000, 2 * 1024 * 1024 + 17, 0], "amd64");
    layout.add_entry(&img.manifest, Some("v1"));
    let client = client_for(&reg);

    let source = SourceRef::parse(&format!("oci:{}:v1", layout.path().display())).unwrap();
    let image = source.open().await.unwrap();
    assert_eq!(image.blobs.len(), 4, "config + 3 layers");
    let report = push_default(&image, &client, "team/app", &["v1", "abc123"]).await;

    assert_eq!(report.manifest_digest, img.manifest.digest);
    assert_eq!(report.media_type, manifest::OCI_MANIFEST);
    assert_eq!(report.count(uploaded), 4);
    assert_eq!(report.uploaded_bytes(), image.total_blob_bytes());
    assert_eq!(
        report.pinned_reference(),
        format!("{}/team/app@{}", reg.host(), img.manifest.digest)
    );
    for tag in ["v1", "abc123"] {
        let (status, ct, bytes) = fetch_manifest(&reg, "team/app", tag).await;
        assert_eq!(status, 200, "{tag}");
        assert_eq!(ct, manifest::OCI_MANIFEST);
        assert_eq!(Digest::of(&bytes), report.manifest_digest);
        assert_eq!(bytes, img.manifest_bytes, "the exact bytes of the layout");
    }
    for layer in &img.layers {
        let (status, bytes) = fetch_blob(&reg, "team/app", &layer.digest).await;
        assert_eq!((status, Digest::of(&bytes)), (200, layer.digest.clone()));
    }
    assert_eq!(
        client.manifest_digest("team/app", "v1").await.unwrap(),
        Some(img.manifest.digest.clone())
    );
    assert_eq!(
        client.manifest_digest("team/app", "nope").await.unwrap(),
        None
    );

    // The same job again: every blob is a HEAD hit and the tags already point at the digest.
    let again = push_default(&image, &client, "team/app", &["v1", "abc123"]).await;
    assert_eq!(again.manifest_digest, report.manifest_digest);
    assert_eq!(again.uploaded_bytes(), 0);
    assert!(again.up_to_date);
    assert!(!report.up_to_date);

    // One more tag: blobs are HEAD hits, the old tag stays, the new one is written.
    let more = push_default(&image, &client, "team/app", &["v1", "v2"]).await;
    assert!(!more.up_to_date);
    assert_eq!(more.uploaded_bytes(), 0);
    let outcomes: Vec<(&str, ManifestOutcome)> = more
        .manifests
        .iter()
        .map(|m| (m.reference.as_str(), m.outcome))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("v1", ManifestOutcome::Present),
            ("v2", ManifestOutcome::Pushed)
        ]
    );
    assert!(
        again
            .blobs
            .iter()
            .all(|b| b.outcome == BlobOutcome::Skipped),
        "{:?}",
        again.blobs
    );
    assert!(
        again
            .manifests
            .iter()
            .all(|m| m.outcome == ManifestOutcome::Present),
        "{:?}",
        again.manifests
    );
}

#[tokio::test]
async fn corrupt_blob_is_refused_and_nothing_is_tagged() {
    init_logs();
    let reg = Registry::start_anonymous().await.unwrap();
    let mut layout = OciLayout::create();
    let img = layout.image(&[100_000, 1_500_000], "amd64");
    layout.add_entry(&img.manifest, None);
    // Flip one byte of the big layer after the index was written: same size, other digest.
    let bad = &img.layers[1];
    let path = layout.blob_path(&bad.digest);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[1_000_000] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();

    let image = open_source(&format!("oci:{}", layout.path().display())).await;
    let client = client_for(&reg);
    let err = push(
        &image,
        &client,
        "app",
        &tags(&["v1"]),
        &PushOptions::default(),
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    eprintln!("corrupt: {msg}");
    assert!(matches!(&err, PushError::CorruptBlob { .. }), "{err:?}");
    assert!(
        msg.contains("nothing was tagged") && msg.contains(&layout.path().display().to_string()),
        "{msg}"
    );
    assert!(
        msg.contains(&bad.digest.to_string()) && msg.contains(&Digest::of(&bytes).to_string()),
        "{msg}"
    );
    assert!(msg.contains("corrupt"), "{msg}");
    assert_eq!(
        fetch_manifest(&reg, "app", "v1").await.0,
        404,
        "nothing tagged"
    );
    assert_eq!(
        fetch_blob(&reg, "app", &bad.digest).await.0,
        404,
        "the corrupt blob never landed"
    );

    // Chunked uploads refuse it too, and a truncated blob is named the same way.
    std::fs::write(&path, &bytes[..1_000]).unwrap();
    let client = client_for(&reg).with_upload_mode(UploadMode::Chunked {
        chunk_size: 64 * 1024,
    });
    let err = push(
        &image,
        &client,
        "app",
        &tags(&["v1"]),
        &PushOptions::default(),
    )
    .await
    .unwrap_err()
    .to_string();
    eprintln!("truncated: {err}");
    assert!(
        err.contains(&bad.digest.to_string()) && err.contains("has 1000 bytes"),
        "{err}"
    );
    assert_eq!(fetch_manifest(&reg, "app", "v1").await.0, 404);
}

#[tokio::test]
async fn multi_platform_index_pushes_children_then_index() {
    init_logs();
    let reg = Registry::start("AWS", "pw").await.unwrap();
    let mut layout = OciLayout::create();
    let shared = layout.write_blob(manifest::OCI_LAYER_TAR, &random_bytes(200_000));
    let amd = layout.image_with_layers(
        vec![
            shared.clone(),
            layout.write_blob(manifest::OCI_LAYER_TAR, &random_bytes(1000)),
        ],
        "amd64",
    );
    let arm = layout.image_with_layers(vec![shared.clone()], "arm64");
    let (index, index_bytes) = layout.index(&[&amd, &arm]);
    let other = layout.image(&[10], "amd64");
    layout.add_entry(&index, Some("multi"));
    layout.add_entry(&other.manifest, Some("other"));

    // Two entries: a reference is needed, and a wrong one lists what is there.
    let no_ref = SourceRef::parse(&format!("oci:{}", layout.path().display()))
        .unwrap()
        .open()
        .await
        .unwrap_err()
        .to_string();
    let wrong = SourceRef::parse(&format!("oci:{}:nope", layout.path().display()))
        .unwrap()
        .open()
        .await
        .unwrap_err()
        .to_string();
    eprintln!("no ref: {no_ref}\nwrong ref: {wrong}");
    assert!(
        no_ref.contains("multi") && no_ref.contains("other"),
        "{no_ref}"
    );
    assert!(
        wrong.contains("\"nope\"") && wrong.contains("multi"),
        "{wrong}"
    );

    let image = open_source(&format!("oci:{}:multi", layout.path().display())).await;
    assert_eq!(
        image.blobs.len(),
        4,
        "shared layer once, 2 configs, 1 more layer"
    );
    let client = client_for(&reg);
    let report = push_default(&image, &client, "multi", &["latest"]).await;
    assert_eq!(report.manifest_digest, index.digest);
    assert_eq!(report.media_type, manifest::OCI_INDEX);
    let order: Vec<&Digest> = report.manifests.iter().map(|m| &m.digest).collect();
    assert_eq!(
        order,
        vec![&amd.manifest.digest, &arm.manifest.digest, &index.digest]
    );
    let (status, ct, bytes) = fetch_manifest(&reg, "multi", "latest").await;
    assert_eq!((status, ct.as_str()), (200, manifest::OCI_INDEX));
    assert_eq!(bytes, index_bytes);
    for child in [&amd, &arm] {
        let (status, _, bytes) =
            fetch_manifest(&reg, "multi", &child.manifest.digest.to_string()).await;
        assert_eq!((status, bytes), (200, child.manifest_bytes.clone()));
    }
}

#[tokio::test]
async fn oci_layout_as_tar_is_read_in_place() {
    init_logs();
    let reg = Registry::start_anonymous().await.unwrap();
    let mut layout = OciLayout::create();
    let img = layout.image(&[70_000, 3_000], "arm64");
    layout.add_entry(&img.manifest, Some("1.0"));
    let out = tempfile::tempdir().unwrap();
    let tar = layout.to_tar(out.path());
    drop(layout);

    let image = open_source(&format!("oci:{}:1.0", tar.display())).await;
    let report = push(
        &image,
        &client_for(&reg),
        "tarred",
        &tags(&["1.0"]),
        &PushOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(report.manifest_digest, img.manifest.digest);
    let (_, _, bytes) = fetch_manifest(&reg, "tarred", "1.0").await;
    assert_eq!(bytes, img.manifest_bytes);
    let (_, blob) = fetch_blob(&reg, "tarred", &img.layers[0].digest).await;
    assert_eq!(Digest::of(&blob), img.layers[0].digest);
}

#[tokio::test]
async fn docker_archive_becomes_a_schema2_manifest() {
    init_logs();
    let reg = Registry::start("AWS", "pw").await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let (path, config, layers) = docker_archive(out.path(), "myapp:1.2", &[120_000, 40_000], true);

    let source = SourceRef::parse(&format!("docker-archive:{}:myapp:1.2", path.display())).unwrap();
    let image = source.open().await.unwrap();
    assert_eq!(
        image.blobs.len(),
        3,
        "config + 2 layers (the symlinked duplicate counted once)"
    );
    let report = push(
        &image,
        &client_for(&reg),
        "dockerapp",
        &tags(&["v1"]),
        &PushOptions::default(),
    )
    .await
    .unwrap();

    let (status, ct, bytes) = fetch_manifest(&reg, "dockerapp", "v1").await;
    assert_eq!((status, ct.as_str()), (200, manifest::DOCKER_MANIFEST));
    assert_eq!(Digest::of(&bytes), report.manifest_digest);
    let m: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(m["mediaType"], manifest::DOCKER_MANIFEST);
    assert_eq!(m["config"]["digest"], Digest::of(&config).to_string());
    assert_eq!(m["config"]["mediaType"], manifest::DOCKER_CONFIG);
    let got: Vec<(String, String, u64)> = m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["mediaType"].as_str().unwrap().to_owned(),
                l["digest"].as_str().unwrap().to_owned(),
                l["size"].as_u64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, String, u64)> = layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mt = if i == 0 {
                manifest::DOCKER_LAYER_GZIP
            } else {
                manifest::DOCKER_LAYER_TAR
            };
            (mt.to_owned(), Digest::of(l).to_string(), l.len() as u64)
        })
        .collect();
    assert_eq!(got, want);
    let (_, blob) = fetch_blob(&reg, "dockerapp", &Digest::of(&layers[1])).await;
    assert_eq!(blob, layers[1]);

    // The converted manifest is deterministic: opening the archive again gives the same
    // digest, so a re-run of the job finds the tag up to date.
    let again = open_source(&format!("docker-archive:{}", path.display())).await;
    assert_eq!(again.top().digest, report.manifest_digest);
    let report = push(
        &again,
        &client_for(&reg),
        "dockerapp",
        &tags(&["v1"]),
        &PushOptions::default(),
    )
    .await
    .unwrap();
    assert!(report.up_to_date);

    let missing = SourceRef::parse(&format!("docker-archive:{}:other:tag", path.display()))
        .unwrap()
        .open()
        .await
        .unwrap_err();
    assert!(missing.to_string().contains("myapp:1.2"), "{missing}");
}

#[tokio::test]
async fn chunked_upload_against_a_registry_that_honours_it() {
    init_logs();
    let reg = Registry::start("AWS", "pw").await.unwrap();
    let mut layout = OciLayout::create();
    let img = layout.image(&[1_000_000, 65_536, 1], "amd64");
    layout.add_entry(&img.manifest, None);
    let image = open_source(&format!("oci:{}", layout.path().display())).await;
    let client = client_for(&reg).with_upload_mode(UploadMode::Chunked {
        chunk_size: 64 * 1024,
    });
    let report = push_default(&image, &client, "chunky", &["c"]).await;
    assert_eq!(report.count(uploaded), 4);
    for layer in &img.layers {
        let (status, bytes) = fetch_blob(&reg, "chunky", &layer.digest).await;
        assert_eq!((status, Digest::of(&bytes)), (200, layer.digest.clone()));
    }
    assert_eq!(
        fetch_manifest(&reg, "chunky", "c").await.2,
        img.manifest_bytes
    );
}

#[tokio::test]
async fn mount_from_a_sibling_repository() {
    init_logs();
    let reg = Registry::start("AWS", "pw").await.unwrap();
    let mut layout = OciLayout::create();
    let img = layout.image(&[50_000, 60_000], "amd64");
    layout.add_entry(&img.manifest, None);
    let image = open_source(&format!("oci:{}", layout.path().display())).await;
    let client = client_for(&reg);
    push_default(&image, &client, "base", &["b"]).await;

    let opts = PushOptions {
        mount_from: vec!["nothing-here".into(), "base".into()],
        ..PushOptions::default()
    };
    let report = push(&image, &client, "app", &tags(&["a"]), &opts)
        .await
        .unwrap();
    assert!(
        report.blobs.iter().all(|b| b.outcome
            == BlobOutcome::Mounted {
                from: "base".into()
            }),
        "{:?}",
        report.blobs
    );
    assert_eq!(fetch_manifest(&reg, "app", "a").await.2, img.manifest_bytes);

    // A source repository without the blobs: the registry opens an upload session instead
    // (202), and the blob is uploaded into it.
    let opts = PushOptions {
        mount_from: vec!["nothing-here".into()],
        ..PushOptions::default()
    };
    let report = push(&image, &client, "third", &tags(&["c"]), &opts)
        .await
        .unwrap();
    assert_eq!(report.count(uploaded), 3, "{:?}", report.blobs);
    assert_eq!(report.image_uris(), vec![format!("{}/third:c", reg.host())]);
    assert_eq!(
        fetch_manifest(&reg, "third", "c").await.2,
        img.manifest_bytes
    );
}

#[tokio::test]
async fn wrong_password_is_a_clear_401_before_any_upload() {
    init_logs();
    let reg = Registry::start("AWS", "right").await.unwrap();
    let mut layout = OciLayout::create();
    let img = layout.image(&[10_000], "amd64");
    layout.add_entry(&img.manifest, None);
    let image = open_source(&format!("oci:{}", layout.path().display())).await;

    let wrong = RegistryClient::new(
        reg.endpoint(),
        Some(Credentials::new("AWS", "wrong-password")),
    )
    .unwrap();
    let err = push(
        &image,
        &wrong,
        "app",
        &tags(&["v1"]),
        &PushOptions::default(),
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    eprintln!("401: {msg}");
    assert!(
        msg.contains("401 Unauthorized")
            && msg.contains(reg.host())
            && msg.contains("check the user and password"),
        "{msg}"
    );
    assert!(
        !msg.contains("wrong-password") && !format!("{err:?}").contains("wrong-password"),
        "{msg}"
    );

    let anonymous = RegistryClient::new(reg.endpoint(), None).unwrap();
    let msg = push(
        &image,
        &anonymous,
        "app",
        &tags(&["v1"]),
        &PushOptions::default(),
    )
    .await
    .unwrap_err()
    .to_string();
    eprintln!("anonymous: {msg}");
    assert!(
        msg.contains("401") && msg.contains("none were given"),
        "{msg}"
    );

    let bad_tag = push(
        &image,
        &client_for(&reg),
        "app",
        &tags(&["bad:tag"]),
        &PushOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(bad_tag, PushError::BadTag(_)));
}

/// Not an assertion: timing of many small blobs and a few big ones, to spot per-request stalls.
/// `cargo test --test image_push -- --ignored --nocapture timing_probe`
#[tokio::test]
#[ignore]
async fn timing_probe() {
    let reg = Registry::start("AWS", "pw").await.unwrap();
    let mut layout = OciLayout::create();
    let small: Vec<usize> = vec![1000; 20];
    let img = layout.image(&small, "amd64");
    layout.add_entry(&img.manifest, Some("small"));
    let big = layout.image(&[50 << 20, 50 << 20, 50 << 20], "amd64");
    layout.add_entry(&big.manifest, Some("big"));
    let client = client_for(&reg);
    for r in ["small", "big"] {
        let image = open_source(&format!("oci:{}:{r}", layout.path().display())).await;
        let t = std::time::Instant::now();
        push(&image, &client, r, &tags(&[r]), &PushOptions::default())
            .await
            .unwrap();
        eprintln!("{r}: cold push {:?}", t.elapsed());
        let t = std::time::Instant::now();
        push(&image, &client, r, &tags(&[r]), &PushOptions::default())
            .await
            .unwrap();
        eprintln!("{r}: re-push {:?}", t.elapsed());
        // The same with skopeo, when installed, into a fresh repository.
        let skopeo = |repo: String| {
            let t = std::time::Instant::now();
            let out = std::process::Command::new("skopeo")
                .args([
                    "copy",
                    "-q",
                    "--preserve-digests",
                    "--dest-tls-verify=false",
                ])
                .args(["--dest-creds", "AWS:pw"])
                .arg(format!("oci:{}:{r}", layout.path().display()))
                .arg(format!("docker://{}/{repo}:{r}", reg.host()))
                .output();
            match out {
                Ok(o) if o.status.success() => format!("{:?}", t.elapsed()),
                Ok(o) => format!("failed: {}", String::from_utf8_lossy(&o.stderr)),
                Err(e) => format!("not run: {e}"),
            }
        };
        eprintln!("{r}: skopeo cold {}", skopeo(format!("skopeo-{r}")));
        eprintln!("{r}: skopeo re-push {}", skopeo(format!("skopeo-{r}")));
    }
}

#[tokio::test]
async fn docker_archive_with_an_oci_index_inside() {
    init_logs();
    let reg = Registry::start_anonymous().await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let (path, layers, oci_manifest) =
        docker_archive_with_oci_index(out.path(), "web:2.0", &[90_000, 1_000]);
    let client = client_for(&reg);

    // As a docker archive: manifest.json, converted to schema 2 with uncompressed layers.
    let image = open_source(&format!("docker-archive:{}", path.display())).await;
    let report = push_default(&image, &client, "web", &["docker"]).await;
    assert_eq!(report.media_type, manifest::DOCKER_MANIFEST);
    let (_, ct, bytes) = fetch_manifest(&reg, "web", "docker").await;
    assert_eq!(ct, manifest::DOCKER_MANIFEST);
    let m: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    for (l, want) in m["layers"].as_array().unwrap().iter().zip(&layers) {
        assert_eq!(l["mediaType"], manifest::DOCKER_LAYER_TAR);
        assert_eq!(l["digest"], Digest::of(want).to_string());
    }

    // The same file as an OCI layout: its own manifest, byte for byte; the blobs are there.
    let image = open_source(&format!("oci:{}:2.0", path.display())).await;
    let report = push_default(&image, &client, "web", &["oci"]).await;
    assert_eq!(report.manifest_digest, Digest::of(&oci_manifest));
    assert_eq!(
        report.uploaded_bytes(),
        0,
        "the same config and layers as the docker-archive push"
    );
    assert_eq!(fetch_manifest(&reg, "web", "oci").await.2, oci_manifest);
}

/// Not an assertion: peak RSS of this process pushing one big layer written in 1 MiB pieces
/// (never whole in memory), to see that the push streams.
/// `cargo test --test image_push -- --ignored --nocapture memory_probe`
#[tokio::test]
#[ignore]
async fn memory_probe() {
    use std::io::Write;
    let size_mib: usize = std::env::var("PROBE_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let reg = Registry::start_anonymous().await.unwrap();
    let mut layout = OciLayout::create();
    let tmp = layout.path().join("big.tmp");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp).unwrap());
    let mut hasher = oidc_ecs_deploy::image::digest::Hasher::new();
    let chunk = random_bytes(1 << 20);
    for i in 0..size_mib {
        let mut c = chunk.clone();
        c[..8].copy_from_slice(&(i as u64).to_le_bytes());
        hasher.update(&c);
        f.write_all(&c).unwrap();
    }
    drop(f);
    let (digest, size) = hasher.finish();
    std::fs::rename(&tmp, layout.blob_path(&digest)).unwrap();
    let layer = oidc_ecs_deploy::image::Descriptor::new(manifest::OCI_LAYER_TAR, digest, size);
    let img = layout.image_with_layers(vec![layer], "amd64");
    layout.add_entry(&img.manifest, None);
    let before = vm_hwm();
    let image = open_source(&format!("oci:{}", layout.path().display())).await;
    let t = std::time::Instant::now();
    push(
        &image,
        &client_for(&reg),
        "big",
        &tags(&["t"]),
        &PushOptions::default(),
    )
    .await
    .unwrap();
    eprintln!(
        "pushed {size_mib} MiB in {:?}; VmHWM before {before}, after {}",
        t.elapsed(),
        vm_hwm()
    );
}

fn vm_hwm() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

#[tokio::test]
async fn retag_moves_no_blob_and_keeps_the_digest() {
    init_logs();
    let reg = Registry::start("AWS", "pw").await.unwrap();
    let mut layout = OciLayout::create();
    let amd = layout.image(&[1000], "amd64");
    let arm = layout.image(&[1000], "arm64");
    let (index, index_bytes) = layout.index(&[&amd, &arm]);
    layout.add_entry(&index, None);
    let image = open_source(&format!("oci:{}", layout.path().display())).await;
    let client = client_for(&reg);
    let opts = PushOptions::default();
    push(&image, &client, "promo", &tags(&["abc123"]), &opts)
        .await
        .unwrap();

    let digest = oidc_ecs_deploy::image::retag(&client, "promo", "abc123", "prod", &opts)
        .await
        .unwrap();
    assert_eq!(digest, index.digest);
    let (_, ct, bytes) = fetch_manifest(&reg, "promo", "prod").await;
    assert_eq!((ct.as_str(), bytes), (manifest::OCI_INDEX, index_bytes));

    let err = oidc_ecs_deploy::image::retag(&client, "promo", "missing", "prod", &opts)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "promo:missing does not exist in the registry"
    );
}

#[tokio::test]
async fn plan_tells_what_a_push_would_do_without_writing() {
    init_logs();
    use oidc_ecs_deploy::image::{BlobAction, plan};
    let reg = Registry::start("AWS", "pw").await.unwrap();
    let mut layout = OciLayout::create();
    let one = layout.image(&[5_000, 6_000], "amd64");
    let two = layout.image(&[7_000], "amd64");
    layout.add_entry(&one.manifest, Some("one"));
    layout.add_entry(&two.manifest, Some("two"));
    let open = |r: &str| SourceRef::parse(&format!("oci:{}:{r}", layout.path().display()));
    let one_img = open("one").unwrap().open().await.unwrap();
    let two_img = open("two").unwrap().open().await.unwrap();
    let client = client_for(&reg);
    let opts = PushOptions {
        mount_from: vec!["base".into()],
        ..PushOptions::default()
    };

    let p = plan(&one_img, &client, "app", &tags(&["v1"]), &opts)
        .await
        .unwrap();
    assert!(p.blobs.iter().all(|b| b.action == BlobAction::Upload));
    assert_eq!(p.bytes_to_upload(), one_img.total_blob_bytes());
    assert_eq!(p.tags[0].current, None);
    assert_eq!(
        fetch_manifest(&reg, "app", "v1").await.0,
        404,
        "a plan writes nothing"
    );

    push_default(&one_img, &client, "base", &["b"]).await;
    let p = plan(&one_img, &client, "app", &tags(&["v1"]), &opts)
        .await
        .unwrap();
    assert!(
        p.blobs.iter().all(|b| b.action
            == BlobAction::Mount {
                from: "base".into()
            }),
        "{p}"
    );
    assert_eq!(p.bytes_to_upload(), 0);

    push(&one_img, &client, "app", &tags(&["v1"]), &opts)
        .await
        .unwrap();
    let p = plan(&one_img, &client, "app", &tags(&["v1"]), &opts)
        .await
        .unwrap();
    assert!(p.up_to_date() && p.conflicts().is_empty(), "{p}");

    // Another image under the same tag: the conflict names the digest the tag has now.
    let p = plan(&two_img, &client, "app", &tags(&["v1"]), &opts)
        .await
        .unwrap();
    assert_eq!(p.conflicts().len(), 1);
    assert_eq!(
        p.conflicts()[0].current.as_ref(),
        Some(&one.manifest.digest)
    );
    let text = p.to_string();
    eprintln!("{text}");
    assert!(
        text.contains(&format!("tag v1: now {}, would move", one.manifest.digest)),
        "{text}"
    );
    assert!(text.contains("7000 bytes): upload"), "{text}");
}

#[tokio::test]
async fn registry_errors_carry_the_registry_words() {
    init_logs();
    let reg = Registry::start("AWS", "pw").await.unwrap();
    let client = client_for(&reg);
    client.login("app", &[]).await.unwrap();
    // A manifest naming blobs the registry never got.
    let missing = oidc_ecs_deploy::image::Descriptor::new(
        manifest::OCI_LAYER_TAR,
        Digest::of(b"never uploaded"),
        14,
    );
    let m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": manifest::OCI_MANIFEST,
        "config": oidc_ecs_deploy::image::Descriptor::new(manifest::OCI_CONFIG, Digest::of(b"{}"), 2),
        "layers": [missing],
    });
    let doc = oidc_ecs_deploy::image::ManifestDoc::new(
        manifest::OCI_MANIFEST,
        serde_json::to_vec(&m).unwrap(),
    );
    let err = client.put_manifest("app", "v1", &doc).await.unwrap_err();
    let msg = err.to_string();
    eprintln!("{msg}");
    assert_eq!(err.status(), Some(400));
    assert!(
        msg.contains(&format!("push manifest {} as app:v1", doc.digest)),
        "{msg}"
    );
    assert!(msg.contains("MANIFEST_BLOB_UNKNOWN"), "{msg}");
}
