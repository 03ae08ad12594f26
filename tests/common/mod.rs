//! The end-to-end harness: run the built binary the way the GitHub runner runs a container
//! action, and read back everything the runner would read.
//!
//! The runner's contract is rebuilt from `action.yml` itself, not from the binary's copy of it:
//! every declared input becomes `INPUT_<NAME>` (upper-cased, spaces to `_`, hyphens kept) set to
//! its default, or to the empty string when it has none (the runner sets every declared input),
//! then the test's `with:` values are laid over them; the arguments are `runs.args`. The process
//! starts from an empty environment holding only what a runner sets (`PATH`, `HOME`,
//! `GITHUB_*` and the runner files), plus what the test adds.
//!
//! `Run` holds the exit code, both streams, the parsed `GITHUB_OUTPUT` and `GITHUB_ENV` heredoc
//! files and the summary. Every run is checked for leaked secrets before the test sees it
//! (`leaks.rs`); `assert_no_leaks` also asserts that the secrets a test expects were masked.

#![allow(dead_code)]

pub mod leaks;
pub mod rollout;

#[allow(unused_imports)]
pub use leaks::{assert_masked_before_shown, assert_no_leaks};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_oidc-ecs-deploy");
/// The repository every job in these tests belongs to.
pub const REPO: &str = "octo-org/payments";
/// moto's account, and the account of every role in these tests.
pub const ACCOUNT: &str = "123456789012";
/// The GitHub.com OIDC provider as IAM condition keys name it.
pub const PROVIDER: &str = "token.actions.githubusercontent.com";
/// A run never takes longer than this; a hang fails the test instead of the suite.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// One input as action.yml declares it.
#[derive(Debug, Clone)]
pub struct DeclaredInput {
    pub name: String,
    pub default: Option<String>,
    pub required: bool,
}

/// action.yml, read from the repository (the file the runner reads).
pub fn action_yml() -> serde_yaml_ng::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).expect("action.yml is YAML")
}

/// The inputs action.yml declares, in file order, with their defaults as the runner reads them
/// (a scalar default is taken as its text: `default: 3600` and `default: "3600"` are the same).
pub fn declared_inputs() -> Vec<DeclaredInput> {
    let yml = action_yml();
    let inputs = yml
        .get("inputs")
        .and_then(|i| i.as_mapping())
        .expect("action.yml has an `inputs` mapping");
    inputs
        .iter()
        .map(|(name, body)| {
            let name = name.as_str().expect("input names are strings").to_owned();
            let default = body.get("default").and_then(|d| match d {
                serde_yaml_ng::Value::String(s) => Some(s.clone()),
                serde_yaml_ng::Value::Bool(b) => Some(b.to_string()),
                serde_yaml_ng::Value::Number(n) => Some(n.to_string()),
                serde_yaml_ng::Value::Null => None,
                other => panic!("input {name}: unexpected default {other:?}"),
            });
            let required = body
                .get("required")
                .and_then(|r| r.as_bool())
                .unwrap_or(false);
            DeclaredInput {
                name,
                default,
                required,
            }
        })
        .collect()
}

/// `runs.args` of action.yml: the container's arguments.
pub fn runs_args() -> Vec<String> {
    let yml = action_yml();
    yml.get("runs")
        .and_then(|r| r.get("args"))
        .and_then(|a| a.as_sequence())
        .map(|seq| {
            seq.iter()
                .map(|v| v.as_str().expect("args are strings").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The runner's variable name for an input.
pub fn input_var(name: &str) -> String {
    format!("INPUT_{}", name.replace(' ', "_").to_uppercase())
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name no other test in this process (or a concurrent test process) uses.
pub fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{n}-{}", std::process::id(), nanos % 100_000)
}

/// A run id that differs between runs, as GitHub's does.
pub fn unique_run_id() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{}{:04}", 7_000_000 + (std::process::id() % 1_000_000), n)
}

/// `arn:aws:iam::123456789012:role/<name>`.
pub fn role_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

/// A trust policy admitting exactly the given `sub` values (StringEquals) with the STS audience.
pub fn policy_for_subs(subs: &[&str]) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{PROVIDER}") },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": { "StringEquals": {
                format!("{PROVIDER}:aud"): "sts.amazonaws.com",
                format!("{PROVIDER}:sub"): subs,
            }}
        }]
    })
    .to_string()
}

/// A builder for one invocation of the binary as the runner would make it.
pub struct ActionRun {
    inputs: BTreeMap<String, String>,
    env: BTreeMap<String, String>,
    args: Vec<String>,
    interleaved: bool,
    limit: Duration,
    dir: tempfile::TempDir,
    /// What the binary reads on stdin (`push --password-stdin`).
    stdin: Option<String>,
    /// Secrets the test names beyond those the harness finds in the environment and inputs.
    secrets: Vec<leaks::Known>,
    /// The tokens of the OIDC issuers this job may ask.
    issued: Vec<testbed::IssuedTokens>,
}

impl Default for ActionRun {
    fn default() -> Self {
        Self::new()
    }
}

impl ActionRun {
    /// A container-action run: inputs at action.yml's defaults, args from `runs.args`, and the
    /// runner's environment for a push to main of octo-org/payments.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("e2e-run-")
            .tempdir()
            .expect("temp dir");
        let home = dir.path().join("home");
        let workspace = dir.path().join("workspace");
        let files = dir.path().join("file_commands");
        for d in [&home, &workspace, &files] {
            std::fs::create_dir_all(d).expect("create run dirs");
        }
        let inputs = declared_inputs()
            .into_iter()
            .map(|i| (i.name, i.default.unwrap_or_default()))
            .collect();
        let mut env = BTreeMap::new();
        let mut set = |k: &str, v: String| {
            env.insert(k.to_owned(), v);
        };
        set(
            "PATH",
            std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into()),
        );
        set("HOME", home.display().to_string());
        set("CI", "true".into());
        set("GITHUB_ACTIONS", "true".into());
        set("RUNNER_OS", "Linux".into());
        set("RUNNER_TEMP", dir.path().display().to_string());
        set("GITHUB_WORKSPACE", workspace.display().to_string());
        set(
            "GITHUB_OUTPUT",
            files.join("set_output").display().to_string(),
        );
        set("GITHUB_ENV", files.join("set_env").display().to_string());
        set(
            "GITHUB_STEP_SUMMARY",
            files.join("step_summary").display().to_string(),
        );
        set("GITHUB_REPOSITORY", REPO.into());
        set("GITHUB_REPOSITORY_OWNER", "octo-org".into());
        set("GITHUB_REF", "refs/heads/main".into());
        set("GITHUB_RUN_ID", unique_run_id());
        set("GITHUB_RUN_ATTEMPT", "1".into());
        set(
            "GITHUB_SHA",
            "3f1e2d4c5b6a798812f0e1d2c3b4a5968778695a".into(),
        );
        set("GITHUB_EVENT_NAME", "push".into());
        // The runner creates the command files before the step starts.
        for f in ["set_output", "set_env", "step_summary"] {
            std::fs::write(files.join(f), "").expect("create runner file");
        }
        ActionRun {
            inputs,
            env,
            args: runs_args(),
            interleaved: false,
            limit: RUN_LIMIT,
            dir,
            stdin: None,
            secrets: Vec::new(),
            issued: Vec::new(),
        }
    }

    /// A plain CLI run: no runner environment, no inputs, just these arguments.
    pub fn cli<I: IntoIterator<Item = S>, S: Into<String>>(args: I) -> Self {
        let mut run = ActionRun::new();
        run.inputs.clear();
        run.env.retain(|k, _| k == "PATH" || k == "HOME");
        run.args = args.into_iter().map(Into::into).collect();
        run
    }

    /// A `with:` input (overrides the default).
    pub fn with(mut self, name: &str, value: &str) -> Self {
        assert!(
            declared_inputs().iter().any(|d| d.name == name),
            "action.yml declares no input `{name}`"
        );
        self.inputs.insert(name.to_owned(), value.to_owned());
        self
    }

    /// An environment variable (job `env:`, or a runner variable overridden).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Removes a variable the harness sets by default.
    pub fn without_env(mut self, key: &str) -> Self {
        self.env.remove(key);
        self
    }

    /// The job has `permissions: id-token: write`, served by this issuer.
    pub fn oidc(mut self, issuer: &testbed::OidcIssuer) -> Self {
        let url = issuer.request_url();
        let token = issuer.request_token().to_owned();
        self.issued.push(issuer.issued());
        self.env("ACTIONS_ID_TOKEN_REQUEST_URL", &url)
            .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", &token)
    }

    /// A secret the run may use but must never show (see `leaks.rs` for those found without it).
    pub fn secret(mut self, what: &str, value: &str) -> Self {
        assert!(
            value.len() >= 8,
            "{what}: a secret this short cannot be checked: {value:?}"
        );
        self.secrets.push(leaks::Known::new(what, value));
        self
    }

    /// `password` on the binary's stdin, as `push --password-stdin` reads it; a secret.
    pub fn password_stdin(mut self, password: &str) -> Self {
        self.stdin = Some(format!("{password}\n"));
        self.secret("the password fed to --password-stdin", password)
    }

    /// AWS calls go to this endpoint (moto, or a fault proxy).
    pub fn aws(self, endpoint: &str) -> Self {
        self.env("AWS_ENDPOINT_URL", endpoint)
    }

    /// Replace the argument list.
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// Send stdout and stderr to one file, in write order (the order the runner would see them
    /// when each write is flushed). `Run::combined` holds the log; `stdout` then holds its lines
    /// starting with `::` and `stderr` the rest.
    pub fn interleaved(mut self) -> Self {
        self.interleaved = true;
        self
    }

    /// Kill the run after `limit` instead of `RUN_LIMIT` (for runs that wait on purpose).
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.limit = limit;
        self
    }

    /// A scratch directory that lives as long as this run (for token and policy files).
    pub fn scratch(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Writes `contents` to a file in the scratch directory and returns its path.
    pub fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).expect("write scratch file");
        path
    }

    /// What `GITHUB_RUN_ID` is for this run.
    pub fn run_id(&self) -> String {
        self.env.get("GITHUB_RUN_ID").cloned().unwrap_or_default()
    }

    /// Runs the binary to completion (at most `RUN_LIMIT`, or the run's `timeout`).
    pub async fn run(self) -> Run {
        self.spawn().finish().await
    }

    /// Starts the binary and returns at once: the test acts on the running process (a signal)
    /// and then `finish`es it.
    pub fn spawn(self) -> Running {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.env_clear()
            .args(&self.args)
            .current_dir(self.dir.path().join("workspace"))
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .kill_on_drop(true);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        for (name, value) in &self.inputs {
            cmd.env(input_var(name), value);
        }
        let log_path = self.dir.path().join("combined.log");
        if self.interleaved {
            let log = std::fs::File::create(&log_path).expect("create log");
            cmd.stdout(Stdio::from(log.try_clone().expect("dup log")))
                .stderr(Stdio::from(log));
        } else {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        let started = std::time::Instant::now();
        // `Command::output` would replace the shared log with pipes: wait on the child instead.
        let mut child = cmd.spawn().expect("spawn the binary");
        if let (Some(text), Some(mut pipe)) = (self.stdin.clone(), child.stdin.take()) {
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let _ = pipe.write_all(text.as_bytes()).await;
            });
        }
        Running {
            child,
            started,
            log_path,
            action: self,
        }
    }
}

/// A run in progress (`ActionRun::spawn`).
pub struct Running {
    child: tokio::process::Child,
    started: std::time::Instant,
    log_path: PathBuf,
    action: ActionRun,
}

impl Running {
    /// Sends `signal` (`INT`, `TERM`, ...) to the process, as the runner does to a cancelled step.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("the run is still going").to_string();
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {pid} failed");
    }

    /// Whether the process has ended.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits for the process to end (at most the run's limit from now) and reads what it left.
    pub async fn finish(self) -> Run {
        let Running {
            child,
            started,
            log_path,
            action: this,
        } = self;
        let limit = this.limit;
        let output = tokio::time::timeout(limit, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("{} {:?} did not finish within {limit:?}", BIN, this.args))
            .expect("wait for the binary");
        let elapsed = started.elapsed();
        let (stdout, stderr, combined) = if this.interleaved {
            let log = std::fs::read_to_string(&log_path).expect("read log");
            let (cmds, rest): (Vec<&str>, Vec<&str>) =
                log.lines().partition(|l| l.trim_start().starts_with("::"));
            (lines_text(&cmds), lines_text(&rest), log)
        } else {
            let out = String::from_utf8_lossy(&output.stdout).into_owned();
            let err = String::from_utf8_lossy(&output.stderr).into_owned();
            (out, err, String::new())
        };
        let read = |var: &str| {
            this.env
                .get(var)
                .map(|p| std::fs::read_to_string(p).unwrap_or_default())
                .unwrap_or_default()
        };
        let output_file = read("GITHUB_OUTPUT");
        let env_file = read("GITHUB_ENV");
        let summary = read("GITHUB_STEP_SUMMARY");
        let (known, rules) = (this.known_secrets(), this.secret_rules());
        let run = Run {
            code: output.status.code().unwrap_or(-1),
            outputs: parse_runner_file(&output_file),
            env_file: parse_runner_file(&env_file),
            output_file,
            env_file_text: env_file,
            summary,
            stdout,
            stderr,
            combined,
            elapsed,
            args: this.args,
        };
        // `E2E_DUMP=1 cargo test --test ... -- --nocapture` shows every run, passing or not.
        if std::env::var_os("E2E_DUMP").is_some() {
            eprintln!("{}", run.dump());
        }
        leaks::check_run(&run, &known, rules);
        run
    }
}

impl ActionRun {
    /// The secrets this run was given: in the environment, in the inputs, in a token file, on
    /// stdin, served by its issuers, or named by the test.
    fn known_secrets(&self) -> Vec<leaks::Known> {
        let mut known = self.secrets.clone();
        for var in leaks::SECRET_VARS {
            if let Some(v) = self.env.get(var) {
                known.push(leaks::Known::new(var, v.as_str()));
            }
        }
        if let Some(token) = self.inputs.get("github-token") {
            known.push(leaks::Known::new("the github-token input", token.as_str()));
        }
        if let Some(path) = self
            .inputs
            .get("web-identity-token-file")
            .filter(|p| !p.is_empty())
        {
            let path = self.dir.path().join("workspace").join(path);
            if let Ok(token) = std::fs::read_to_string(path) {
                known.push(leaks::Known::new(
                    "the web-identity token file",
                    token.trim(),
                ));
            }
        }
        for issued in &self.issued {
            known.extend(
                issued
                    .all()
                    .into_iter()
                    .map(|jwt| leaks::Known::new("an OIDC token the issuer served", jwt)),
            );
        }
        known
    }

    fn secret_rules(&self) -> leaks::Rules {
        let env_may_hold = self
            .inputs
            .get("output-env-credentials")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
            || self.args.iter().any(|a| a == "--output-env-credentials");
        leaks::Rules {
            env_may_hold,
            under_actions: self.env.get("GITHUB_ACTIONS").is_some_and(|v| v == "true"),
        }
    }
}

fn lines_text(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// What one run produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// Both streams in write order (only for `interleaved()` runs).
    pub combined: String,
    /// `GITHUB_OUTPUT`, parsed: (name, value) in file order.
    pub outputs: Vec<(String, String)>,
    pub output_file: String,
    /// `GITHUB_ENV`, parsed.
    pub env_file: Vec<(String, String)>,
    pub env_file_text: String,
    pub summary: String,
    pub elapsed: Duration,
    pub args: Vec<String>,
}

impl Run {
    /// The last value of output `name`.
    pub fn output(&self, name: &str) -> Option<&str> {
        self.outputs
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The last value GITHUB_ENV gives `name`.
    pub fn exported(&self, name: &str) -> Option<&str> {
        self.env_file
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Everything the step printed, for failure messages.
    pub fn dump(&self) -> String {
        format!(
            "--- {:?} exit {} ({:?}) ---\n--- stdout ---\n{}--- stderr ---\n{}--- combined ---\n{}--- GITHUB_OUTPUT ---\n{}--- GITHUB_ENV ---\n{}--- summary ---\n{}",
            self.args,
            self.code,
            self.elapsed,
            self.stdout,
            self.stderr,
            self.combined,
            self.output_file,
            self.env_file_text,
            self.summary
        )
    }

    /// Asserts the exit code, showing everything when it differs.
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit code\n{}", self.dump());
        self
    }

    /// Asserts stderr contains every one of `needles`.
    pub fn assert_stderr_has(&self, needles: &[&str]) -> &Self {
        for n in needles {
            assert!(
                self.stderr.contains(n),
                "stderr lacks {n:?}\n{}",
                self.dump()
            );
        }
        self
    }

    /// The `error:` line (the headline) and the lines up to the end of stderr.
    pub fn error_block(&self) -> &str {
        match self.stderr.find("error: ") {
            Some(i) => &self.stderr[i..],
            None => panic!("stderr has no `error:` block\n{}", self.dump()),
        }
    }

    /// The text of the `hint:` paragraph, continuation lines joined with single spaces.
    pub fn hint(&self) -> String {
        let block = self.error_block();
        let Some(i) = block.find("\nhint: ") else {
            panic!("the error has no `hint:`\n{}", self.dump())
        };
        block[i + 7..]
            .lines()
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The `::error ...::message` annotations on stdout: (properties, message unescaped).
    pub fn error_annotations(&self) -> Vec<(String, String)> {
        self.stdout
            .lines()
            .filter_map(|l| l.strip_prefix("::error"))
            .filter_map(|rest| {
                let (props, msg) = rest.split_once("::")?;
                Some((props.trim().to_owned(), unescape_data(msg)))
            })
            .collect()
    }

    /// Asserts one `::error` annotation titled `title` whose message contains `text`.
    pub fn assert_annotation(&self, title: &str, text: &str) -> &Self {
        let found = self
            .error_annotations()
            .iter()
            .any(|(props, msg)| props.contains(&format!("title={title}")) && msg.contains(text));
        assert!(
            found,
            "no ::error annotation titled {title:?} containing {text:?}\n{}",
            self.dump()
        );
        self
    }

    /// The values of `::add-mask::` commands on stdout, unescaped, in order.
    pub fn masks(&self) -> Vec<String> {
        self.stdout
            .lines()
            .filter_map(|l| l.strip_prefix("::add-mask::"))
            .map(unescape_data)
            .collect()
    }

    /// Asserts nothing reached the runner's files: no outputs, no exported variables.
    pub fn assert_nothing_written(&self) -> &Self {
        assert!(
            self.output_file.is_empty(),
            "GITHUB_OUTPUT was written\n{}",
            self.dump()
        );
        assert!(
            self.env_file_text.is_empty(),
            "GITHUB_ENV was written\n{}",
            self.dump()
        );
        self
    }

    /// Asserts stdout holds only workflow commands, none of them `::set-output` or `::save-state`.
    pub fn assert_stdout_only_commands(&self) -> &Self {
        for line in self.stdout.lines() {
            assert!(
                line.starts_with("::"),
                "stdout line is not a workflow command: {line:?}\n{}",
                self.dump()
            );
        }
        self
    }
}

/// The runner's unescaping of command data.
pub fn unescape_data(s: &str) -> String {
    s.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%25", "%")
}

/// Parses a `GITHUB_OUTPUT` / `GITHUB_ENV` file as the runner does: `NAME<<DELIMITER` heredocs
/// (the value is every line up to the one equal to the delimiter) and `NAME=VALUE` lines.
/// Panics on a malformed file, which the runner would reject too.
pub fn parse_runner_file(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.split('\n').peekable();
    while let Some(line) = lines.next() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let heredoc = line.find("<<");
        let equals = line.find('=');
        match (heredoc, equals) {
            (Some(h), e) if e.is_none_or(|e| h < e) => {
                let (name, delimiter) = (&line[..h], &line[h + 2..]);
                assert!(
                    !name.is_empty() && !delimiter.is_empty(),
                    "malformed heredoc header {line:?} in\n{text}"
                );
                let mut value = Vec::new();
                loop {
                    let Some(next) = lines.next() else {
                        panic!("heredoc {name} never closed by {delimiter:?} in\n{text}")
                    };
                    let next = next.strip_suffix('\r').unwrap_or(next);
                    if next == delimiter {
                        break;
                    }
                    value.push(next);
                }
                out.push((name.to_owned(), value.join("\n")));
            }
            (_, Some(e)) => out.push((line[..e].to_owned(), line[e + 1..].to_owned())),
            _ => panic!("line {line:?} is neither NAME=VALUE nor NAME<<DELIMITER in\n{text}"),
        }
    }
    out
}
