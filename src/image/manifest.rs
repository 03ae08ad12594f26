//! The JSON documents of an image as far as pushing needs them: descriptors, image manifests
//! (OCI and Docker schema 2) and indexes (OCI index, Docker manifest list). Manifest bytes are
//! never re-serialised for a push: the digest is of the bytes as the source holds them, so these
//! types only *read* them to find the blobs and children to push first.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::digest::Digest;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// What we send as `Accept` when reading a manifest back: every form we can push, so a registry
/// never converts it (distribution 2.x rewrites to schema 1 for clients that do not ask).
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// `org.opencontainers.image.ref.name`: the tag-like name of an entry in a layout's index.json.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

pub fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_LIST
}

pub fn is_manifest(media_type: &str) -> bool {
    media_type == OCI_MANIFEST || media_type == DOCKER_MANIFEST
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Required by the spec, but an index.json entry without it is read (the type is then
    /// taken from the manifest's own `mediaType` or its shape).
    #[serde(default)]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    pub fn new(media_type: &str, digest: Digest, size: u64) -> Self {
        Descriptor {
            media_type: media_type.to_owned(),
            digest,
            size,
            platform: None,
            urls: Vec::new(),
            annotations: BTreeMap::new(),
        }
    }

    pub fn ref_name(&self) -> Option<&str> {
        self.annotations.get(REF_NAME).map(String::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// An image manifest, OCI or Docker schema 2 (the same shape for our purposes).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

/// An OCI index or a Docker manifest list.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
}

/// Just enough of any manifest to tell what it is when its descriptor does not say.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Sniff {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<serde_json::Value>,
    #[serde(default)]
    config: Option<serde_json::Value>,
}

/// The media type of manifest `bytes`: its own `mediaType` field, else OCI by shape (an OCI
/// manifest may omit the field; `manifests` means an index, `config` an image manifest).
pub fn sniff_media_type(bytes: &[u8]) -> Option<String> {
    let s: Sniff = serde_json::from_slice(bytes).ok()?;
    match (s.media_type, s.manifests, s.config) {
        (Some(mt), _, _) => Some(mt),
        (None, Some(_), _) => Some(OCI_INDEX.to_owned()),
        (None, None, Some(_)) => Some(OCI_MANIFEST.to_owned()),
        _ => None,
    }
}

/// One manifest document as it will be pushed: exact bytes, their digest, their media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestDoc {
    pub media_type: String,
    pub digest: Digest,
    pub bytes: Bytes,
}

impl ManifestDoc {
    pub fn new(media_type: impl Into<String>, bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        ManifestDoc {
            media_type: media_type.into(),
            digest: Digest::of(&bytes),
            bytes,
        }
    }

    pub fn is_index(&self) -> bool {
        is_index(&self.media_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_media_types() {
        let cases: [(&str, Option<&str>); 4] = [
            (
                r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json"}"#,
                Some(DOCKER_MANIFEST),
            ),
            (r#"{"schemaVersion":2,"manifests":[]}"#, Some(OCI_INDEX)),
            (
                r#"{"schemaVersion":2,"config":{},"layers":[]}"#,
                Some(OCI_MANIFEST),
            ),
            ("not json", None),
        ];
        for (json, want) in cases {
            assert_eq!(sniff_media_type(json.as_bytes()).as_deref(), want, "{json}");
        }
    }

    #[test]
    fn descriptor_round_trips_with_annotations() {
        let json = r#"{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0,"annotations":{"org.opencontainers.image.ref.name":"v1"}}"#;
        let d: Descriptor = serde_json::from_str(json).unwrap();
        assert_eq!(d.ref_name(), Some("v1"));
        assert_eq!(serde_json::to_string(&d).unwrap(), json);
    }
}
