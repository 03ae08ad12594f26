//! `docker save` archives: `manifest.json` lists, per image, its config file, RepoTags and layer
//! files. Legacy archives name layers `<id>/layer.tar` (uncompressed, no digest anywhere), newer
//! ones `blobs/sha256/<hex>`; either way each layer is hashed once here, streaming from the tar,
//! and the image becomes a Docker schema 2 manifest built from those digests. Even with an OCI
//! index inside (Docker 25+), manifest.json is what is read: `oci:FILE` reads that index instead.

use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;

use super::store::{Location, Store};
use super::{LocalBlob, LocalImage, SourceError};
use crate::image::digest::{Digest, Hasher};
use crate::image::manifest::{self, Descriptor, ManifestDoc};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SaveEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Schema2<'a> {
    schema_version: u32,
    media_type: &'a str,
    config: &'a Descriptor,
    layers: &'a [Descriptor],
}

pub(super) async fn open(store: Store, reference: Option<&str>) -> Result<LocalImage, SourceError> {
    let path = store.path().to_owned();
    let bytes = match store.read_small("manifest.json").await {
        Ok(b) => b,
        Err(SourceError::Missing { .. }) => {
            return Err(SourceError::NotASource {
                source_path: path,
                kind: "docker save archive",
                reason: "it has no manifest.json".into(),
            });
        }
        Err(e) => return Err(e),
    };
    let entries: Vec<SaveEntry> =
        serde_json::from_slice(&bytes).map_err(|source| SourceError::Json {
            source_path: path.clone(),
            what: "manifest.json".into(),
            source,
        })?;
    let entry = choose(&path, &entries, reference)?;

    let config_bytes = store.read_small(&entry.config).await?;
    let config_loc = store.locate(&entry.config).await?;
    let config = Descriptor::new(
        manifest::DOCKER_CONFIG,
        Digest::of(&config_bytes),
        config_bytes.len() as u64,
    );

    let mut blobs = vec![LocalBlob {
        descriptor: config.clone(),
        location: config_loc,
    }];
    let mut layers = Vec::with_capacity(entry.layers.len());
    for name in &entry.layers {
        let location = store.locate(name).await?;
        let (digest, size, gzip) = hash_layer(&location).await?;
        let media_type = if gzip {
            manifest::DOCKER_LAYER_GZIP
        } else {
            manifest::DOCKER_LAYER_TAR
        };
        let descriptor = Descriptor::new(media_type, digest, size);
        tracing::debug!(layer = %name, digest = %descriptor.digest, size, "hashed docker-archive layer");
        layers.push(descriptor.clone());
        LocalImage::push_blob(
            &mut blobs,
            LocalBlob {
                descriptor,
                location,
            },
        );
    }
    let doc = Schema2 {
        schema_version: 2,
        media_type: manifest::DOCKER_MANIFEST,
        config: &config,
        layers: &layers,
    };
    let bytes = serde_json::to_vec_pretty(&doc).expect("a schema 2 manifest serialises");
    Ok(LocalImage {
        manifests: vec![ManifestDoc::new(manifest::DOCKER_MANIFEST, bytes)],
        blobs,
        store,
    })
}

fn choose<'a>(
    path: &std::path::Path,
    entries: &'a [SaveEntry],
    reference: Option<&str>,
) -> Result<&'a SaveEntry, SourceError> {
    let names = || {
        entries
            .iter()
            .map(|e| {
                e.repo_tags
                    .as_ref()
                    .and_then(|t| t.first().cloned())
                    .unwrap_or_else(|| e.config.clone())
            })
            .collect()
    };
    match reference {
        Some(r) => entries
            .iter()
            .find(|e| {
                e.repo_tags
                    .iter()
                    .flatten()
                    .any(|t| t == r || t.strip_prefix("docker.io/library/") == Some(r))
            })
            .ok_or_else(|| SourceError::RefNotFound {
                source_path: path.to_owned(),
                reference: r.to_owned(),
                available: names(),
            }),
        None => match entries {
            [one] => Ok(one),
            _ => Err(SourceError::Ambiguous {
                source_path: path.to_owned(),
                scheme: "docker-archive",
                available: names(),
            }),
        },
    }
}

/// Digest, size and whether it is gzip (magic `1f 8b`), in one streaming pass.
async fn hash_layer(loc: &Location) -> Result<(Digest, u64, bool), SourceError> {
    let mut r = super::store::open_location(loc).await?;
    let mut hasher = Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut head = Vec::with_capacity(2);
    loop {
        let n = r
            .read(&mut buf)
            .await
            .map_err(|e| SourceError::io(&loc.file, "read a layer", e))?;
        if n == 0 {
            break;
        }
        if head.len() < 2 {
            let want = (2 - head.len()).min(n);
            head.extend_from_slice(&buf[..want]);
        }
        hasher.update(&buf[..n]);
    }
    let (digest, size) = hasher.finish();
    Ok((digest, size, head == [0x1f, 0x8b]))
}
