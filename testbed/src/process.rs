//! Child processes of the testbed (moto server, docker-registry): finding their executables,
//! spawning them so they cannot outlive the test process, capturing their output to a log
//! file, and killing their whole process group on drop.
//!
//! Every child is spawned from one long-lived launcher thread with `PR_SET_PDEATHSIG` set to
//! `SIGKILL`. Linux sends that signal when the *thread* that forked the child ends, so the
//! launcher thread lives as long as the process: a test binary that panics, aborts or is killed
//! takes its children with it, while a child shared between tests (see `Moto::shared`) survives
//! the end of the test (and thread, and tokio runtime) that started it.

use std::fs::File;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

type Job = (Command, tokio::sync::oneshot::Sender<io::Result<Child>>);

/// The sender side of the launcher thread; kept in a static so the thread never ends.
static LAUNCHER: OnceLock<mpsc::Sender<Job>> = OnceLock::new();

fn launcher() -> &'static mpsc::Sender<Job> {
    LAUNCHER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("testbed-launcher".into())
            .spawn(move || {
                for (mut command, reply) in rx {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("spawn the testbed launcher thread");
        tx
    })
}

/// A running child process; dropping it kills its process group and reaps it.
pub(crate) struct ChildProcess {
    name: String,
    child: Child,
    log: PathBuf,
}

impl ChildProcess {
    /// Spawns `command` in its own process group, with stdin closed and stdout and stderr
    /// appended to `log`, dying with the test process.
    pub(crate) async fn spawn(name: &str, mut command: Command, log: &Path) -> Result<Self> {
        let out = File::create(log).with_context(|| format!("create {}", log.display()))?;
        let err = out.try_clone()?;
        command
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .process_group(0);
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                // The parent may have died before prctl took effect.
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        launcher()
            .send((command, tx))
            .map_err(|_| anyhow!("the testbed launcher thread is gone"))?;
        let child = rx
            .await
            .map_err(|_| anyhow!("the testbed launcher thread dropped the request"))?
            .with_context(|| format!("spawn {name}"))?;
        Ok(ChildProcess {
            name: name.to_owned(),
            child,
            log: log.to_owned(),
        })
    }

    /// `Some(status)` once the child has exited.
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Polls `GET url` until it answers a status `ready` accepts, failing early (with the log)
    /// when the child exits and after `limit` (also with the log).
    pub(crate) async fn wait_http(
        &mut self,
        url: &str,
        ready: fn(u16) -> bool,
        limit: Duration,
    ) -> Result<()> {
        let client = crate::net::http_client();
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.exited() {
                bail!(
                    "{} exited with {status} before answering {url}\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            let probe = client.get(url).timeout(Duration::from_secs(2)).send().await;
            if let Ok(resp) = probe
                && ready(resp.status().as_u16())
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} did not answer {url} within {limit:?}\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The last lines the child wrote, for error messages.
    pub(crate) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(20);
        format!(
            "--- last lines of {} ({}) ---\n{}",
            self.name,
            self.log.display(),
            lines[start..].join("\n")
        )
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        if self.exited().is_none() {
            // SAFETY: plain syscall; the negative pid names the process group we created.
            unsafe {
                libc::kill(-(self.child.id() as libc::pid_t), libc::SIGKILL);
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Looks `name` up on PATH.
pub(crate) fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

pub(crate) fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
