//! The image stage as a run performs it, in the order decide -> dry-run -> act -> gate ->
//! report. Decide: read the source, look at the repository (create it only when asked), the
//! scanner that will judge the image (`scan_gate`), log in, and what each tag means (already
//! there, a conflict an immutable repository must refuse, a mutable tag to move), all before
//! the first byte is uploaded. Under `dry-run` print that plan and stop: no repository, blob or
//! tag is created. Act: create, push or promote. Then the scan gate, the outputs and the
//! summary (`image_report`). A `docker-daemon:` source is exported before any AWS call.

use std::time::Instant;

use aws_config::SdkConfig;

use crate::failure::{Category, Failure};
use crate::image::ecr::{self, EcrError, EcrLogin, RepositoryInfo};
use crate::image::source::daemon::{self, DaemonError, DaemonExport};
use crate::image::{
    Credentials, Digest, LocalImage, PushError, PushOptions, PushPlan, RegistryClient,
    RegistryError, TagState, plan, push_planned, retag,
};
use crate::inputs::{ImageConfig, ImageSource};
use crate::runner::Annotation;

use super::image_report::{self, ImageSection, Transfer};
use super::{Console, failures, scan_gate};

/// What the rollout needs from the image stage.
#[derive(Debug, Clone)]
pub struct PushedImage {
    pub registry: String,
    pub repository: String,
    pub digest: Digest,
    /// `registry/repository@sha256:...`: what a task definition pins.
    pub pinned: String,
}

/// What the decide half found: how the image gets into the repository.
enum Decided<'a> {
    Push {
        image: &'a LocalImage,
        plan: PushPlan,
    },
    Promote {
        from: String,
        digest: Digest,
        states: Vec<TagState>,
    },
}

impl Decided<'_> {
    fn digest(&self) -> &Digest {
        match self {
            Decided::Push { plan, .. } => &plan.manifest_digest,
            Decided::Promote { digest, .. } => digest,
        }
    }
}

/// Returns the image as pushed; under `dry-run`, as it would be pushed (for the rollout's plan).
pub async fn run(
    cfg: &ImageConfig,
    aws: &SdkConfig,
    docker_host: Option<&str>,
    console: &mut Console,
) -> Result<PushedImage, Failure> {
    let began = Instant::now();
    // Read the source first: a bad one must fail before anything is created in AWS. An image
    // from the Docker Engine is exported to a temporary file that lives as long as `export`.
    let export = match &cfg.source {
        ImageSource::DockerDaemon { name } => Some(export_from_daemon(name, docker_host).await?),
        _ => None,
    };
    let opened = match &cfg.source {
        ImageSource::Local(source) => {
            let image = source.open().await.map_err(|e| {
                bad_source(Failure::unexpected(&e))
                    .recategorised(Category::BadInput)
                    .hint(
                    "`oci:DIR` needs an OCI layout (index.json, oci-layout, blobs/), as `buildah push IMAGE oci:DIR`\nor `skopeo copy` write it; `docker-archive:FILE` needs the tar `docker save` writes",
                )
            })?;
            tracing::info!("image {source}: {}", image.summary());
            Some(image)
        }
        _ => None,
    };
    let local = opened.as_ref().or(export.as_ref().map(|e| &e.image));
    // Login, look-up and creation retry in our loop (`image::ecr`); the scan gate keeps the SDK's.
    let ecr_client = aws_sdk_ecr::Client::from_conf(
        aws_sdk_ecr::config::Builder::from(aws)
            .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
            .build(),
    );
    let scan_client = aws_sdk_ecr::Client::new(aws);

    // Decide.
    let (mut repository, create) = repository_state(cfg, &ecr_client).await?;
    let threshold = cfg.scan_threshold.map(scan_gate::threshold_name);
    let scanner = match &threshold {
        Some(_) => Some(scan_gate::decide(&scan_client, &repository).await?),
        None => None,
    };
    let login = ecr::login(&ecr_client, cfg.registry_endpoint.as_deref())
        .await
        .map_err(|e| ecr_failure(&e))?;
    console
        .workflow
        .add_mask(&login.password)
        .map_err(|e| failures::console(&e))?;
    let registry = registry_client(&login)?;
    let options = PushOptions::default();
    let decided = match (&cfg.source, local) {
        (_, Some(image)) => {
            let plan = plan(image, &registry, &cfg.repository, &cfg.tags, &options)
                .await
                .map_err(|e| push_failure(&e))?;
            check_tags(
                &plan.tags,
                &plan.manifest_digest,
                &repository,
                cfg.dry_run,
                console,
            )?;
            Decided::Push { image, plan }
        }
        (ImageSource::Ecr { tag: from }, None) => {
            let (digest, states) = promotion(cfg, &registry, from).await?;
            check_tags(&states, &digest, &repository, cfg.dry_run, console)?;
            Decided::Promote {
                from: from.clone(),
                digest,
                states,
            }
        }
        (ImageSource::DockerDaemon { .. } | ImageSource::Local(_), None) => {
            unreachable!("local and docker-daemon sources were opened above")
        }
    };
    let host = login.host().to_owned();
    let digest = decided.digest().clone();
    let pushed = PushedImage {
        pinned: format!("{host}/{}@{digest}", cfg.repository),
        registry: host,
        repository: cfg.repository.clone(),
        digest,
    };

    if cfg.dry_run {
        let create_line = create.then(|| format!("repository {}: does not exist, would be created (IMMUTABLE tags, scan on push, AES-256)", cfg.repository));
        let scan_line = scanner.zip(threshold.as_deref()).map(|(s, t)| {
            format!(
                "  scan gate: would wait up to {} min for {s}, refusing findings at or above {t}",
                cfg.scan_wait.as_secs() / 60
            )
        });
        let (lines, transfer) = match &decided {
            Decided::Push { plan, .. } => (
                image_report::push_plan_lines(plan, create_line.as_deref(), scan_line),
                Transfer::planned(plan),
            ),
            Decided::Promote {
                from,
                digest,
                states,
            } => (
                image_report::promotion_plan_lines(
                    &cfg.repository,
                    from,
                    states,
                    digest,
                    scan_line,
                ),
                Transfer::promoted(from),
            ),
        };
        image_report::print_plan(&lines);
        tracing::info!("dry run: no repository was created, nothing was uploaded or tagged");
        let section = ImageSection {
            pushed: &pushed,
            transfer: &transfer,
            created_repository: create,
            scan: None,
            elapsed: began.elapsed(),
            dry_run: true,
        };
        image_report::append_summary(cfg, &section, console)?;
        return Ok(pushed);
    }

    // Act.
    if create {
        repository = ecr::create_repository(&ecr_client, &cfg.repository)
            .await
            .map_err(|e| ecr_failure(&e))?;
        tracing::info!(
            "created ECR repository {} (IMMUTABLE tags, scan on push, AES-256)",
            repository.uri
        );
    }
    let (transfer, fresh_push) = match decided {
        Decided::Push { plan, .. } if plan.up_to_date() => {
            tracing::info!(
                "{}/{} already has {} under every tag: nothing to upload",
                plan.registry,
                cfg.repository,
                plan.manifest_digest
            );
            (Transfer::planned(&plan), false)
        }
        // The plan's answers carry over: no second login, no blob or tag asked about twice,
        // and the tags are put as the immutable-tag check above saw them.
        Decided::Push { image, plan } => {
            let report = push_planned(image, &registry, &plan, &options)
                .await
                .map_err(|e| push_failure(&e))?;
            (Transfer::pushed(&report), true)
        }
        Decided::Promote {
            from,
            digest,
            states,
        } => {
            let moved = promote(cfg, &registry, &from, &digest, &states, &options).await?;
            (Transfer::promoted(&from), moved)
        }
    };

    // Gate, then report.
    let scan = match scanner.zip(threshold.as_deref()) {
        Some((scanner, threshold)) => Some(
            scan_gate::wait(
                &scan_client,
                cfg,
                &pushed.digest,
                scanner,
                threshold,
                fresh_push,
            )
            .await?,
        ),
        None => None,
    };
    image_report::publish_outputs(cfg, &pushed, console)?;
    let section = ImageSection {
        pushed: &pushed,
        transfer: &transfer,
        created_repository: create,
        scan,
        elapsed: began.elapsed(),
        dry_run: false,
    };
    image_report::append_summary(cfg, &section, console)?;
    Ok(pushed)
}

/// The repository as it is, or (when it is missing and `create-repository` allows it) as it
/// will be created, with `true`: the caller creates it, unless this is a dry run.
async fn repository_state(
    cfg: &ImageConfig,
    client: &aws_sdk_ecr::Client,
) -> Result<(RepositoryInfo, bool), Failure> {
    if let Some(repo) = ecr::describe_repository(client, &cfg.repository)
        .await
        .map_err(|e| ecr_failure(&e))?
    {
        return Ok((repo, false));
    }
    if !cfg.create_repository {
        return Err(Failure::new(Category::BadInput, format!("input `repository`: ECR repository `{}` does not exist", cfg.repository))
            .hint("name an existing repository, create it (immutable tags and scan on push are the safe defaults),\nor set `create-repository: true`"));
    }
    Ok((ecr::new_repository(&cfg.repository), true))
}

fn registry_client(login: &EcrLogin) -> Result<RegistryClient, Failure> {
    RegistryClient::new(
        &login.endpoint,
        Some(Credentials::new(
            login.username.clone(),
            login.password.expose(),
        )),
    )
    .map_err(|e| Failure::unexpected(&e).recategorised(Category::BadInput))
}

/// Each tag: already this digest (fine), another digest in an immutable repository (refuse,
/// before anything is uploaded), another digest in a mutable one (move it, and say so).
fn check_tags(
    tags: &[TagState],
    digest: &Digest,
    repository: &RepositoryInfo,
    dry_run: bool,
    console: &mut Console,
) -> Result<(), Failure> {
    for state in tags {
        let Some(current) = state.current.as_ref().filter(|c| *c != digest) else {
            continue;
        };
        if !repository.tag_is_mutable(&state.tag) {
            return Err(Failure::new(Category::Refused, format!("tag `{}` of the immutable repository {} already names another image", state.tag, repository.name))
                .detail(format!("tag {:<8} = {current}", state.tag))
                .detail(format!("this image = {digest}"))
                .detail("nothing was uploaded".to_owned())
                .hint("an immutable tag names one image forever: push under a new tag (the commit SHA is the default),\nor, if this is a rebuild of the same commit, make the build reproducible so the digest matches"));
        }
        let verb = if dry_run { "would move" } else { "moving" };
        let message = format!(
            "{verb} mutable tag `{}` from {current} to {digest}",
            state.tag
        );
        let _ = console
            .workflow
            .warning(&message, &Annotation::titled("Tag moved"));
    }
    Ok(())
}

/// `ecr:TAG`: the digest `from` names and what each tag names now (HEADs only).
async fn promotion(
    cfg: &ImageConfig,
    registry: &RegistryClient,
    from: &str,
) -> Result<(Digest, Vec<TagState>), Failure> {
    registry
        .login(&cfg.repository, &[])
        .await
        .map_err(|e| Failure::unexpected(&e))?;
    let source = registry
        .manifest_digest(&cfg.repository, from)
        .await
        .map_err(|e| Failure::unexpected(&e))?;
    let Some(digest) = source else {
        return Err(Failure::new(Category::BadInput, format!("input `image-source`: `ecr:{from}` does not exist in repository {}", cfg.repository))
            .hint("promotion re-tags an image already in the repository; push it first, or name an existing tag"));
    };
    let mut states = Vec::new();
    for tag in &cfg.tags {
        let current = registry
            .manifest_digest(&cfg.repository, tag)
            .await
            .map_err(|e| Failure::unexpected(&e))?;
        states.push(TagState {
            tag: tag.clone(),
            current,
        });
    }
    Ok((digest, states))
}

/// Put the manifest `from` names under each tag that does not name it yet, moving no blob;
/// `true` when a tag was put.
async fn promote(
    cfg: &ImageConfig,
    registry: &RegistryClient,
    from: &str,
    digest: &Digest,
    states: &[TagState],
    options: &PushOptions,
) -> Result<bool, Failure> {
    let mut moved = false;
    for state in states.iter().filter(|s| s.current.as_ref() != Some(digest)) {
        retag(registry, &cfg.repository, from, &state.tag, options)
            .await
            .map_err(|e| push_failure(&e))?;
        tracing::info!(
            "promoted {}:{from} to :{} ({digest}), no layer moved",
            cfg.repository,
            state.tag
        );
        moved = true;
    }
    Ok(moved)
}

/// `docker-daemon:NAME`: export the image from the Engine on `DOCKER_HOST`'s socket (else
/// /var/run/docker.sock) and open it; a missing image, socket or Engine is the user's to fix.
pub(super) async fn export_from_daemon(
    name: &str,
    docker_host: Option<&str>,
) -> Result<DaemonExport, Failure> {
    let bad = |e: &DaemonError| {
        let failure = Failure::unexpected(e);
        let input = |f: Failure| bad_source(f).recategorised(Category::BadInput);
        match e {
            DaemonError::Connect { .. } => input(failure).hint("a container action reaches the Engine through the socket the runner mounts (/var/run/docker.sock);\nelsewhere set DOCKER_HOST=unix:///path/to/docker.sock, or export the image with `docker save` and use docker-archive:FILE"),
            DaemonError::NotFound { .. } => input(failure).hint("build or pull the image in an earlier step, or name it as `docker images` lists it (NAME:TAG or its Id)"),
            _ if e.is_bad_input() => input(failure),
            _ => failure,
        }
    };
    let socket = daemon::socket_path(docker_host).map_err(|e| bad(&e))?;
    let export = daemon::export(name, &socket).await.map_err(|e| bad(&e))?;
    tracing::info!("image docker-daemon:{name}: {}", export.image.summary());
    Ok(export)
}

/// The image the user named cannot be read: the headline names the input.
fn bad_source(failure: Failure) -> Failure {
    Failure {
        headline: format!("input `image-source`: {}", failure.headline),
        ..failure
    }
}

pub(super) fn ecr_failure(error: &EcrError) -> Failure {
    let failure = Failure::unexpected(error);
    match error.code() {
        Some("AccessDeniedException") => failure
            .recategorised(Category::Refused)
            .hint("the role's permissions policy must allow this ECR action on the repository"),
        Some(
            "RepositoryNotFoundException"
            | "InvalidParameterException"
            | "RepositoryAlreadyExistsException",
        ) => failure.recategorised(Category::BadInput),
        _ => failure,
    }
}

pub(super) fn push_failure(error: &PushError) -> Failure {
    let failure = Failure::unexpected(error);
    match error {
        PushError::CorruptBlob { .. } => failure
            .recategorised(Category::BadInput)
            .hint("the image source on disk does not match its own index: rebuild or re-export it"),
        PushError::Registry(RegistryError::UnsafeRealm { .. }) => failure
            .recategorised(Category::Refused)
            .hint("the registry's WWW-Authenticate challenge sends clients to that token service for a login:\nfix the registry's token realm (auth.token.realm) to an https URL; nothing was sent to it"),
        PushError::Source(_)
        | PushError::NotFound { .. }
        | PushError::BadRepository(_)
        | PushError::BadTag(_) => failure.recategorised(Category::BadInput),
        _ => failure,
    }
}
