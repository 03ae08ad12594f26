//! `dry-run: true` over the image stage, end to end: the built binary decides everything a push
//! would (the source, the login, the repository, each tag, each blob, the scan gate) and prints
//! it, then creates, uploads and tags nothing. Checked where it would show: the registry (no
//! manifest, no blob), moto's ECR (no repository, no image: the registry mirrors every push into
//! it), the ECS simulator (no registration, no update) and the runner's files (no image output;
//! the summary says it was a dry run and what would have been uploaded).

#[path = "common/image_bed.rs"]
mod bed;
mod common;
#[path = "image_fixtures.rs"]
mod fixtures;

use bed::{Bed, SHA, assert_summary_row, blobs, layout_with_image, oci, repo_name};
use common::Run;
use testbed::ecs::SIM_REGION;
use testbed::{EcsSimulator, Scenario, ServiceSeed};

/// Nothing of the image reached the registry or moto: no tag, no blob, no image.
async fn assert_nothing_pushed(bed: &Bed, run: &Run, repo: &str, img: &fixtures::BuiltImage) {
    assert_eq!(
        bed.digest_of(repo, SHA).await,
        None,
        "a tag was pushed\n{}",
        run.dump()
    );
    for blob in blobs(img) {
        assert_eq!(
            bed.blob_status(repo, &blob).await,
            404,
            "blob {blob} was uploaded\n{}",
            run.dump()
        );
    }
    assert_eq!(run.output("image-digest"), None, "{}", run.dump());
    assert!(
        run.summary.contains("dry run"),
        "the summary does not say it was a dry run\n{}",
        run.dump()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_with_image_and_rollout_creates_uploads_registers_and_updates_nothing() {
    let bed = Bed::start_synced(SIM_REGION).await;
    let sim = EcsSimulator::start()
        .await
        .expect("start the ECS simulator");
    let seed = ServiceSeed {
        cluster: "prod".into(),
        service: "api".into(),
        scenario: Scenario::HealthyRolling,
        ..ServiceSeed::default()
    };
    sim.seed_service(seed).expect("seed a service");
    let served = sim
        .service("prod", "api")
        .expect("service exists")
        .task_definition;
    let repo = repo_name("dry-run");
    let (layout, img) = layout_with_image();

    let mut job = bed
        .job(&repo, &oci(layout.path()))
        .env("GITHUB_SHA", SHA)
        .env("OIDC_ECS_DEPLOY_POLL_SECONDS", "0")
        .with("create-repository", "true")
        .with("scan-severity-threshold", "HIGH")
        .with("cluster", "prod")
        .with("service", "api")
        .with("container-name", "app")
        .with("dry-run", "true");
    for (k, v) in sim.env() {
        job = job.env(&k, &v);
    }
    let run = job.run().await;

    run.assert_code(0);
    let digest = img.manifest.digest.to_string();
    let pinned = format!("{}/{repo}@{digest}", bed.reg.host());
    let bytes: u64 = img.config.size + img.layers.iter().map(|l| l.size).sum::<u64>();
    for line in [
        format!("repository {repo}: does not exist, would be created (IMMUTABLE tags, scan on push, AES-256)"),
        format!("push {}/{repo}@{digest}", bed.reg.host()),
        format!("  tag {SHA}: new"),
        format!("  blob {} ({} bytes): upload", img.layers[0].digest, img.layers[0].size),
        format!("  {bytes} bytes to upload"),
        "  scan gate: would wait up to 10 min for basic scanning, scan on push, refusing findings at or above HIGH".to_owned(),
        format!("image app: {} -> {pinned}", ServiceSeed::default().image),
        "service api: family api, serving api:1, gets a new revision of api: update".to_owned(),
    ] {
        assert!(run.stdout.lines().any(|l| l.starts_with(&line)), "the plan lacks `{line}`\n{}", run.dump());
    }
    assert_nothing_pushed(&bed, &run, &repo, &img).await;
    assert!(
        bed.describe_repository(&repo).await.is_none(),
        "the repository was created\n{}",
        run.dump()
    );
    assert_eq!(
        bed.moto_images(SIM_REGION, &repo).await,
        None,
        "moto saw an image\n{}",
        run.dump()
    );
    assert_eq!(
        (
            sim.calls("RegisterTaskDefinition"),
            sim.calls("UpdateService")
        ),
        (0, 0),
        "{}",
        run.dump()
    );
    assert_eq!(sim.service("prod", "api").unwrap().task_definition, served);
    for row in [
        "| blobs | 3 to upload, 0 already there, 0 to mount |",
        &format!("| bytes to upload | 0.0 MiB ({bytes} bytes) |"),
        &format!("| repository | {repo} would be created"),
    ] {
        assert_summary_row(&run, row);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_over_a_mutable_tag_says_it_would_move_it_and_moves_nothing() {
    let bed = Bed::start_synced(SIM_REGION).await;
    let repo = repo_name("dry-move");
    bed.create_repository(&repo, "MUTABLE").await;
    let (first_layout, first) = layout_with_image();
    bed.job(&repo, &oci(first_layout.path()))
        .with("image-tag", "latest")
        .run()
        .await
        .assert_code(0);
    let (layout, img) = layout_with_image();

    let run = bed
        .job(&repo, &oci(layout.path()))
        .with("image-tag", "latest")
        .with("dry-run", "true")
        .run()
        .await;

    run.assert_code(0);
    let line = format!("  tag latest: now {}, would move", first.manifest.digest);
    assert!(
        run.stdout.lines().any(|l| l == line),
        "the plan lacks `{line}`\n{}",
        run.dump()
    );
    let warned = run
        .stdout
        .lines()
        .any(|l| l.starts_with("::warning") && l.contains("would move mutable tag `latest`"));
    assert!(
        warned,
        "no ::warning that the tag would move\n{}",
        run.dump()
    );
    assert_eq!(
        bed.digest_of(&repo, "latest").await.as_ref(),
        Some(&first.manifest.digest),
        "the tag moved\n{}",
        run.dump()
    );
    bed.assert_no_blobs(&repo, &img, &run).await;
    assert_eq!(run.output("image-digest"), None, "{}", run.dump());
    let images = bed
        .moto_images(SIM_REGION, &repo)
        .await
        .expect("the repository exists");
    assert_eq!(
        images.len(),
        1,
        "moto holds only the first image: {images:?}\n{}",
        run.dump()
    );
}
