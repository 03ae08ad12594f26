//! `Registry`: Debian's `docker-registry` (CNCF distribution 2.8) on a free loopback port, with
//! its config, htpasswd file and storage in a temporary directory removed on drop.
//!
//! Moto + registry act as one ECR: moto's ECR `GetAuthorizationToken` is base64 of
//! `AWS:<account>-auth-token` (deterministic, see `moto.rs`), so a registry started with user
//! `AWS` and password `<account>-auth-token` (`start_for_moto_ecr` / `start_for_ecr_account`)
//! accepts exactly the login moto hands out. Moto's `proxyEndpoint` names the real ECR host;
//! clients under test must be pointed at `endpoint()` instead.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rand::Rng;

use crate::ecr_sync::EcrSync;
use crate::moto::Moto;
use crate::moto_api::{DEFAULT_REGION, moto_ecr_password};
use crate::net::{free_port, random_token};
use crate::process::{ChildProcess, is_executable, which};

/// Env var naming the docker-registry executable.
pub const REGISTRY_BIN_ENV: &str = "TESTBED_DOCKER_REGISTRY";

/// A running docker-registry.
pub struct Registry {
    endpoint: String,
    host: String,
    credentials: Option<(String, String)>,
    _child: ChildProcess,
    log: PathBuf,
    dir: tempfile::TempDir,
    sync: Option<EcrSync>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("endpoint", &self.endpoint)
            .field("auth", &self.credentials.is_some())
            .finish()
    }
}

impl Registry {
    /// A registry that requires HTTP basic auth `user:password` (401 without it).
    pub async fn start(user: &str, password: &str) -> Result<Registry> {
        Self::launch(Some((user.to_owned(), password.to_owned())), None).await
    }

    /// A registry without authentication.
    pub async fn start_anonymous() -> Result<Registry> {
        Self::launch(None, None).await
    }

    /// A registry with token auth whose `/v2/` challenge is `Bearer realm="<realm>"`: clients
    /// are sent to `realm` for a token. No token service runs; the signing root is a fixed
    /// test certificate, so no token would be accepted: for tests of where clients go.
    pub async fn start_with_token_realm(realm: &str) -> Result<Registry> {
        Self::launch_with(None, Some(realm.to_owned()), None).await
    }

    /// Like `start_for_moto_ecr`, and moto's ECR API also sees every tagged manifest pushed
    /// here (see `ecr_sync.rs`), scans included: for tests of calls such as
    /// `DescribeImageScanFindings`.
    pub async fn start_synced_with_moto(moto: &Moto) -> Result<Registry> {
        Self::start_synced_with_moto_in(moto, DEFAULT_REGION).await
    }

    /// `start_synced_with_moto` for moto's ECR in `region` (its own registry scanning
    /// configuration, so a test can make it ENHANCED without touching other tests' region).
    pub async fn start_synced_with_moto_in(moto: &Moto, region: &str) -> Result<Registry> {
        let auth = moto.ecr_authorization().await?;
        let sync = EcrSync::start(
            moto.endpoint(),
            region,
            Some((&auth.username, &auth.password)),
        )
        .await?;
        Self::launch(
            Some((auth.username.clone(), auth.password.clone())),
            Some(sync),
        )
        .await
    }

    /// The moto sync listener, when started with `start_synced_with_moto`.
    pub fn ecr_sync(&self) -> Option<&EcrSync> {
        self.sync.as_ref()
    }

    /// A registry accepting the login that `moto`'s ECR hands to its default account: asks
    /// moto for it (`AWS` / `123456789012-auth-token`).
    pub async fn start_for_moto_ecr(moto: &Moto) -> Result<Registry> {
        let auth = moto.ecr_authorization().await?;
        Self::start(&auth.username, &auth.password).await
    }

    /// A registry accepting the login moto's ECR hands to callers in `account_id` (the account
    /// of the role they assumed): `AWS` / `<account_id>-auth-token`.
    pub async fn start_for_ecr_account(account_id: &str) -> Result<Registry> {
        Self::start("AWS", &moto_ecr_password(account_id)).await
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// `127.0.0.1:PORT`: the registry part of an image reference.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The `(user, password)` it accepts; `None` when anonymous.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// Its output: warnings and one access-log line per request (combined format, with the
    /// client's User-Agent), which the deploy benchmark counts.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Where the registry keeps blobs and manifests (`docker/registry/v2/...` below it).
    pub fn storage_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    async fn launch(
        credentials: Option<(String, String)>,
        sync: Option<EcrSync>,
    ) -> Result<Registry> {
        Self::launch_with(credentials, None, sync).await
    }

    async fn launch_with(
        credentials: Option<(String, String)>,
        token_realm: Option<String>,
        sync: Option<EcrSync>,
    ) -> Result<Registry> {
        let exe = find_docker_registry()?;
        let dir = tempfile::Builder::new()
            .prefix("testbed-registry-")
            .tempdir()?;
        std::fs::create_dir_all(dir.path().join("data"))?;
        if let Some((user, password)) = &credentials {
            std::fs::write(dir.path().join("htpasswd"), htpasswd_line(user, password)?)?;
        }
        if token_realm.is_some() {
            std::fs::write(dir.path().join("token-root.pem"), TOKEN_ROOT_PEM)?;
        }
        let mut last = None;
        for attempt in 0..3 {
            let port = free_port();
            let config = dir.path().join(format!("config-{attempt}.yml"));
            std::fs::write(
                &config,
                config_yaml(
                    dir.path(),
                    port,
                    credentials.is_some(),
                    token_realm.as_deref(),
                    sync.as_ref().map(EcrSync::url),
                ),
            )?;
            let mut cmd = Command::new(&exe);
            cmd.arg("serve").arg(&config);
            let log = dir.path().join(format!("registry-{attempt}.log"));
            let mut child = ChildProcess::spawn("docker-registry", cmd, &log).await?;
            let endpoint = format!("http://127.0.0.1:{port}");
            let probe = format!("{endpoint}/v2/");
            match child
                .wait_http(&probe, |s| s == 200 || s == 401, Duration::from_secs(20))
                .await
            {
                Ok(()) => {
                    return Ok(Registry {
                        host: format!("127.0.0.1:{port}"),
                        endpoint,
                        credentials,
                        _child: child,
                        log,
                        dir,
                        sync,
                    });
                }
                Err(e) if child.exited().is_some() => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.expect("at least one attempt")).context("start docker-registry")
    }
}

/// `user:<bcrypt hash>` in the `$2y$` form that `htpasswd -B` writes.
fn htpasswd_line(user: &str, password: &str) -> Result<String> {
    let salt: [u8; 16] = rand::rng().random();
    let hash = bcrypt::hash_with_salt(password, 5, salt)
        .map_err(|e| anyhow::anyhow!("bcrypt: {e}"))?
        .format_for_version(bcrypt::Version::TwoY);
    Ok(format!("{user}:{hash}\n"))
}

/// A self-signed certificate of the issuer's test key: distribution's token auth will not start
/// without a signing root.
const TOKEN_ROOT_PEM: &str = include_str!("fixtures/registry_token_root.pem");

fn config_yaml(
    dir: &Path,
    port: u16,
    auth: bool,
    token_realm: Option<&str>,
    notify: Option<&str>,
) -> String {
    let root = dir.join("data");
    let mut yaml = format!(
        "version: 0.1\n\
         log:\n  level: warn\n  accesslog:\n    disabled: false\n\
         storage:\n  filesystem:\n    rootdirectory: {root}\n  delete:\n    enabled: true\n  \
         maintenance:\n    uploadpurging:\n      enabled: false\n\
         http:\n  addr: 127.0.0.1:{port}\n  secret: {secret}\n  headers:\n    X-Content-Type-Options: [nosniff]\n",
        root = root.display(),
        secret = random_token(32),
    );
    if auth {
        let htpasswd = dir.join("htpasswd");
        yaml.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n",
            htpasswd.display()
        ));
    }
    if let Some(realm) = token_realm {
        yaml.push_str(&format!(
            "auth:\n  token:\n    realm: {realm:?}\n    service: testbed-registry\n    issuer: testbed\n    rootcertbundle: {}\n",
            dir.join("token-root.pem").display()
        ));
    }
    if let Some(url) = notify {
        yaml.push_str(&format!(
            "notifications:\n  endpoints:\n    - name: moto-ecr\n      url: {url}\n      timeout: 2s\n      threshold: 3\n      backoff: 100ms\n"
        ));
    }
    yaml
}

/// `TESTBED_DOCKER_REGISTRY`, else `docker-registry` on PATH, else `/usr/bin/docker-registry`.
pub fn find_docker_registry() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(REGISTRY_BIN_ENV).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if is_executable(&p) {
            return Ok(p);
        }
        bail!(
            "{REGISTRY_BIN_ENV}={} is not an executable file",
            p.display()
        );
    }
    let usr_bin = PathBuf::from("/usr/bin/docker-registry");
    which("docker-registry").or_else(|| is_executable(&usr_bin).then_some(usr_bin)).context(
        "docker-registry not found: install Debian's package (apt-get install docker-registry), \
         as scripts/setup.sh does, or set TESTBED_DOCKER_REGISTRY",
    )
}
