//! Inputs: the action's `INPUT_*` variables or the CLI's flags become `RawInputs` (strings, with
//! action.yml's defaults applied), and `RawInputs` become a validated `Config` in one pass that
//! reports every problem at once. Nothing here touches AWS: a bad input is caught before the
//! first call that could change anything.
//!
//! The input names, defaults and help text come from `action.yml`, embedded at build time, so the
//! contract the runner reads and the one the binary enforces are the same file.

mod rules;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use crate::envvars::EnvVars;
use crate::identity::guards::Guards;
use crate::identity::trust::TrustPolicy;

pub use rules::{ImageSource, RoleArn, Severity};

/// The action's metadata file, the single source of the input contract.
pub const ACTION_YML: &str = include_str!("../action.yml");

/// One input as action.yml declares it.
#[derive(Debug, Clone)]
pub struct InputDecl {
    pub name: String,
    pub description: String,
    pub required: bool,
    pub default: Option<String>,
}

/// The inputs action.yml declares, in file order.
pub fn declared_inputs() -> &'static [InputDecl] {
    static DECLS: OnceLock<Vec<InputDecl>> = OnceLock::new();
    DECLS.get_or_init(|| {
        parse_action_inputs(ACTION_YML).expect("action.yml embedded in the binary is valid")
    })
}

fn parse_action_inputs(yaml: &str) -> Result<Vec<InputDecl>, String> {
    #[derive(serde::Deserialize)]
    struct Action {
        inputs: serde_yaml_ng::Mapping,
    }
    #[derive(serde::Deserialize)]
    struct Input {
        #[serde(default)]
        description: String,
        #[serde(default)]
        required: bool,
        default: Option<serde_yaml_ng::Value>,
    }
    let action: Action = serde_yaml_ng::from_str(yaml).map_err(|e| e.to_string())?;
    action
        .inputs
        .into_iter()
        .map(|(name, body)| {
            let name = name
                .as_str()
                .ok_or("input name is not a string")?
                .to_owned();
            let input: Input =
                serde_yaml_ng::from_value(body).map_err(|e| format!("{name}: {e}"))?;
            let default = match input.default {
                None => None,
                Some(serde_yaml_ng::Value::String(s)) => Some(s),
                Some(other) => Some(
                    serde_yaml_ng::to_string(&other)
                        .map_err(|e| e.to_string())?
                        .trim()
                        .to_owned(),
                ),
            };
            Ok(InputDecl {
                name,
                description: input.description.trim().to_owned(),
                required: input.required,
                default,
            })
        })
        .collect()
}

/// The environment variable the runner sets for an input: upper-cased, spaces to `_`, hyphens kept.
pub fn input_env_name(input: &str) -> String {
    format!("INPUT_{}", input.replace(' ', "_").to_uppercase())
}

/// Input values as strings, trimmed, after defaults. Blank counts as absent, as in
/// `@actions/core`'s `getInput`.
#[derive(Clone, Default)]
pub struct RawInputs {
    values: BTreeMap<String, String>,
}

impl std::fmt::Debug for RawInputs {
    // github-token is an input: never print values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.values.keys()).finish()
    }
}

impl RawInputs {
    /// Action mode: read `INPUT_<NAME>` for every declared input, and apply action.yml's default
    /// when the variable is absent (the runner fills defaults, but `act` and hand-driven runs may not).
    pub fn from_action_env(env: &EnvVars) -> Self {
        Self::collect(|name| env.get(&input_env_name(name)).map(str::to_owned))
    }

    /// CLI mode: the flags given, by input name; absent ones take action.yml's default.
    pub fn from_flags(flags: &BTreeMap<String, String>) -> Self {
        Self::collect(|name| flags.get(name).cloned())
    }

    fn collect(mut given: impl FnMut(&str) -> Option<String>) -> Self {
        let mut values = BTreeMap::new();
        for decl in declared_inputs() {
            let value = match given(&decl.name) {
                Some(v) => Some(v),
                // An expression default (`${{ github.token }}`) only means something to the runner.
                None => decl.default.clone().filter(|d| !d.contains("${{")),
            };
            if let Some(v) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
                values.insert(decl.name.clone(), v);
            }
        }
        RawInputs { values }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        debug_assert!(
            declared_inputs().iter().any(|d| d.name == name),
            "undeclared input {name}"
        );
        self.values.get(name).map(String::as_str)
    }
}

/// Everything the run needs, validated.
#[derive(Debug)]
pub struct Config {
    pub identity: IdentityConfig,
    pub image: Option<ImageConfig>,
    pub rollout: Option<RolloutConfig>,
    pub report: ReportConfig,
}

#[derive(Debug)]
pub struct IdentityConfig {
    /// `None`: use the AWS credentials already in the environment.
    pub role: Option<RoleArn>,
    pub region: String,
    pub audience: String,
    pub session_name: String,
    pub duration: Duration,
    pub token_file: Option<PathBuf>,
    pub trust_policy: Option<TrustPolicy>,
    pub guards: Guards,
    pub output_env_credentials: bool,
    pub mask_account_id: bool,
}

#[derive(Debug)]
pub struct ImageConfig {
    pub source: ImageSource,
    pub repository: String,
    pub tags: Vec<String>,
    pub registry_endpoint: Option<String>,
    pub create_repository: bool,
    pub scan_threshold: Option<Severity>,
    /// How long the scan gate waits for a verdict (`scan-wait-minutes`).
    pub scan_wait: Duration,
    /// `dry-run`: decide and print the plan, create and upload nothing.
    pub dry_run: bool,
}

#[derive(Debug)]
pub struct RolloutConfig {
    pub cluster: String,
    pub services: Vec<String>,
    pub container_name: Option<String>,
    pub containers: Vec<(String, String)>,
    pub task_definition: Option<PathBuf>,
    pub wait: Duration,
    pub force_new_deployment: bool,
    pub rollback: bool,
    pub dry_run: bool,
    pub health_check_url: Option<String>,
    pub health_check_successes: u32,
    /// `wait-until`: when the wait may return (steady, traffic-shifted, started).
    pub wait_until: crate::rollout::deployment_verdict::WaitUntil,
    /// `when-busy`: a deployment this run did not start is in progress on a service.
    pub when_busy: crate::rollout::busy::WhenBusy,
    /// `show-task-logs`: quote stopped tasks' last log lines in a failure report.
    pub show_task_logs: bool,
}

#[derive(Debug)]
pub struct ReportConfig {
    pub github_token: Option<crate::secret::Secret>,
    pub deployment_environment: Option<String>,
    pub environment_url: Option<String>,
}

/// One thing wrong with one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputProblem {
    pub input: String,
    pub problem: String,
    pub expected: String,
}

impl std::fmt::Display for InputProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "input `{}`: {}", self.input, self.problem)?;
        if !self.expected.is_empty() {
            write!(f, "; expected {}", self.expected)?;
        }
        Ok(())
    }
}

/// Every problem found, so a user fixes them in one round.
#[derive(Debug, thiserror::Error)]
#[error("{} invalid input{}", .0.len(), if .0.len() == 1 { "" } else { "s" })]
pub struct InputErrors(pub Vec<InputProblem>);

impl Config {
    /// Validate all inputs. `env` supplies the run's context (repository, run id, SHA) for
    /// defaults and the working directory's files for paths.
    pub fn validate(raw: &RawInputs, env: &EnvVars) -> Result<Config, InputErrors> {
        let mut v = rules::Validator::new(raw, env);
        let identity = v.identity();
        let image = v.image();
        let rollout = v.rollout();
        let report = v.report();
        v.finish()?;
        Ok(Config {
            identity: identity.expect("no problems means identity validated"),
            image: image.flatten(),
            rollout: rollout.flatten(),
            report: report.expect("no problems means report validated"),
        })
    }
}

#[cfg(test)]
#[path = "inputs/tests.rs"]
mod tests;
