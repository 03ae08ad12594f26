//! `Moto`: a moto server (PyPI `moto[server]`) on a free loopback port, standing in for STS,
//! IAM, ECR's API, ECS's API, ELBv2 and CloudWatch Logs; or, when `TESTBED_MOTO_URL` is set, a
//! handle on an already running one. The AWS-protocol helpers on it live in `moto_api.rs`.
//!
//! What moto 5.x answers (checked by this crate's tests):
//! - STS `AssumeRoleWithWebIdentity` needs no `Authorization` header and accepts any token and
//!   any role, existing or not. Credentials: `AccessKeyId` `ASIA` + 16 chars, a 40-char
//!   `SecretAccessKey`, a `SessionToken` starting `FQoGZXIvYXdzE`, `Expiration` = now +
//!   `DurationSeconds` (default 3600) as `2026-01-01T00:15:00.123456Z`.
//!   `AssumedRoleUser`: `AssumedRoleId` = `ARO123EXAMPLE123:<RoleSessionName>`, `Arn` =
//!   `arn:aws:sts::<account of RoleArn>:assumed-role/<role name>/<RoleSessionName>`; then
//!   `PackedPolicySize` 6. No `SubjectFromWebIdentityToken`, `Provider` or `Audience`.
//!   Later requests signed with those credentials act in the RoleArn's account.
//! - Other services are routed by the `Authorization` header's credential scope; a request
//!   without one lands in moto's S3. The default account is 123456789012 (`MOTO_ACCOUNT_ID`).
//! - ECR `GetAuthorizationToken`: `authorizationToken` = base64(`AWS:<registry id>-auth-token`),
//!   where the registry id is the caller's account (or each of `registryIds`); deterministic.
//!   `expiresAt` is always 1420070400 (2015-01-01, in the past); `proxyEndpoint` is
//!   `https://<account>.dkr.ecr.<region>.amazonaws.com`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::net::{free_port, http_client};
use crate::process::{ChildProcess, is_executable, which};

/// Env var naming the moto_server executable.
pub const MOTO_SERVER_ENV: &str = "TESTBED_MOTO_SERVER";
/// Env var with the URL of a running moto server to use instead of starting one.
pub const MOTO_URL_ENV: &str = "TESTBED_MOTO_URL";
/// moto's default account id.
pub const MOTO_ACCOUNT_ID: &str = "123456789012";

const START_LIMIT: Duration = Duration::from_secs(45);

/// A moto server. Dropping it stops the server this handle started (an external one, from
/// `TESTBED_MOTO_URL`, is left running).
pub struct Moto {
    pub(crate) endpoint: String,
    external: bool,
    _child: Option<ChildProcess>,
    _dir: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Moto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Moto")
            .field("endpoint", &self.endpoint)
            .field("external", &self.external)
            .finish()
    }
}

static SHARED: tokio::sync::OnceCell<Moto> = tokio::sync::OnceCell::const_new();

impl Moto {
    /// Starts a moto server of its own on a free port (or reuses `TESTBED_MOTO_URL`) and waits
    /// until it answers.
    pub async fn start() -> Result<Moto> {
        if let Some(url) = std::env::var(MOTO_URL_ENV)
            .ok()
            .filter(|u| !u.trim().is_empty())
        {
            return Self::external(url.trim()).await;
        }
        let exe = find_moto_server()?;
        let dir = tempfile::Builder::new().prefix("testbed-moto-").tempdir()?;
        let mut last = None;
        for attempt in 0..3 {
            let port = free_port();
            let mut cmd = Command::new(&exe);
            cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("PYTHONUNBUFFERED", "1")
                .env("PYTHONDONTWRITEBYTECODE", "1");
            let log = dir.path().join(format!("moto-{attempt}.log"));
            let mut child = ChildProcess::spawn("moto_server", cmd, &log).await?;
            let endpoint = format!("http://127.0.0.1:{port}");
            match child
                .wait_http(&format!("{endpoint}/moto-api/"), |s| s == 200, START_LIMIT)
                .await
            {
                Ok(()) => {
                    return Ok(Moto {
                        endpoint,
                        external: false,
                        _child: Some(child),
                        _dir: Some(dir),
                    });
                }
                // Exited early: most likely the port was taken meanwhile; try another.
                Err(e) if child.exited().is_some() => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.expect("at least one attempt")).context("start moto_server")
    }

    /// One moto server for the whole test process, started on first use (or
    /// `TESTBED_MOTO_URL`). It outlives the test that started it and dies with the process.
    /// Tests sharing it must use unique names and must not `reset()` it.
    pub async fn shared() -> Result<&'static Moto> {
        SHARED.get_or_try_init(Moto::start).await
    }

    async fn external(url: &str) -> Result<Moto> {
        let endpoint = url.trim_end_matches('/').to_owned();
        let probe = format!("{endpoint}/moto-api/");
        let client = http_client();
        crate::net::wait_until(
            &format!("moto at {MOTO_URL_ENV}={endpoint}"),
            Duration::from_secs(10),
            || {
                let req = client.get(&probe).timeout(Duration::from_secs(2)).send();
                async move { Ok(req.await.map(|r| r.status().is_success()).unwrap_or(false)) }
            },
        )
        .await?;
        Ok(Moto {
            endpoint,
            external: true,
            _child: None,
            _dir: None,
        })
    }

    /// `http://127.0.0.1:PORT`: the value for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Whether this handle is on a server it did not start (`TESTBED_MOTO_URL`).
    pub fn is_external(&self) -> bool {
        self.external
    }

    /// Forgets every resource in every account (`POST /moto-api/reset`). Never on a shared
    /// or external server that other tests use.
    pub async fn reset(&self) -> Result<()> {
        let resp = http_client()
            .post(format!("{}/moto-api/reset", self.endpoint))
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("moto reset answered {}", resp.status());
        }
        Ok(())
    }
}

/// `TESTBED_MOTO_SERVER`, else `<workspace>/.venv/bin/moto_server`, else `moto_server` on PATH.
pub fn find_moto_server() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(MOTO_SERVER_ENV).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if is_executable(&p) {
            return Ok(p);
        }
        bail!(
            "{MOTO_SERVER_ENV}={} is not an executable file",
            p.display()
        );
    }
    let venv = crate::workspace_root().join(".venv/bin/moto_server");
    if is_executable(&venv) {
        return Ok(venv);
    }
    which("moto_server").with_context(|| {
        format!(
            "moto_server not found: not in {MOTO_SERVER_ENV}, not at {}, not on PATH. \
             Run the README's test command (scripts/test.sh; scripts/setup.sh creates the .venv with moto[server]), \
             or set {MOTO_URL_ENV} to a running moto server",
            venv.display()
        )
    })
}
