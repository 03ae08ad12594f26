//! `push`: an opened image into one repository, idempotently. Blobs first (HEAD to skip what is
//! there, mount from sibling repositories, upload the rest, at most `concurrency` at a time),
//! then manifests children-first, then the tags. Nothing is tagged unless every blob made it:
//! a corrupt source blob stops the push before any manifest is written.
//!
//! `push` is `plan` (the login and every HEAD) then `push_planned`, which acts on the plan's
//! answers without asking again: a caller that already planned (to decide on immutable tags,
//! or to print a dry run) passes its plan, so the decision and the act see the same registry
//! state and each question costs one request. Only a failed upload asks again (is the blob
//! there after all?) before it is retried, so no blob is sent twice in full.

use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt, stream};

use super::digest::Digest;
use super::plan::{BlobAction, PushPlan, plan};
use super::registry::{RegistryClient, UploadMode};
use super::registry_error::RegistryError;
use super::retry::{RetryPolicy, default_policy, with_retries};
use super::source::{LocalBlob, LocalImage, SourceError};
use super::upload::Mount;

#[derive(Debug, Clone)]
pub struct PushOptions {
    /// Blob uploads in flight at once.
    pub concurrency: usize,
    /// Repositories of the same registry that may already hold our blobs (tried in order).
    pub mount_from: Vec<String>,
    /// Retries of transient failures, per blob and per manifest.
    pub retry: RetryPolicy,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            concurrency: 3,
            mount_from: Vec::new(),
            retry: default_policy(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobOutcome {
    /// Already in the repository (HEAD hit).
    Skipped,
    Mounted {
        from: String,
    },
    Uploaded {
        bytes: u64,
        elapsed: Duration,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobReport {
    pub digest: Digest,
    pub size: u64,
    pub outcome: BlobOutcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestOutcome {
    /// Already under this reference with the same digest: not written again.
    Present,
    Pushed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestReport {
    pub digest: Digest,
    pub media_type: String,
    /// The tag or digest it was checked and pushed under.
    pub reference: String,
    pub outcome: ManifestOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushReport {
    pub registry: String,
    pub repository: String,
    pub tags: Vec<String>,
    /// sha256 of the top manifest's bytes as pushed: what the tags point at.
    pub manifest_digest: Digest,
    pub media_type: String,
    pub blobs: Vec<BlobReport>,
    pub manifests: Vec<ManifestReport>,
    /// Every tag already pointed at this digest: nothing was sent, not even a blob HEAD (a
    /// registry only accepts a manifest whose blobs and children it holds).
    pub up_to_date: bool,
}

impl PushReport {
    pub fn uploaded_bytes(&self) -> u64 {
        self.blobs
            .iter()
            .map(|b| match b.outcome {
                BlobOutcome::Uploaded { bytes, .. } => bytes,
                _ => 0,
            })
            .sum()
    }

    pub fn count(&self, pred: impl Fn(&BlobOutcome) -> bool) -> usize {
        self.blobs.iter().filter(|b| pred(&b.outcome)).count()
    }

    /// `registry/repo:tag` for each tag (the `image-uri` output).
    pub fn image_uris(&self) -> Vec<String> {
        self.tags
            .iter()
            .map(|t| format!("{}/{}:{t}", self.registry, self.repository))
            .collect()
    }

    /// `registry/repo@sha256:...`, the pinned form a task definition uses.
    pub fn pinned_reference(&self) -> String {
        format!(
            "{}/{}@{}",
            self.registry, self.repository, self.manifest_digest
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(
        "invalid repository name {0:?}: use lowercase letters, digits and . _ - separated by /"
    )]
    BadRepository(String),
    #[error("invalid tag {0:?}: use up to 128 letters, digits, _ . -, not starting with . or -")]
    BadTag(String),
    /// A source blob did not match its descriptor: refused while streaming, before the
    /// registry stored it, and before any manifest or tag was written.
    #[error("{}: {source}; refused before it was stored in {repo}, nothing was tagged", source_path.display())]
    CorruptBlob {
        source_path: std::path::PathBuf,
        repo: String,
        #[source]
        source: super::digest::Mismatch,
    },
    /// Transient failures went on past the retry budget; the last one is the source.
    #[error("{what}: gave up after {attempts} attempts over {:.1} s", elapsed.as_secs_f64())]
    GaveUp {
        what: String,
        attempts: u32,
        elapsed: Duration,
        #[source]
        last: Box<PushError>,
    },
    #[error("{repo}:{reference} does not exist in the registry")]
    NotFound { repo: String, reference: String },
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

pub fn valid_repository(repo: &str) -> bool {
    let component_ok = |c: &str| {
        let b = c.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && c.bytes().all(|x| {
                x.is_ascii_lowercase() || x.is_ascii_digit() || matches!(x, b'.' | b'_' | b'-')
            })
    };
    repo.len() <= 255 && repo.split('/').all(component_ok)
}

pub fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && tag
            .bytes()
            .all(|x| x.is_ascii_alphanumeric() || matches!(x, b'_' | b'.' | b'-'))
}

/// What `push` and `plan` do first: check the names, then log in with the scopes the push will
/// need (this repository, and pull on the mount sources). Returns the mount sources.
pub(super) async fn prepare(
    client: &RegistryClient,
    repo: &str,
    tags: &[String],
    opts: &PushOptions,
) -> Result<Vec<String>, PushError> {
    if !valid_repository(repo) {
        return Err(PushError::BadRepository(repo.to_owned()));
    }
    if let Some(bad) = tags.iter().find(|t| !valid_tag(t)) {
        return Err(PushError::BadTag(bad.clone()));
    }
    let mount_from: Vec<String> = opts
        .mount_from
        .iter()
        .filter(|r| r.as_str() != repo)
        .cloned()
        .collect();
    let login = format!("log in to {}", client.host());
    with_retries(&login, opts.retry, || async {
        Ok(client.login(repo, &mount_from).await?)
    })
    .await?;
    Ok(mount_from)
}

/// Push `image` to `repo` and point each of `tags` at its top manifest (none: by digest only).
pub async fn push(
    image: &LocalImage,
    client: &RegistryClient,
    repo: &str,
    tags: &[String],
    opts: &PushOptions,
) -> Result<PushReport, PushError> {
    let plan = plan(image, client, repo, tags, opts).await?;
    push_planned(image, client, &plan, opts).await
}

/// Act on `plan` (from `plan` for this image, with this client, which holds its login): upload
/// or mount what it found missing, then the manifests, then each tag that does not name the
/// image yet. Nothing is looked up again, except a blob after a failed upload.
pub async fn push_planned(
    image: &LocalImage,
    client: &RegistryClient,
    plan: &PushPlan,
    opts: &PushOptions,
) -> Result<PushReport, PushError> {
    let repo = plan.repository.as_str();
    let tags: Vec<String> = plan.tags.iter().map(|t| t.tag.clone()).collect();
    if plan.up_to_date() {
        tracing::info!(
            "{}/{repo}: {} already point at {}: nothing to push",
            plan.registry,
            tags.join(", "),
            plan.manifest_digest
        );
        return Ok(up_to_date_report(image, client, plan));
    }
    let started = Instant::now();
    let mut blobs: Vec<(usize, BlobReport)> = stream::iter(image.blobs.iter().enumerate())
        .map(|(i, blob)| async move {
            let planned = plan
                .blobs
                .iter()
                .find(|b| b.digest == blob.descriptor.digest)
                .map(|b| &b.action);
            push_blob(image, client, repo, blob, planned, opts.retry)
                .await
                .map(|r| (i, r))
        })
        .buffer_unordered(opts.concurrency.max(1))
        .try_collect()
        .await?;
    blobs.sort_by_key(|(i, _)| *i);
    let blobs: Vec<BlobReport> = blobs.into_iter().map(|(_, r)| r).collect();

    let top = image.top();
    let mut manifests = Vec::new();
    for doc in &image.manifests[..image.manifests.len() - 1] {
        let reference = doc.digest.to_string();
        manifests.push(push_manifest(client, repo, &reference, doc, opts).await?);
    }
    if plan.tags.is_empty() {
        let reference = top.digest.to_string();
        manifests.push(push_manifest(client, repo, &reference, top, opts).await?);
    }
    for state in &plan.tags {
        manifests.push(
            put_reference(client, repo, &state.tag, state.current.as_ref(), top, opts).await?,
        );
    }
    let report = PushReport {
        registry: client.host().to_owned(),
        repository: repo.to_owned(),
        tags,
        manifest_digest: top.digest.clone(),
        media_type: top.media_type.clone(),
        blobs,
        manifests,
        up_to_date: false,
    };
    tracing::info!(
        "pushed {}/{repo}@{} ({} blobs: {} uploaded ({}), {} mounted, {} already there) in {:.1} s",
        report.registry,
        report.manifest_digest,
        report.blobs.len(),
        report.count(|o| matches!(o, BlobOutcome::Uploaded { .. })),
        mib(report.uploaded_bytes()),
        report.count(|o| matches!(o, BlobOutcome::Mounted { .. })),
        report.count(|o| matches!(o, BlobOutcome::Skipped)),
        started.elapsed().as_secs_f64(),
    );
    Ok(report)
}

/// One registry request for `blob`, retried on its own (a fresh token on a 401).
async fn step<T, F, Fut>(
    what: String,
    policy: RetryPolicy,
    client: &RegistryClient,
    op: F,
) -> Result<T, PushError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, RegistryError>>,
{
    let attempt = || with_fresh_token(client, || async { Ok(op().await?) });
    with_retries(&what, policy, attempt).await
}

/// `planned` is what the plan found (`None`: not planned, so look first). Each request is
/// retried on its own, so a fault costs one request, not the blob's whole sequence. The upload
/// is retried as a whole, but after a failure that may have delivered it (an answer lost) the
/// blob is looked up first, so a blob that arrived is never sent again; each retry opens a new
/// upload session, since the old one may hold part of a cut-off body.
async fn push_blob(
    image: &LocalImage,
    client: &RegistryClient,
    repo: &str,
    blob: &LocalBlob,
    planned: Option<&BlobAction>,
    policy: RetryPolicy,
) -> Result<BlobReport, PushError> {
    let d = &blob.descriptor;
    let report = |outcome| BlobReport {
        digest: d.digest.clone(),
        size: d.size,
        outcome,
    };
    let check = || {
        step(
            format!("check blob {} in {repo}", d.digest),
            policy,
            client,
            || client.blob_exists(repo, &d.digest),
        )
    };
    let present = match planned {
        Some(action) => *action == BlobAction::Present,
        None => check().await?,
    };
    if present {
        tracing::info!(
            "blob {} ({}): skipped, already in {repo}",
            d.digest.short(),
            mib(d.size)
        );
        return Ok(report(BlobOutcome::Skipped));
    }
    let mut session = None;
    if let Some(BlobAction::Mount { from }) = planned {
        let what = format!("mount blob {} from {from} into {repo}", d.digest);
        match step(what, policy, client, || {
            client.mount_blob(repo, &d.digest, from)
        })
        .await?
        {
            Mount::Mounted => {
                tracing::info!(
                    "blob {} ({}): mounted from {from}",
                    d.digest.short(),
                    mib(d.size)
                );
                return Ok(report(BlobOutcome::Mounted { from: from.clone() }));
            }
            Mount::NotMounted(location) => session = Some(location),
        }
    }
    let started = Instant::now();
    if d.size >= BIG_BLOB {
        // A log line before a long silence, so a slow upload does not look like a hang.
        tracing::info!("blob {}: uploading {}", d.digest.short(), mib(d.size));
    }
    let session = std::sync::Mutex::new(session);
    let tries = std::sync::atomic::AtomicU32::new(0);
    let upload = || async {
        if tries.fetch_add(1, std::sync::atomic::Ordering::SeqCst) > 0 && check().await? {
            tracing::info!(
                "blob {}: the registry had it after all (the answer was lost)",
                d.digest.short()
            );
            return Ok(());
        }
        let reused = session.lock().expect("session lock").take();
        let location = match reused {
            Some(l) => l,
            None => {
                let what = format!("start upload of blob {} to {repo}", d.digest);
                step(what, policy, client, || {
                    client.start_upload(repo, &d.digest)
                })
                .await?
            }
        };
        with_fresh_token(client, || {
            upload_once(image, client, repo, blob, location.clone())
        })
        .await
    };
    let what = format!("upload blob {} to {repo}", d.digest);
    with_retries(&what, policy, upload).await?;
    let elapsed = started.elapsed();
    tracing::info!(
        "blob {}: uploaded {} in {:.1} s",
        d.digest.short(),
        mib(d.size),
        elapsed.as_secs_f64()
    );
    Ok(report(BlobOutcome::Uploaded {
        bytes: d.size,
        elapsed,
    }))
}

/// One upload of `blob` into the session at `location`, in the client's upload mode.
async fn upload_once(
    image: &LocalImage,
    client: &RegistryClient,
    repo: &str,
    blob: &LocalBlob,
    location: reqwest::Url,
) -> Result<(), PushError> {
    let d = &blob.descriptor;
    let reader = image.open_blob(blob).await?;
    let result = match client.upload_mode {
        UploadMode::Monolithic => {
            client
                .upload_monolithic(repo, location, reader, &d.digest, d.size)
                .await
        }
        UploadMode::Chunked { chunk_size } => {
            match client
                .upload_chunked(repo, location.clone(), reader, &d.digest, chunk_size)
                .await
            {
                Err(RegistryError::ChunkedUnsupported { reason, .. }) => {
                    tracing::warn!(
                        "blob {}: chunked upload not honoured ({reason}); uploading it in one request",
                        d.digest.short()
                    );
                    client.cancel_upload(location).await;
                    let location = client.start_upload(repo, &d.digest).await?;
                    let reader = image.open_blob(blob).await?;
                    client
                        .upload_monolithic(repo, location, reader, &d.digest, d.size)
                        .await
                }
                other => other,
            }
        }
    };
    result.map_err(|e| match e {
        RegistryError::Corrupt { source, .. } => PushError::CorruptBlob {
            source_path: image.source_path().to_owned(),
            repo: repo.to_owned(),
            source,
        },
        other => PushError::Registry(other),
    })
}

/// Look up what `reference` names now, then point it at `doc` unless it already does.
async fn push_manifest(
    client: &RegistryClient,
    repo: &str,
    reference: &str,
    doc: &super::manifest::ManifestDoc,
    opts: &PushOptions,
) -> Result<ManifestReport, PushError> {
    let current = current_digest(client, repo, reference, opts).await?;
    put_reference(client, repo, reference, current.as_ref(), doc, opts).await
}

/// The digest `reference` (a tag or digest) names in `repo` now, `None` when it names nothing.
pub(super) async fn current_digest(
    client: &RegistryClient,
    repo: &str,
    reference: &str,
    opts: &PushOptions,
) -> Result<Option<Digest>, PushError> {
    let what = format!("look up {repo}:{reference}");
    with_retries(&what, opts.retry, || {
        with_fresh_token(client, || async {
            Ok(client.manifest_digest(repo, reference).await?)
        })
    })
    .await
}

/// Point `reference` (a tag or digest) at `doc`, given what it named when last looked up
/// (`current`, for a tag the plan's answer): not looked up again, so the digest the caller
/// decided on is the one acted on. A retried PUT is safe: the same bytes under the same name.
async fn put_reference(
    client: &RegistryClient,
    repo: &str,
    reference: &str,
    current: Option<&Digest>,
    doc: &super::manifest::ManifestDoc,
    opts: &PushOptions,
) -> Result<ManifestReport, PushError> {
    let outcome = if current == Some(&doc.digest) {
        tracing::info!("manifest {repo}:{reference} already is {}", doc.digest);
        ManifestOutcome::Present
    } else {
        let what = format!("push manifest {} as {repo}:{reference}", doc.digest);
        with_retries(&what, opts.retry, || {
            with_fresh_token(client, || async {
                Ok(client.put_manifest(repo, reference, doc).await?)
            })
        })
        .await?;
        match current {
            Some(old) => {
                tracing::info!("manifest {repo}:{reference} -> {} (was {old})", doc.digest)
            }
            None => tracing::info!("manifest {repo}:{reference} -> {}", doc.digest),
        }
        ManifestOutcome::Pushed
    };
    Ok(ManifestReport {
        digest: doc.digest.clone(),
        media_type: doc.media_type.clone(),
        reference: reference.to_owned(),
        outcome,
    })
}

/// Point `tag` at the manifest `from` (a tag or digest) already names in `repo`, moving no
/// blob: the exact manifest bytes are read back and put under the new tag, so the digest is
/// unchanged (what `ecr:TAG` promotion needs, over the registry API). Returns that digest.
pub async fn retag(
    client: &RegistryClient,
    repo: &str,
    from: &str,
    tag: &str,
    opts: &PushOptions,
) -> Result<Digest, PushError> {
    if !valid_repository(repo) {
        return Err(PushError::BadRepository(repo.to_owned()));
    }
    if !valid_tag(tag) {
        return Err(PushError::BadTag(tag.to_owned()));
    }
    let login = format!("log in to {}", client.host());
    with_retries(&login, opts.retry, || async {
        Ok(client.login(repo, &[]).await?)
    })
    .await?;
    let what = format!("read {repo}:{from}");
    let (media_type, bytes) = with_retries(&what, opts.retry, || async {
        Ok(client.get_manifest(repo, from).await?)
    })
    .await?
    .ok_or_else(|| PushError::NotFound {
        repo: repo.to_owned(),
        reference: from.to_owned(),
    })?;
    let doc = super::manifest::ManifestDoc::new(media_type, bytes);
    push_manifest(client, repo, tag, &doc, opts).await?;
    Ok(doc.digest)
}

/// The report of a push with nothing to do: every tag already names the image's digest.
fn up_to_date_report(image: &LocalImage, client: &RegistryClient, plan: &PushPlan) -> PushReport {
    let top = image.top();
    let manifests = plan
        .tags
        .iter()
        .map(|t| ManifestReport {
            digest: top.digest.clone(),
            media_type: top.media_type.clone(),
            reference: t.tag.clone(),
            outcome: ManifestOutcome::Present,
        })
        .collect();
    // The plan lists every blob of the image as present (it did not need to ask).
    let blobs = plan
        .blobs
        .iter()
        .map(|b| b.report(BlobOutcome::Skipped))
        .collect();
    PushReport {
        registry: client.host().to_owned(),
        repository: plan.repository.clone(),
        tags: plan.tags.iter().map(|t| t.tag.clone()).collect(),
        manifest_digest: top.digest.clone(),
        media_type: top.media_type.clone(),
        blobs,
        manifests,
        up_to_date: true,
    }
}

/// Run `op`; if the registry says 401 and the login was a Bearer token (they expire, often
/// after minutes), fetch a new token and run it once more.
pub(super) async fn with_fresh_token<T, F, Fut>(
    client: &RegistryClient,
    op: F,
) -> Result<T, PushError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, PushError>>,
{
    match op().await {
        Err(PushError::Registry(RegistryError::Unauthorized { .. }))
            if client.refresh_token().await? =>
        {
            op().await
        }
        other => other,
    }
}

/// Blobs at least this big get a line when their upload starts, not only when it ends.
const BIG_BLOB: u64 = 32 * 1024 * 1024;

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_names() {
        for ok in ["app", "team/app", "a.b_c-d/e__f", "123"] {
            assert!(valid_repository(ok), "{ok}");
        }
        for bad in ["", "App", "a//b", "-a", "a-", "a/", "a b"] {
            assert!(!valid_repository(bad), "{bad}");
        }
        for ok in ["latest", "0123abc", "v1.2.3-rc_1", "_x"] {
            assert!(valid_tag(ok), "{ok}");
        }
        for bad in ["", ".x", "-x", "a:b", &"x".repeat(129)] {
            assert!(!valid_tag(bad), "{bad}");
        }
    }
}
