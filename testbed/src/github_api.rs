//! `GithubApi`: a mock of GitHub's REST API generated from GitHub's own API description, which
//! validates every request against it. No local GitHub exists; GitHub publishes its description
//! (npm `@octokit/openapi`, `generated/api.github.com.deref.json`) and `@stoplight/prism-cli`
//! serves it: a request GitHub would reject (a missing field, a state it does not know, a path
//! it does not have) is answered 422 or 404 and logged as a violation, and a valid one gets the
//! description's example answer.
//!
//! Both packages are pinned in `testbed/github-api/package.json` (installed by
//! `scripts/setup.sh` with `npm ci`). `cut.js` there cuts the 10 MB description down to the
//! deployment paths the action calls, so that prism starts in a second or two; the cut is made
//! once per test process. Prism cannot say which requests it saw: put a `FaultProxy` in front
//! of it to record them (and to answer what the description has no example for, such as 403).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::fault::Fault;
use crate::net::free_port;
use crate::process::{ChildProcess, is_executable};

/// Env var naming the prism executable, to use one installed elsewhere.
pub const PRISM_ENV: &str = "TESTBED_PRISM";

const START_LIMIT: Duration = Duration::from_secs(60);

/// A prism mock server of the deployment paths of GitHub's REST API.
pub struct GithubApi {
    endpoint: String,
    log: PathBuf,
    _child: ChildProcess,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for GithubApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubApi")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

/// The cut description, made once per process (the temporary directory lives as long).
static CUT: tokio::sync::OnceCell<(tempfile::TempDir, PathBuf)> =
    tokio::sync::OnceCell::const_new();

impl GithubApi {
    /// Starts prism on a free loopback port and waits until it answers.
    pub async fn start() -> Result<GithubApi> {
        let prism = find_prism()?;
        let description = cut_description().await?;
        let dir = tempfile::Builder::new()
            .prefix("testbed-github-api-")
            .tempdir()?;
        let mut last = None;
        for attempt in 0..3 {
            let port = free_port();
            let mut cmd = Command::new(&prism);
            cmd.args(["mock", "--host", "127.0.0.1", "--port", &port.to_string()])
                .arg(&description)
                .env("NO_COLOR", "1")
                .env("FORCE_COLOR", "0");
            let log = dir.path().join(format!("prism-{attempt}.log"));
            let mut child = ChildProcess::spawn("prism", cmd, &log).await?;
            let endpoint = format!("http://127.0.0.1:{port}");
            let probe = format!("{endpoint}/repos/octo-org/probe/deployments");
            match child.wait_http(&probe, |s| s == 200, START_LIMIT).await {
                Ok(()) => {
                    return Ok(GithubApi {
                        endpoint,
                        log,
                        _child: child,
                        _dir: dir,
                    });
                }
                Err(e) if child.exited().is_some() => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.expect("at least one attempt")).context("start prism")
    }

    /// `http://127.0.0.1:PORT`: the value for `GITHUB_API_URL`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Everything prism logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The requests prism refused, one log line each (empty when every request was one GitHub
    /// would accept): an error answer (`> Responding with "422"`), a path the description does
    /// not have (`Request terminated with error`), and the violations it names. Prism logs a
    /// request's outcome just after answering it, so this first waits (at most 10 s) until
    /// every request it received has one.
    pub async fn violations(&self) -> Vec<String> {
        let finished = |log: &str| {
            let received = log.matches("Request received").count();
            let answered = log.matches("> Responding with").count()
                + log.matches("Request terminated with error").count();
            answered >= received
        };
        for _ in 0..200 {
            if finished(&self.log()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.log()
            .lines()
            .filter(|l| {
                let error_answer = l
                    .split("> Responding with \"")
                    .nth(1)
                    .is_some_and(|rest| rest.starts_with(['4', '5']));
                error_answer
                    || l.contains("Violation:")
                    || l.contains("Request terminated with error")
            })
            .map(|l| l.trim().to_owned())
            .collect()
    }

    /// The description's example answer for `method path` with `status` (for a `FaultProxy` to
    /// give in place of prism, changed where a test needs other values).
    pub async fn example(route: &str, method: &str, status: u16) -> Result<serde_json::Value> {
        let text = std::fs::read_to_string(cut_description().await?)?;
        let description: serde_json::Value = serde_json::from_str(&text)?;
        let content = &description["paths"][route][method]["responses"][status.to_string()]["content"]
            ["application/json"];
        let example = content["examples"]
            .as_object()
            .and_then(|examples| examples.values().next())
            .map(|e| e["value"].clone())
            .or_else(|| content.get("example").cloned());
        example.with_context(|| {
            format!("the description has no example for {method} {route} {status}")
        })
    }
}

/// GitHub's answer to a request the token has no permission for: what a `GITHUB_TOKEN` without
/// `deployments: write` gets when it creates a Deployment or a status.
pub fn forbidden_by_integration() -> Fault {
    Fault::Raw {
        status: 403,
        content_type: "application/json; charset=utf-8".into(),
        body: serde_json::json!({
            "message": "Resource not accessible by integration",
            "documentation_url": "https://docs.github.com/rest/deployments/deployments#create-a-deployment",
            "status": "403"
        })
        .to_string(),
    }
}

/// The directory holding `package.json`, `cut.js` and (once installed) `node_modules`.
pub fn package_dir() -> PathBuf {
    crate::workspace_root().join("testbed/github-api")
}

/// `TESTBED_PRISM`, else the prism that `npm ci` installed in [`package_dir`].
pub fn find_prism() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(PRISM_ENV).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if is_executable(&p) {
            return Ok(p);
        }
        bail!("{PRISM_ENV}={} is not an executable file", p.display());
    }
    let local = package_dir().join("node_modules/.bin/prism");
    if is_executable(&local) {
        return Ok(local);
    }
    bail!(
        "prism not found at {}: run scripts/setup.sh (it runs `npm ci` in {}), or set {PRISM_ENV}",
        local.display(),
        package_dir().display()
    )
}

async fn cut_description() -> Result<PathBuf> {
    let (_, path) = CUT
        .get_or_try_init(|| async {
            let dir = tempfile::Builder::new()
                .prefix("testbed-github-description-")
                .tempdir()?;
            let out = dir.path().join("deployments.json");
            run_cut(&out).await?;
            Ok::<_, anyhow::Error>((dir, out))
        })
        .await?;
    Ok(path.clone())
}

async fn run_cut(out: &Path) -> Result<()> {
    let script = package_dir().join("cut.js");
    let output = tokio::process::Command::new("node")
        .arg(&script)
        .arg(out)
        .current_dir(package_dir())
        .output()
        .await
        .context("run node (Debian's nodejs; scripts/setup.sh installs it)")?;
    if !output.status.success() {
        bail!(
            "{} failed ({}): {}",
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}
