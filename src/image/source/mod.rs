//! Where an image comes from: `oci:DIR[:REF]` / `oci:FILE.tar[:REF]` (an OCI image layout,
//! unpacked or as a tar) and `docker-archive:FILE[:REF]` (what `docker save` writes). Opening a
//! source reads only the small documents (index.json, manifests, manifest.json) and locates
//! every blob; blobs are streamed from disk later, each through a `VerifyingReader`.
//! `daemon` exports `docker-daemon:NAME[:TAG]` from the Docker Engine into a `docker save` tar
//! and opens that.

pub mod daemon;
mod docker;
mod oci;
pub mod store;

use std::path::{Path, PathBuf};

use super::digest::{Digest, DigestError, Mismatch, VerifyingReader};
use super::manifest::{Descriptor, ManifestDoc};
use store::{BlobReader, Location, Store};

/// A parsed `image-source` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceRef {
    /// An OCI image layout, a directory or a tar; `reference` picks an entry of its index.json
    /// by `org.opencontainers.image.ref.name` (or by digest).
    Oci {
        path: PathBuf,
        reference: Option<String>,
    },
    /// A `docker save` archive; `reference` picks an entry by one of its RepoTags.
    DockerArchive {
        path: PathBuf,
        reference: Option<String>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("image source {input:?}: {reason}")]
    BadReference { input: String, reason: String },
    #[error("{}: cannot {what}: {source}", path.display())]
    Io {
        path: PathBuf,
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a valid {kind}: {reason}", source_path.display())]
    NotASource {
        source_path: PathBuf,
        kind: &'static str,
        reason: String,
    },
    #[error("{}: {reason}", source_path.display())]
    Invalid {
        source_path: PathBuf,
        reason: String,
    },
    #[error("{}: cannot parse {what}: {source}", source_path.display())]
    Json {
        source_path: PathBuf,
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{}: {member} is missing", source_path.display())]
    Missing {
        source_path: PathBuf,
        member: String,
    },
    #[error("{}: no image named {reference:?} (it holds: {})", source_path.display(), list(available))]
    RefNotFound {
        source_path: PathBuf,
        reference: String,
        available: Vec<String>,
    },
    #[error("{}: it holds {} images ({}); name one with {scheme}:PATH:REF", source_path.display(), available.len(), list(available))]
    Ambiguous {
        source_path: PathBuf,
        scheme: &'static str,
        available: Vec<String>,
    },
    #[error("{}: {source}", source_path.display())]
    Digest {
        source_path: PathBuf,
        #[source]
        source: DigestError,
    },
    #[error("{}: {source}", source_path.display())]
    Corrupt {
        source_path: PathBuf,
        #[source]
        source: Mismatch,
    },
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "nothing".to_owned()
    } else {
        items.join(", ")
    }
}

impl SourceError {
    pub(crate) fn io(path: &Path, what: &str, source: std::io::Error) -> Self {
        SourceError::Io {
            path: path.to_owned(),
            what: what.to_owned(),
            source,
        }
    }
}

impl std::fmt::Display for SourceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (scheme, path, reference) = match self {
            SourceRef::Oci { path, reference } => ("oci", path, reference),
            SourceRef::DockerArchive { path, reference } => ("docker-archive", path, reference),
        };
        write!(f, "{scheme}:{}", path.display())?;
        match reference {
            Some(r) => write!(f, ":{r}"),
            None => Ok(()),
        }
    }
}

impl SourceRef {
    /// `oci:PATH[:REF]`, `oci-archive:PATH[:REF]` (the same, skopeo's name for the tar form),
    /// `docker-archive:PATH[:REF]`. The last `:REF` is a reference only when it has no `/` and
    /// the whole text is not itself an existing path.
    pub fn parse(input: &str) -> Result<SourceRef, SourceError> {
        let bad = |reason: &str| SourceError::BadReference {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        let (scheme, rest) = input
            .split_once(':')
            .ok_or_else(|| bad("expected oci:PATH[:REF] or docker-archive:PATH[:REF]"))?;
        let (path, reference) = split_reference(rest);
        if path.is_empty() {
            return Err(bad("the path is empty"));
        }
        let path = PathBuf::from(path);
        match scheme {
            "oci" | "oci-archive" => Ok(SourceRef::Oci { path, reference }),
            "docker-archive" => Ok(SourceRef::DockerArchive { path, reference }),
            "docker-daemon" | "ecr" => Err(bad(
                "this source is not read from local files (not supported here)",
            )),
            _ => Err(bad(
                "unknown kind: expected oci:PATH[:REF] or docker-archive:PATH[:REF]",
            )),
        }
    }

    pub fn path(&self) -> &Path {
        match self {
            SourceRef::Oci { path, .. } | SourceRef::DockerArchive { path, .. } => path,
        }
    }

    /// Read the source's documents and locate its blobs.
    pub async fn open(&self) -> Result<LocalImage, SourceError> {
        match self {
            SourceRef::Oci { path, reference } => {
                let store = Store::open(path).await?;
                oci::open(store, reference.as_deref()).await
            }
            SourceRef::DockerArchive { path, reference } => {
                let store = Store::open(path).await?;
                docker::open(store, reference.as_deref()).await
            }
        }
    }
}

fn split_reference(rest: &str) -> (&str, Option<String>) {
    if Path::new(rest).exists() {
        return (rest, None);
    }
    // `docker-archive:x.tar:name:tag`: the reference may hold colons, so prefer the shortest
    // prefix that exists on disk.
    for (i, _) in rest.match_indices(':') {
        if i > 0 && i + 1 < rest.len() && Path::new(&rest[..i]).exists() {
            return (&rest[..i], Some(rest[i + 1..].to_owned()));
        }
    }
    match rest.rsplit_once(':') {
        Some((path, r)) if !r.is_empty() && !r.contains('/') => (path, Some(r.to_owned())),
        _ => (rest, None),
    }
}

/// A blob of the image (a config or a layer) and where its bytes are.
#[derive(Debug, Clone)]
pub struct LocalBlob {
    pub descriptor: Descriptor,
    pub location: Location,
}

/// An opened image: the manifests to push, in push order (every child before the index that
/// names it; the image's own manifest last), and its unique blobs.
#[derive(Debug)]
pub struct LocalImage {
    pub manifests: Vec<ManifestDoc>,
    pub blobs: Vec<LocalBlob>,
    store: Store,
}

impl LocalImage {
    /// The manifest that tags point at (an index for a multi-platform image).
    pub fn top(&self) -> &ManifestDoc {
        self.manifests
            .last()
            .expect("an image has at least one manifest")
    }

    /// The directory or archive it was read from.
    pub fn source_path(&self) -> &Path {
        self.store.path()
    }

    /// Stream a blob from disk, verified against its descriptor as it is read.
    pub async fn open_blob(
        &self,
        blob: &LocalBlob,
    ) -> Result<VerifyingReader<BlobReader>, SourceError> {
        let r = self.store.open_member(&blob.location).await?;
        Ok(VerifyingReader::new(
            r,
            blob.descriptor.digest.clone(),
            blob.descriptor.size,
        ))
    }

    pub fn total_blob_bytes(&self) -> u64 {
        self.blobs.iter().map(|b| b.descriptor.size).sum()
    }

    /// One log line: what was read and what it holds.
    pub fn summary(&self) -> String {
        let top = self.top();
        format!(
            "{} {} ({} manifest(s), {} blobs, {:.1} MiB) from {}",
            top.media_type,
            top.digest,
            self.manifests.len(),
            self.blobs.len(),
            self.total_blob_bytes() as f64 / (1024.0 * 1024.0),
            self.store.path().display()
        )
    }

    fn push_blob(blobs: &mut Vec<LocalBlob>, blob: LocalBlob) {
        if !blobs
            .iter()
            .any(|b| b.descriptor.digest == blob.descriptor.digest)
        {
            blobs.push(blob);
        }
    }
}

/// Check small bytes read whole against their descriptor.
fn check_bytes(store: &Store, desc: &Descriptor, bytes: &[u8]) -> Result<(), SourceError> {
    let corrupt = |source| SourceError::Corrupt {
        source_path: store.path().to_owned(),
        source,
    };
    if bytes.len() as u64 != desc.size {
        return Err(corrupt(Mismatch::Size {
            expected: desc.digest.clone(),
            size: desc.size,
            actual: bytes.len() as u64,
        }));
    }
    let actual = Digest::of(bytes);
    if actual != desc.digest {
        return Err(corrupt(Mismatch::Digest {
            expected: desc.digest.clone(),
            actual,
            size: desc.size,
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_source_references() {
        let oci = |p: &str, r: Option<&str>| SourceRef::Oci {
            path: p.into(),
            reference: r.map(str::to_owned),
        };
        let cases = [
            (
                "oci:/tmp/x-no-such-layout",
                oci("/tmp/x-no-such-layout", None),
            ),
            (
                "oci:/tmp/x-no-such-layout:v1",
                oci("/tmp/x-no-such-layout", Some("v1")),
            ),
            ("oci-archive:img.tar:latest", oci("img.tar", Some("latest"))),
            (
                "docker-archive:a/b.tar",
                SourceRef::DockerArchive {
                    path: "a/b.tar".into(),
                    reference: None,
                },
            ),
        ];
        for (input, want) in cases {
            let parsed = SourceRef::parse(input).unwrap();
            assert_eq!(parsed, want, "{input}");
            let shown = parsed.to_string();
            assert_eq!(
                shown.replace("oci-archive:", "oci:"),
                input.replace("oci-archive:", "oci:")
            );
        }
        for bad in ["nope", "oci:", "docker-daemon:alpine", "zip:a.zip"] {
            let err = SourceRef::parse(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
    }
}
