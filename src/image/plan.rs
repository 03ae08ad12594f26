//! `plan`: what a push would do, found with HEAD requests only. It is the "decide" half for
//! callers: the digest each tag names now (an immutable-tag conflict is refused from this,
//! before anything is uploaded), which blobs are already in the repository, which can be
//! mounted from a sibling, and how many bytes would go over the wire. `--dry-run` prints it,
//! and `push_planned` acts on it, so each of these questions is asked of the registry once.

use std::fmt;

use futures_util::{StreamExt, TryStreamExt, stream};

use super::digest::Digest;
use super::push::{
    BlobOutcome, BlobReport, PushError, PushOptions, current_digest, prepare, with_fresh_token,
};
use super::registry::RegistryClient;
use super::retry::with_retries;
use super::source::LocalImage;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobAction {
    Present,
    Mount { from: String },
    Upload,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobPlan {
    pub digest: Digest,
    pub size: u64,
    pub action: BlobAction,
}

impl BlobPlan {
    /// What became of this blob in a push.
    pub fn report(&self, outcome: BlobOutcome) -> BlobReport {
        BlobReport {
            digest: self.digest.clone(),
            size: self.size,
            outcome,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagState {
    pub tag: String,
    /// The digest the tag names now, `None` when it does not exist.
    pub current: Option<Digest>,
}

impl TagState {
    /// The tag exists and names something else.
    pub fn conflicts_with(&self, digest: &Digest) -> bool {
        self.current.as_ref().is_some_and(|c| c != digest)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushPlan {
    pub registry: String,
    pub repository: String,
    pub manifest_digest: Digest,
    pub media_type: String,
    pub tags: Vec<TagState>,
    pub blobs: Vec<BlobPlan>,
}

impl PushPlan {
    pub fn bytes_to_upload(&self) -> u64 {
        self.blobs
            .iter()
            .filter(|b| b.action == BlobAction::Upload)
            .map(|b| b.size)
            .sum()
    }

    /// Every tag already names this image: the push would send nothing.
    pub fn up_to_date(&self) -> bool {
        !self.tags.is_empty()
            && self
                .tags
                .iter()
                .all(|t| t.current.as_ref() == Some(&self.manifest_digest))
    }

    /// Tags that exist and name another digest (refuse these on an IMMUTABLE repository).
    pub fn conflicts(&self) -> Vec<&TagState> {
        self.tags
            .iter()
            .filter(|t| t.conflicts_with(&self.manifest_digest))
            .collect()
    }
}

impl fmt::Display for PushPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "push {}/{}@{} ({})",
            self.registry, self.repository, self.manifest_digest, self.media_type
        )?;
        for t in &self.tags {
            match &t.current {
                None => writeln!(f, "  tag {}: new", t.tag)?,
                Some(d) if *d == self.manifest_digest => {
                    writeln!(f, "  tag {}: already this image", t.tag)?
                }
                Some(d) => writeln!(f, "  tag {}: now {d}, would move", t.tag)?,
            }
        }
        for b in &self.blobs {
            let action = match &b.action {
                BlobAction::Present => "present".to_owned(),
                BlobAction::Mount { from } => format!("mount from {from}"),
                BlobAction::Upload => "upload".to_owned(),
            };
            writeln!(f, "  blob {} ({} bytes): {action}", b.digest, b.size)?;
        }
        write!(f, "  {} bytes to upload", self.bytes_to_upload())
    }
}

/// Find out, without writing anything, what `push` with the same arguments would do. Logs in
/// (the client keeps the login for `push_planned`). When every tag already names the image, no
/// blob is asked about: a registry only accepts a manifest whose blobs it holds, so they are
/// all present.
pub async fn plan(
    image: &LocalImage,
    client: &RegistryClient,
    repo: &str,
    tags: &[String],
    opts: &PushOptions,
) -> Result<PushPlan, PushError> {
    let mount_from = prepare(client, repo, tags, opts).await?;
    let mut states = Vec::new();
    for tag in tags {
        let current = current_digest(client, repo, tag, opts).await?;
        states.push(TagState {
            tag: tag.clone(),
            current,
        });
    }
    let top = image.top();
    let up_to_date = !states.is_empty()
        && states
            .iter()
            .all(|t| t.current.as_ref() == Some(&top.digest));
    if up_to_date {
        let blobs = image
            .blobs
            .iter()
            .map(|b| BlobPlan {
                digest: b.descriptor.digest.clone(),
                size: b.descriptor.size,
                action: BlobAction::Present,
            })
            .collect();
        return Ok(plan_of(image, client, repo, states, blobs));
    }
    // HEADs are cheap and independent: as many in flight as uploads would be.
    let blobs: Vec<BlobPlan> = stream::iter(&image.blobs)
        .map(|blob| {
            let mount_from = &mount_from;
            async move {
                let d = &blob.descriptor.digest;
                let what = format!("check blob {d}");
                // A Bearer token may expire between these requests: renewed, as in a push.
                let action = with_retries(&what, opts.retry, || {
                    with_fresh_token(client, || async {
                        if client.blob_exists(repo, d).await? {
                            return Ok(BlobAction::Present);
                        }
                        for from in mount_from {
                            if client.blob_exists(from, d).await? {
                                return Ok(BlobAction::Mount { from: from.clone() });
                            }
                        }
                        Ok(BlobAction::Upload)
                    })
                })
                .await?;
                Ok::<_, PushError>(BlobPlan {
                    digest: d.clone(),
                    size: blob.descriptor.size,
                    action,
                })
            }
        })
        .buffered(opts.concurrency.max(1))
        .try_collect()
        .await?;
    Ok(plan_of(image, client, repo, states, blobs))
}

fn plan_of(
    image: &LocalImage,
    client: &RegistryClient,
    repo: &str,
    tags: Vec<TagState>,
    blobs: Vec<BlobPlan>,
) -> PushPlan {
    let top = image.top();
    PushPlan {
        registry: client.host().to_owned(),
        repository: repo.to_owned(),
        manifest_digest: top.digest.clone(),
        media_type: top.media_type.clone(),
        tags,
        blobs,
    }
}
