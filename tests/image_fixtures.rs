//! Test images made on the spot: OCI layouts (directory or tar) and `docker save` archives of
//! random bytes. A registry never looks inside layers, so random bytes with a tar media type
//! are enough, and they make every test's blobs unique. Included by the `image_*` tests with
//! `#[path]`; compiled alone it holds no tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use oidc_ecs_deploy::image::manifest::{self, Descriptor, Platform};
use oidc_ecs_deploy::image::{Credentials, Digest, RegistryClient};
use rand::RngCore;
use serde_json::json;

pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("oidc_ecs_deploy=debug")
        .try_init();
}

pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rand::rng().fill_bytes(&mut v);
    v
}

/// An OCI image layout being written into a temporary directory.
pub struct OciLayout {
    pub dir: tempfile::TempDir,
    pub entries: Vec<Descriptor>,
}

/// One image written into a layout: its manifest descriptor and bytes, and its blobs.
#[derive(Clone)]
pub struct BuiltImage {
    pub manifest: Descriptor,
    pub manifest_bytes: Vec<u8>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

impl OciLayout {
    pub fn create() -> OciLayout {
        let dir = tempfile::Builder::new()
            .prefix("oci-layout-")
            .tempdir()
            .unwrap();
        std::fs::create_dir_all(dir.path().join("blobs/sha256")).unwrap();
        std::fs::write(
            dir.path().join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .unwrap();
        OciLayout {
            dir,
            entries: Vec::new(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.path().join("blobs/sha256").join(d.hex())
    }

    pub fn write_blob(&self, media_type: &str, bytes: &[u8]) -> Descriptor {
        let d = Descriptor::new(media_type, Digest::of(bytes), bytes.len() as u64);
        std::fs::write(self.blob_path(&d.digest), bytes).unwrap();
        d
    }

    /// An image manifest with a small config and layers of the given sizes (random bytes).
    pub fn image(&self, layer_sizes: &[usize], arch: &str) -> BuiltImage {
        let layers: Vec<Descriptor> = layer_sizes
            .iter()
            .map(|n| self.write_blob(manifest::OCI_LAYER_TAR, &random_bytes(*n)))
            .collect();
        self.image_with_layers(layers, arch)
    }

    pub fn image_with_layers(&self, layers: Vec<Descriptor>, arch: &str) -> BuiltImage {
        let config_json = json!({
            "architecture": arch, "os": "linux",
            "config": {"Env": [format!("NONCE={}", hex(&random_bytes(8)))]},
            "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l.digest.to_string()).collect::<Vec<_>>()},
        });
        let config = self.write_blob(
            manifest::OCI_CONFIG,
            &serde_json::to_vec(&config_json).unwrap(),
        );
        let m = json!({
            "schemaVersion": 2,
            "mediaType": manifest::OCI_MANIFEST,
            "config": config,
            "layers": layers,
        });
        let manifest_bytes = serde_json::to_vec_pretty(&m).unwrap();
        let mut desc = self.write_blob(manifest::OCI_MANIFEST, &manifest_bytes);
        desc.platform = Some(Platform {
            architecture: arch.into(),
            os: "linux".into(),
            variant: None,
        });
        BuiltImage {
            manifest: desc,
            manifest_bytes,
            config,
            layers,
        }
    }

    /// An OCI index over `children`; returns its descriptor and bytes.
    pub fn index(&self, children: &[&BuiltImage]) -> (Descriptor, Vec<u8>) {
        let idx = json!({
            "schemaVersion": 2,
            "mediaType": manifest::OCI_INDEX,
            "manifests": children.iter().map(|c| c.manifest.clone()).collect::<Vec<_>>(),
        });
        let bytes = serde_json::to_vec_pretty(&idx).unwrap();
        (self.write_blob(manifest::OCI_INDEX, &bytes), bytes)
    }

    /// Name `desc` in index.json (with `ref_name` as `org.opencontainers.image.ref.name`).
    pub fn add_entry(&mut self, desc: &Descriptor, ref_name: Option<&str>) {
        let mut d = desc.clone();
        d.platform = None;
        if let Some(r) = ref_name {
            d.annotations.insert(manifest::REF_NAME.into(), r.into());
        }
        self.entries.push(d);
        let index = json!({"schemaVersion": 2, "mediaType": manifest::OCI_INDEX, "manifests": self.entries});
        std::fs::write(
            self.path().join("index.json"),
            serde_json::to_vec_pretty(&index).unwrap(),
        )
        .unwrap();
    }

    /// The layout as a tar file next to it (`./`-prefixed names, as `tar -C dir .` writes).
    pub fn to_tar(&self, out_dir: &Path) -> PathBuf {
        let out = out_dir.join("layout.tar");
        let mut b = tar::Builder::new(std::fs::File::create(&out).unwrap());
        b.append_dir_all(".", self.path()).unwrap();
        b.into_inner().unwrap();
        out
    }
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A legacy `docker save` archive: `<id>/layer.tar` layers (uncompressed), `<hex>.json` config,
/// manifest.json; the last layer repeated through a symlink as docker writes a shared layer.
/// Returns the path, the config bytes, and the layer bytes in order.
pub fn docker_archive(
    out_dir: &Path,
    repo_tag: &str,
    layer_sizes: &[usize],
    gzip_first: bool,
) -> (PathBuf, Vec<u8>, Vec<Vec<u8>>) {
    let mut layers: Vec<Vec<u8>> = layer_sizes.iter().map(|n| random_bytes(*n)).collect();
    if gzip_first && let Some(first) = layers.first_mut() {
        first[0] = 0x1f;
        first[1] = 0x8b;
    }
    let config = serde_json::to_vec(
        &json!({"architecture": "amd64", "os": "linux", "nonce": hex(&random_bytes(8))}),
    )
    .unwrap();
    let config_name = format!("{}.json", Digest::of(&config).hex());
    let path = out_dir.join("docker-save.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&path).unwrap());
    let mut append = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, data).unwrap();
    };
    append(&config_name, &config);
    let mut layer_names = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let name = format!("{:064x}/layer.tar", i + 1);
        append(&name, l);
        layer_names.push(name);
    }
    // The same last layer again, as a symlink from another layer directory.
    let dup = format!("{:064x}/layer.tar", 999);
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    b.append_link(&mut h, &dup, format!("../{}", layer_names.last().unwrap()))
        .unwrap();
    layer_names.push(dup);
    layers.push(layers.last().unwrap().clone());
    let manifest = json!([{"Config": config_name, "RepoTags": [repo_tag], "Layers": layer_names}]);
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_size(manifest.len() as u64);
    h.set_mode(0o644);
    b.append_data(&mut h, "manifest.json", &manifest[..])
        .unwrap();
    b.into_inner().unwrap();
    (path, config, layers)
}

pub fn client_for(reg: &testbed::Registry) -> RegistryClient {
    let creds = reg.credentials().map(|(u, p)| Credentials::new(u, p));
    RegistryClient::new(reg.endpoint(), creds).unwrap()
}

/// GET a manifest straight over HTTP (not through the code under test): status, content type,
/// bytes.
pub async fn fetch_manifest(
    reg: &testbed::Registry,
    repo: &str,
    reference: &str,
) -> (u16, String, Vec<u8>) {
    let mut rb = reqwest::Client::new()
        .get(format!(
            "{}/v2/{repo}/manifests/{reference}",
            reg.endpoint()
        ))
        .header("Accept", manifest::MANIFEST_ACCEPT);
    if let Some((u, p)) = reg.credentials() {
        rb = rb.basic_auth(u, Some(p));
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, resp.bytes().await.unwrap().to_vec())
}

/// GET a blob straight over HTTP.
pub async fn fetch_blob(reg: &testbed::Registry, repo: &str, digest: &Digest) -> (u16, Vec<u8>) {
    let mut rb = reqwest::Client::new().get(format!("{}/v2/{repo}/blobs/{digest}", reg.endpoint()));
    if let Some((u, p)) = reg.credentials() {
        rb = rb.basic_auth(u, Some(p));
    }
    let resp = rb.send().await.unwrap();
    (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
}

/// A Docker 25+ `docker save` archive: the same manifest.json, but every file is a blob under
/// `blobs/sha256/`, next to an OCI layout (oci-layout, index.json, an OCI manifest) naming the
/// same blobs. Returns the path, the layer bytes, and the OCI manifest's bytes.
pub fn docker_archive_with_oci_index(
    out_dir: &Path,
    repo_tag: &str,
    layer_sizes: &[usize],
) -> (PathBuf, Vec<Vec<u8>>, Vec<u8>) {
    let layout = OciLayout::create();
    let layers: Vec<Vec<u8>> = layer_sizes.iter().map(|n| random_bytes(*n)).collect();
    let descs: Vec<Descriptor> = layers
        .iter()
        .map(|l| layout.write_blob(manifest::OCI_LAYER_TAR, l))
        .collect();
    let mut layout = layout;
    let img = layout.image_with_layers(descs.clone(), "amd64");
    let tag = repo_tag.rsplit_once(':').map_or("latest", |(_, t)| t);
    layout.add_entry(&img.manifest, Some(tag));
    let name = |d: &Descriptor| format!("blobs/sha256/{}", d.digest.hex());
    let manifest_json = json!([{
        "Config": name(&img.config),
        "RepoTags": [repo_tag],
        "Layers": descs.iter().map(name).collect::<Vec<_>>(),
    }]);
    std::fs::write(
        layout.path().join("manifest.json"),
        serde_json::to_vec(&manifest_json).unwrap(),
    )
    .unwrap();
    let path = out_dir.join("docker-save-oci.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&path).unwrap());
    b.append_dir_all(".", layout.path()).unwrap();
    b.into_inner().unwrap();
    (path, layers, img.manifest_bytes)
}
