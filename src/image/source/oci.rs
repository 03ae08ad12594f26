//! OCI image layout (image-spec `image-layout.md`): `oci-layout`, `index.json`, and content
//! under `blobs/<alg>/<hex>`, as a directory or a tar (what `docker buildx build --output
//! type=oci` writes). One entry of index.json is the image: a manifest, or an index whose
//! children are pushed first.

use std::future::Future;
use std::pin::Pin;

use super::store::Store;
use super::{LocalBlob, LocalImage, SourceError, check_bytes};
use crate::image::digest::Digest;
use crate::image::manifest::{self, Descriptor, ImageIndex, ImageManifest, ManifestDoc};

/// Containerd's annotation with the full image name; buildx writes it next to `ref.name`.
const CONTAINERD_NAME: &str = "io.containerd.image.name";

/// Indexes inside indexes are legal; deeper than this is a loop or a mistake.
const MAX_DEPTH: usize = 4;

pub(super) async fn open(store: Store, reference: Option<&str>) -> Result<LocalImage, SourceError> {
    let not_layout = |reason: String| SourceError::NotASource {
        source_path: store.path().to_owned(),
        kind: "OCI image layout",
        reason,
    };
    let layout = match store.read_small("oci-layout").await {
        Ok(bytes) => bytes,
        Err(SourceError::Missing { .. }) => {
            return Err(not_layout("it has no oci-layout file".into()));
        }
        Err(e) => return Err(e),
    };
    let version = serde_json::from_slice::<serde_json::Value>(&layout)
        .ok()
        .and_then(|v| v.get("imageLayoutVersion")?.as_str().map(str::to_owned))
        .ok_or_else(|| not_layout("oci-layout has no imageLayoutVersion".into()))?;
    if !version.starts_with("1.") {
        return Err(not_layout(format!(
            "unsupported imageLayoutVersion {version:?}"
        )));
    }
    let index_bytes = store.read_small("index.json").await?;
    let index: ImageIndex =
        serde_json::from_slice(&index_bytes).map_err(|source| SourceError::Json {
            source_path: store.path().to_owned(),
            what: "index.json".into(),
            source,
        })?;
    let chosen = choose(&store, &index.manifests, reference)?.clone();
    let mut image = LocalImage {
        manifests: Vec::new(),
        blobs: Vec::new(),
        store,
    };
    collect(&mut image, chosen, 0).await?;
    Ok(image)
}

/// The entry of index.json that `reference` names: by ref name, by containerd's full name, or by
/// digest; without a reference, the only entry.
fn choose<'a>(
    store: &Store,
    entries: &'a [Descriptor],
    reference: Option<&str>,
) -> Result<&'a Descriptor, SourceError> {
    let names = || {
        entries
            .iter()
            .map(|d| {
                d.ref_name()
                    .map_or_else(|| d.digest.to_string(), str::to_owned)
            })
            .collect()
    };
    match reference {
        Some(r) => {
            let by_digest = Digest::parse(r).ok();
            entries
                .iter()
                .find(|d| d.ref_name() == Some(r))
                .or_else(|| {
                    entries
                        .iter()
                        .find(|d| d.annotations.get(CONTAINERD_NAME).map(String::as_str) == Some(r))
                })
                .or_else(|| {
                    entries
                        .iter()
                        .find(|d| Some(&d.digest) == by_digest.as_ref())
                })
                .ok_or_else(|| SourceError::RefNotFound {
                    source_path: store.path().to_owned(),
                    reference: r.to_owned(),
                    available: names(),
                })
        }
        None => match entries {
            [one] => Ok(one),
            _ => Err(SourceError::Ambiguous {
                source_path: store.path().to_owned(),
                scheme: "oci",
                available: names(),
            }),
        },
    }
}

pub(super) fn blob_name(digest: &Digest) -> String {
    format!("blobs/{}/{}", digest.algorithm(), digest.hex())
}

/// Read the manifest `desc` names, push its children (for an index) or locate its blobs (for a
/// manifest), then append it: children end up before their index.
fn collect(
    image: &mut LocalImage,
    desc: Descriptor,
    depth: usize,
) -> Pin<Box<dyn Future<Output = Result<(), SourceError>> + Send + '_>> {
    Box::pin(async move {
        let store = &image.store;
        let path = store.path().to_owned();
        if depth > MAX_DEPTH {
            return Err(SourceError::Invalid {
                source_path: path,
                reason: format!(
                    "indexes nest deeper than {MAX_DEPTH} levels at {}",
                    desc.digest
                ),
            });
        }
        let bytes = store.read_small(&blob_name(&desc.digest)).await?;
        check_bytes(store, &desc, &bytes)?;
        let media_type =
            if manifest::is_index(&desc.media_type) || manifest::is_manifest(&desc.media_type) {
                desc.media_type.clone()
            } else {
                manifest::sniff_media_type(&bytes).unwrap_or_else(|| desc.media_type.clone())
            };
        let json_err = |source| SourceError::Json {
            source_path: path.clone(),
            what: format!("manifest {}", desc.digest),
            source,
        };
        if manifest::is_index(&media_type) {
            let index: ImageIndex = serde_json::from_slice(&bytes).map_err(json_err)?;
            for child in index.manifests {
                collect(image, child, depth + 1).await?;
            }
        } else {
            let m: ImageManifest = serde_json::from_slice(&bytes).map_err(json_err)?;
            for blob in std::iter::once(m.config).chain(m.layers) {
                let name = blob_name(&blob.digest);
                let location = match image.store.locate(&name).await {
                    Ok(loc) => loc,
                    // A foreign layer (with `urls`) is fetched by the runtime, not pushed.
                    Err(SourceError::Missing { .. }) if !blob.urls.is_empty() => continue,
                    Err(e) => return Err(e),
                };
                LocalImage::push_blob(
                    &mut image.blobs,
                    LocalBlob {
                        descriptor: blob,
                        location,
                    },
                );
            }
        }
        let doc = ManifestDoc::new(media_type, bytes);
        if !image.manifests.iter().any(|m| m.digest == doc.digest) {
            image.manifests.push(doc);
        }
        Ok(())
    })
}
