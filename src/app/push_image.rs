//! The image stage as a run performs it: make sure the repository exists (creating it carefully
//! when asked), log in to the registry, decide what each tag means (already there, a conflict an
//! immutable repository must refuse, a mutable tag to move), push or promote, gate on the scan,
//! and publish outputs. Every decision is made before the first byte is uploaded. A
//! `docker-daemon:` source is exported from the Docker Engine first, before any AWS call.

use std::time::Duration;

use aws_config::SdkConfig;

use crate::failure::{Category, Failure};
use crate::image::ecr::{self, EcrError, EcrLogin, RepositoryInfo, ScanOutcome};
use crate::image::source::daemon::{self, DaemonError, DaemonExport};
use crate::image::{Credentials, Digest, PushError, PushOptions, RegistryClient, TagState, plan, push, retag};
use crate::inputs::{ImageConfig, ImageSource};
use crate::runner::Annotation;

use super::{Console, failures};

/// What the rollout needs from the image stage.
#[derive(Debug, Clone)]
pub struct PushedImage {
    pub registry: String,
    pub repository: String,
    pub digest: Digest,
    /// `registry/repository@sha256:...`: what a task definition pins.
    pub pinned: String,
}

pub async fn run(cfg: &ImageConfig, aws: &SdkConfig, docker_host: Option<&str>, console: &mut Console) -> Result<PushedImage, Failure> {
    // Read the source first: a bad one must fail before anything is created in AWS. An image
    // from the Docker Engine is exported to a temporary file that lives as long as `export`.
    let export = match &cfg.source {
        ImageSource::DockerDaemon { name } => Some(export_from_daemon(name, docker_host).await?),
        _ => None,
    };
    let opened = match &cfg.source {
        ImageSource::Local(source) => {
            let image = source.open().await.map_err(|e| Failure::unexpected(&e).recategorised(Category::BadInput))?;
            tracing::info!("image {source}: {}", image.summary());
            Some(image)
        }
        _ => None,
    };
    let local = opened.as_ref().or(export.as_ref().map(|e| &e.image));
    let ecr_client = aws_sdk_ecr::Client::new(aws);
    let repository = ensure_repository(cfg, &ecr_client).await?;
    let login = ecr::login(&ecr_client, cfg.registry_endpoint.as_deref()).await.map_err(|e| ecr_failure(&e))?;
    console.workflow.add_mask(&login.password).map_err(|e| failures::console(&e))?;
    let registry = registry_client(&login)?;
    let options = PushOptions::default();

    let digest = match (&cfg.source, local) {
        (_, Some(image)) => {
            let plan = plan(image, &registry, &cfg.repository, &cfg.tags, &options).await.map_err(|e| push_failure(&e))?;
            check_tags(&plan.tags, &plan.manifest_digest, &repository, console)?;
            if plan.up_to_date() {
                tracing::info!("{}/{} already has {} under every tag: nothing to upload", plan.registry, cfg.repository, plan.manifest_digest);
            } else {
                push(image, &registry, &cfg.repository, &cfg.tags, &options).await.map_err(|e| push_failure(&e))?;
            }
            plan.manifest_digest
        }
        (ImageSource::Ecr { tag: from }, None) => promote(cfg, &registry, from, &repository, &options, console).await?,
        (ImageSource::DockerDaemon { .. } | ImageSource::Local(_), None) => unreachable!("local and docker-daemon sources were opened above"),
    };

    if let Some(threshold) = cfg.scan_threshold {
        scan_gate(&ecr_client, cfg, &digest, &format!("{threshold:?}").to_ascii_uppercase()).await?;
    }
    let host = login.host().to_owned();
    let pushed = PushedImage { pinned: format!("{host}/{}@{digest}", cfg.repository), registry: host, repository: cfg.repository.clone(), digest };
    publish(cfg, &pushed, console)?;
    Ok(pushed)
}

async fn ensure_repository(cfg: &ImageConfig, client: &aws_sdk_ecr::Client) -> Result<RepositoryInfo, Failure> {
    if let Some(repo) = ecr::describe_repository(client, &cfg.repository).await.map_err(|e| ecr_failure(&e))? {
        return Ok(repo);
    }
    if !cfg.create_repository {
        return Err(Failure::new(Category::BadInput, format!("ECR repository `{}` does not exist", cfg.repository))
            .hint("create it (immutable tags and scan on push are the safe defaults), or set `create-repository: true`"));
    }
    let repo = ecr::create_repository(client, &cfg.repository).await.map_err(|e| ecr_failure(&e))?;
    tracing::info!("created ECR repository {} (IMMUTABLE tags, scan on push, AES-256)", repo.uri);
    Ok(repo)
}

fn registry_client(login: &EcrLogin) -> Result<RegistryClient, Failure> {
    RegistryClient::new(&login.endpoint, Some(Credentials::new(login.username.clone(), login.password.expose())))
        .map_err(|e| Failure::unexpected(&e).recategorised(Category::BadInput))
}

/// Each tag: already this digest (fine), another digest in an immutable repository (refuse,
/// before anything is uploaded), another digest in a mutable one (move it, and say so).
fn check_tags(tags: &[TagState], digest: &Digest, repository: &RepositoryInfo, console: &mut Console) -> Result<(), Failure> {
    for state in tags {
        let Some(current) = state.current.as_ref().filter(|c| *c != digest) else { continue };
        if !repository.tag_is_mutable(&state.tag) {
            return Err(Failure::new(Category::Refused, format!("tag `{}` of the immutable repository {} already names another image", state.tag, repository.name))
                .detail(format!("tag {:<8} = {current}", state.tag))
                .detail(format!("this image = {digest}"))
                .detail("nothing was uploaded".to_owned())
                .hint("an immutable tag names one image forever: push under a new tag (the commit SHA is the default),\nor, if this is a rebuild of the same commit, make the build reproducible so the digest matches"));
        }
        let message = format!("moving mutable tag `{}` from {current} to {digest}", state.tag);
        let _ = console.workflow.warning(&message, &Annotation::titled("Tag moved"));
    }
    Ok(())
}

/// `ecr:TAG`: put the manifest `from` names under each tag, moving no blob.
async fn promote(cfg: &ImageConfig, registry: &RegistryClient, from: &str, repository: &RepositoryInfo, options: &PushOptions, console: &mut Console) -> Result<Digest, Failure> {
    registry.login(&cfg.repository, &[]).await.map_err(|e| Failure::unexpected(&e))?;
    let source = registry.manifest_digest(&cfg.repository, from).await.map_err(|e| Failure::unexpected(&e))?;
    let Some(digest) = source else {
        return Err(Failure::new(Category::BadInput, format!("input `image-source`: `ecr:{from}` does not exist in repository {}", cfg.repository))
            .hint("promotion re-tags an image already in the repository; push it first, or name an existing tag"));
    };
    let mut states = Vec::new();
    for tag in &cfg.tags {
        let current = registry.manifest_digest(&cfg.repository, tag).await.map_err(|e| Failure::unexpected(&e))?;
        states.push(TagState { tag: tag.clone(), current });
    }
    check_tags(&states, &digest, repository, console)?;
    for state in states.iter().filter(|s| s.current.as_ref() != Some(&digest)) {
        retag(registry, &cfg.repository, from, &state.tag, options).await.map_err(|e| push_failure(&e))?;
        tracing::info!("promoted {}:{from} to :{} ({digest}), no layer moved", cfg.repository, state.tag);
    }
    Ok(digest)
}

/// Fail closed: a scan that finds something at or above the threshold, that does not finish in
/// time, or that cannot run, all stop the deploy.
async fn scan_gate(client: &aws_sdk_ecr::Client, cfg: &ImageConfig, digest: &Digest, threshold: &str) -> Result<(), Failure> {
    let outcome = ecr::scan_findings(client, &cfg.repository, &digest.to_string(), threshold, Duration::from_secs(300), Duration::from_secs(3))
        .await
        .map_err(|e| ecr_failure(&e))?;
    match outcome {
        ScanOutcome::Complete { blocking, .. } if blocking.is_empty() => {
            tracing::info!("scan complete: nothing at or above {threshold}");
            Ok(())
        }
        ScanOutcome::Complete { blocking, counts } => {
            let worst = &blocking[0];
            let headline = format!("the image scan found {} finding(s) at or above {threshold} (worst: {} {})", blocking.len(), worst.severity, worst.name);
            let mut failure = Failure::new(Category::Refused, headline);
            for f in blocking.iter().take(5) {
                failure.details.push(format!("{:<9} {}{}", f.severity, f.name, f.uri.as_deref().map(|u| format!("  {u}")).unwrap_or_default()));
            }
            let counts: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
            failure.details.push(format!("all findings: {}", counts.join(", ")));
            Err(failure.hint("fix or upgrade the affected packages and rebuild, or raise `scan-severity-threshold` if the risk is accepted"))
        }
        ScanOutcome::Pending { status } => Err(Failure::new(Category::Refused, format!("the image scan did not complete within 5 minutes (status {status})"))
            .hint("the scan gate fails closed; re-run the job once the scan has finished")),
        ScanOutcome::Unavailable { status, description } => Err(Failure::new(Category::Refused, format!("the image scan could not run ({status}): {description}"))
            .hint("remove `scan-severity-threshold` for images ECR cannot scan, or fix what the status names")),
    }
}

fn publish(cfg: &ImageConfig, pushed: &PushedImage, console: &mut Console) -> Result<(), Failure> {
    let uri = format!("{}/{}:{}", pushed.registry, pushed.repository, cfg.tags[0]);
    console.output("registry", &pushed.registry)?;
    console.output("image-uri", &uri)?;
    console.output("image-digest", &pushed.digest.to_string())?;
    console.output("image-ref", &pushed.pinned)?;
    let tags = cfg.tags.join(", ");
    let digest = pushed.digest.to_string();
    let rows = [["image", uri.as_str()], ["digest", digest.as_str()], ["tags", tags.as_str()]];
    let markdown = format!("### oidc-ecs-deploy: image pushed\n\n{}", crate::runner::table(&["field", "value"], rows));
    console.summary.append_markdown(&markdown).map_err(|e| failures::runner_file(&e))
}

/// `docker-daemon:NAME`: export the image from the Engine on `DOCKER_HOST`'s socket (else
/// /var/run/docker.sock) and open it; a missing image, socket or Engine is the user's to fix.
pub(super) async fn export_from_daemon(name: &str, docker_host: Option<&str>) -> Result<DaemonExport, Failure> {
    let bad = |e: &DaemonError| {
        let failure = Failure::unexpected(e);
        match e {
            DaemonError::Connect { .. } => failure.recategorised(Category::BadInput).hint("a container action reaches the Engine through the socket the runner mounts (/var/run/docker.sock);\nelsewhere set DOCKER_HOST=unix:///path/to/docker.sock, or export the image with `docker save` and use docker-archive:FILE"),
            DaemonError::NotFound { .. } => failure.recategorised(Category::BadInput).hint("build or pull the image in an earlier step, or name it as `docker images` lists it (NAME:TAG or its Id)"),
            _ if e.is_bad_input() => failure.recategorised(Category::BadInput),
            _ => failure,
        }
    };
    let socket = daemon::socket_path(docker_host).map_err(|e| bad(&e))?;
    let export = daemon::export(name, &socket).await.map_err(|e| bad(&e))?;
    tracing::info!("image docker-daemon:{name}: {}", export.image.summary());
    Ok(export)
}

fn ecr_failure(error: &EcrError) -> Failure {
    let failure = Failure::unexpected(error);
    match error.code() {
        Some("AccessDeniedException") => failure.recategorised(Category::Refused).hint("the role's permissions policy must allow this ECR action on the repository"),
        Some("RepositoryNotFoundException" | "InvalidParameterException" | "RepositoryAlreadyExistsException") => failure.recategorised(Category::BadInput),
        _ => failure,
    }
}

pub(super) fn push_failure(error: &PushError) -> Failure {
    let failure = Failure::unexpected(error);
    match error {
        PushError::CorruptBlob { .. } => failure.recategorised(Category::BadInput).hint("the image source on disk does not match its own index: rebuild or re-export it"),
        PushError::Source(_) | PushError::NotFound { .. } | PushError::BadRepository(_) | PushError::BadTag(_) => failure.recategorised(Category::BadInput),
        _ => failure,
    }
}
