//! The image tests' shared bed: moto (shared) as ECR's API and a docker-registry of the test's
//! own accepting moto's ECR login (optionally mirroring its pushes into moto), the job that
//! pushes to them, and the look-ups tests assert with. Included by the `image_*` end-to-end
//! tests with `#[path]` (it lives under `common/` so cargo does not build it as a test of its own).
#![allow(dead_code)]

use std::path::Path;

use base64::Engine as _;
use oidc_ecs_deploy::image::Digest;
use serde_json::{Value, json};
use testbed::fault::STS_XMLNS;
use testbed::{FaultProxy, Matcher, Moto, Registry};

use crate::common::{ActionRun, Run, unique};
use crate::fixtures::{BuiltImage, OciLayout, fetch_manifest};

/// The job's commit: the default tag.
pub const SHA: &str = "3f1e2d4c5b6a798812f0e1d2c3b4a5968778695a";
/// Static credentials the identity stage adopts; moto maps them to its default account.
pub const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
pub const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
pub const ECR: &str = "AmazonEC2ContainerRegistry_V20150921";

pub async fn moto() -> &'static Moto {
    Moto::shared()
        .await
        .expect("start moto (scripts/setup.sh installs it)")
}

/// moto (shared) and a registry of this test's own accepting moto's ECR login.
pub struct Bed {
    pub moto: &'static Moto,
    pub reg: Registry,
}

impl Bed {
    pub async fn start() -> Bed {
        let moto = moto().await;
        let reg = Registry::start_for_moto_ecr(moto)
            .await
            .expect("start docker-registry (scripts/setup.sh installs it)");
        Bed { moto, reg }
    }

    /// Like `start`, and moto's ECR (in `region`) sees every tagged push (`EcrSync`), scans
    /// included.
    pub async fn start_synced(region: &str) -> Bed {
        let moto = moto().await;
        let reg = Registry::start_synced_with_moto_in(moto, region)
            .await
            .expect("start docker-registry (scripts/setup.sh installs it)");
        Bed { moto, reg }
    }

    /// What moto's ECR (in `region`) lists in `repository`: `None` when the repository does not
    /// exist.
    pub async fn moto_images(&self, region: &str, repository: &str) -> Option<Vec<Value>> {
        match self
            .moto
            .json_in(
                region,
                "ecr",
                &format!("{ECR}.DescribeImages"),
                &json!({ "repositoryName": repository }),
            )
            .await
        {
            Ok(v) => Some(v["imageDetails"].as_array().cloned().unwrap_or_default()),
            Err(e) if e.to_string().contains("RepositoryNotFoundException") => None,
            Err(e) => panic!("DescribeImages: {e:#}"),
        }
    }

    /// A job pushing `source` to `repository` of this bed's registry, tag defaulting to SHA.
    pub fn job(&self, repository: &str, source: &str) -> ActionRun {
        self.job_via(self.reg.endpoint(), repository, source)
    }

    /// The same job, with the registry reached at `endpoint` (a proxy in front of it).
    pub fn job_via(&self, endpoint: &str, repository: &str, source: &str) -> ActionRun {
        let mut job = ActionRun::new();
        if let Some((user, password)) = self.reg.credentials() {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            job = job
                .secret("the ECR password", password)
                .secret("the ECR authorization token", &token);
        }
        job.aws(self.moto.endpoint())
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .with("aws-region", "us-east-1")
            .with("registry-endpoint", endpoint)
            .with("repository", repository)
            .with("image-source", source)
    }

    /// A forwarding proxy in front of the registry that records every request.
    pub async fn recording_proxy(&self) -> FaultProxy {
        FaultProxy::start(
            Some(self.reg.endpoint().to_owned()),
            vec![],
            Matcher::All,
            STS_XMLNS,
        )
        .await
        .expect("start the registry proxy")
    }

    /// Creates `name` in moto's ECR with this tag mutability (`MUTABLE` / `IMMUTABLE`).
    pub async fn create_repository(&self, name: &str, mutability: &str) {
        self.moto
            .json(
                "ecr",
                &format!("{ECR}.CreateRepository"),
                &json!({ "repositoryName": name, "imageTagMutability": mutability }),
            )
            .await
            .expect("CreateRepository in moto");
    }

    /// moto's DescribeRepositories entry for `name`, `None` when it does not exist.
    pub async fn describe_repository(&self, name: &str) -> Option<Value> {
        match self
            .moto
            .json(
                "ecr",
                &format!("{ECR}.DescribeRepositories"),
                &json!({ "repositoryNames": [name] }),
            )
            .await
        {
            Ok(v) => v["repositories"]
                .as_array()
                .and_then(|r| r.first().cloned()),
            Err(e) if e.to_string().contains("RepositoryNotFoundException") => None,
            Err(e) => panic!("DescribeRepositories: {e:#}"),
        }
    }

    /// The digest `reference` names in the registry (fetched over plain HTTP, hashed here),
    /// `None` on 404.
    pub async fn digest_of(&self, repo: &str, reference: &str) -> Option<Digest> {
        let (status, _, bytes) = fetch_manifest(&self.reg, repo, reference).await;
        match status {
            200 => Some(Digest::of(&bytes)),
            404 => None,
            other => panic!("GET manifest {repo}:{reference} answered {other}"),
        }
    }

    /// None of `img`'s blobs is in `repo` (the run uploaded nothing).
    pub async fn assert_no_blobs(&self, repo: &str, img: &BuiltImage, run: &Run) {
        for blob in blobs(img) {
            assert_eq!(
                self.blob_status(repo, &blob).await,
                404,
                "blob {blob} was uploaded\n{}",
                run.dump()
            );
        }
    }

    /// The status of `HEAD /v2/<repo>/blobs/<digest>`.
    pub async fn blob_status(&self, repo: &str, digest: &Digest) -> u16 {
        let (user, password) = self.reg.credentials().expect("the registry has a login");
        reqwest::Client::new()
            .head(format!("{}/v2/{repo}/blobs/{digest}", self.reg.endpoint()))
            .basic_auth(user, Some(password))
            .send()
            .await
            .expect("HEAD blob")
            .status()
            .as_u16()
    }
}

/// A repository name of this test's own (lowercase, with a namespace as teams use).
pub fn repo_name(what: &str) -> String {
    format!("e2e/{}", unique(what)).to_ascii_lowercase()
}

/// An OCI layout directory holding one small image (config + 2 layers of random bytes).
pub fn layout_with_image() -> (OciLayout, BuiltImage) {
    let mut layout = OciLayout::create();
    let img = layout.image(&[4_096, 20_000], "amd64");
    layout.add_entry(&img.manifest, None);
    (layout, img)
}

pub fn oci(path: &Path) -> String {
    format!("oci:{}", path.display())
}

/// Every blob of `img`: config and layers.
pub fn blobs(img: &BuiltImage) -> Vec<Digest> {
    std::iter::once(img.config.digest.clone())
        .chain(img.layers.iter().map(|l| l.digest.clone()))
        .collect()
}

/// The job summary holds `row`.
pub fn assert_summary_row(run: &Run, row: &str) {
    assert!(
        run.summary.contains(row),
        "the summary lacks `{row}`\n{}",
        run.dump()
    );
}
