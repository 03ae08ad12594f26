//! The rule for each input: what a valid value looks like, and the words of the error when it is
//! not. `Validator` walks the inputs stage by stage and records every problem instead of stopping
//! at the first, so `Config::validate` can report them all.

use std::path::PathBuf;
use std::time::Duration;

use super::ecs_names::{self, NAME_RULE};
use super::raw_text;
use super::{
    IdentityConfig, ImageConfig, InputErrors, InputProblem, RawInputs, ReportConfig, RolloutConfig,
};
use crate::envvars::EnvVars;
use crate::identity::guards::{GuardError, Guards};
use crate::identity::trust::TrustPolicy;
use crate::image::push::{valid_repository, valid_tag};
use crate::image::{SourceError, SourceRef};
use crate::rollout::busy::WhenBusy;
use crate::secret::Secret;

/// An IAM role ARN, split into the parts later stages need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleArn {
    pub arn: String,
    pub partition: String,
    pub account: String,
    pub name: String,
}

impl std::fmt::Display for RoleArn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.arn)
    }
}

const PARTITIONS: [&str; 3] = ["aws", "aws-cn", "aws-us-gov"];

/// Parse `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`; the error says which part is wrong.
pub fn parse_role_arn(text: &str) -> Result<RoleArn, String> {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" {
        return Err(format!("`{text}` is not an ARN"));
    }
    let (partition, service, region, account, resource) =
        (parts[1], parts[2], parts[3], parts[4], parts[5]);
    if !PARTITIONS.contains(&partition) {
        return Err(format!(
            "partition `{partition}` is not one of aws, aws-cn, aws-us-gov"
        ));
    }
    if service != "iam" {
        return Err(format!("service `{service}` is not `iam`"));
    }
    if !region.is_empty() {
        return Err(format!(
            "IAM ARNs have no region, but this one names `{region}`"
        ));
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "account `{account}` is not a 12-digit AWS account id"
        ));
    }
    let Some(path_and_name) = resource.strip_prefix("role/") else {
        return Err(format!(
            "resource `{resource}` is not a role (expected `role/NAME`)"
        ));
    };
    let name = path_and_name.rsplit('/').next().unwrap_or_default();
    let valid_name_char = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
    if name.is_empty() || name.len() > 64 || !name.chars().all(valid_name_char) {
        return Err(format!(
            "role name `{name}` must be 1-64 characters of letters, digits and `+=,.@_-`"
        ));
    }
    let path = &path_and_name[..path_and_name.len() - name.len()];
    if !path.chars().all(|c| c == '/' || ('!'..='~').contains(&c)) || path.contains("//") {
        return Err(format!(
            "role path `/{path}` has characters IAM does not allow"
        ));
    }
    Ok(RoleArn {
        arn: text.to_owned(),
        partition: partition.to_owned(),
        account: account.to_owned(),
        name: name.to_owned(),
    })
}

/// Region codes look like `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`.
pub fn region_is_valid(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return false;
    };
    parts.len() >= 3
        && first.len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
}

/// The partition a region belongs to, to catch a role of one partition used with a region of another.
fn region_partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

fn session_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)
}

/// The default session name: `gha-<repo>-<run id>-<attempt>`, sanitised for STS and cut to 64
/// characters by shortening the repository part, so the run id (what an auditor searches
/// CloudTrail for) always survives.
pub fn default_session_name(env: &EnvVars) -> String {
    let repo = env
        .non_empty("GITHUB_REPOSITORY")
        .and_then(|r| r.rsplit('/').next())
        .unwrap_or("local");
    let suffix = match (
        env.non_empty("GITHUB_RUN_ID"),
        env.non_empty("GITHUB_RUN_ATTEMPT"),
    ) {
        (Some(id), Some(attempt)) => format!("-{id}-{attempt}"),
        (Some(id), None) => format!("-{id}"),
        _ => String::new(),
    };
    let sanitise = |s: &str| {
        s.chars()
            .map(|c| if session_name_char(c) { c } else { '-' })
            .collect::<String>()
    };
    let (repo, suffix) = (sanitise(repo), sanitise(&suffix));
    let room = 64usize.saturating_sub("gha-".len() + suffix.len());
    let repo: String = repo.chars().take(room).collect();
    format!("gha-{repo}{suffix}")
}

/// Where the image to push comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// An OCI layout (directory or tar) or a `docker save` archive on disk.
    Local(SourceRef),
    DockerDaemon {
        name: String,
    },
    /// Promote a tag already in the repository.
    Ecr {
        tag: String,
    },
}

fn parse_image_source(text: &str) -> Result<ImageSource, String> {
    match text.split_once(':') {
        Some(("docker-daemon", "")) | Some(("ecr", "")) => {
            Err(format!("`{text}` names nothing after the colon"))
        }
        Some(("docker-daemon", name)) => Ok(ImageSource::DockerDaemon {
            name: name.to_owned(),
        }),
        Some(("ecr", tag)) if valid_tag(tag) => Ok(ImageSource::Ecr {
            tag: tag.to_owned(),
        }),
        Some(("ecr", tag)) => Err(format!("`{tag}` is not a valid image tag")),
        _ => SourceRef::parse(text)
            .map(ImageSource::Local)
            .map_err(|e| match e {
                SourceError::BadReference { reason, .. } => reason,
                other => other.to_string(),
            }),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

fn parse_severity(text: &str) -> Option<Severity> {
    Some(match text.to_ascii_uppercase().as_str() {
        "INFORMATIONAL" => Severity::Informational,
        "LOW" => Severity::Low,
        "MEDIUM" => Severity::Medium,
        "HIGH" => Severity::High,
        "CRITICAL" => Severity::Critical,
        _ => return None,
    })
}

/// Split a list input: newlines or commas separate items; blanks are dropped.
pub fn split_list(text: &str) -> Vec<String> {
    text.split(['\n', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Walks the inputs and records problems; each stage method returns `None` when that stage had one.
pub(super) struct Validator<'a> {
    raw: &'a RawInputs,
    env: &'a EnvVars,
    problems: Vec<InputProblem>,
    /// Inputs whose text itself is wrong (`raw_text`): that one problem is all they report, so
    /// no other error repeats their hidden characters.
    tainted: Vec<String>,
}

impl<'a> Validator<'a> {
    pub fn new(raw: &'a RawInputs, env: &'a EnvVars) -> Self {
        let mut v = Validator {
            raw,
            env,
            problems: Vec::new(),
            tainted: Vec::new(),
        };
        for (input, value) in &raw.values {
            if let Some((problem, expected)) = raw_text::problem(input, value) {
                v.problem(input, problem, expected);
                v.tainted.push(input.clone());
            }
        }
        v
    }

    pub fn finish(self) -> Result<(), InputErrors> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(InputErrors(self.problems))
        }
    }

    fn problem(&mut self, input: &str, problem: impl Into<String>, expected: impl Into<String>) {
        if self.tainted.iter().any(|t| t == input) {
            return;
        }
        self.problems.push(InputProblem {
            input: input.to_owned(),
            problem: raw_text::bounded(&problem.into()),
            expected: expected.into(),
        });
    }

    fn get(&self, input: &str) -> Option<&'a str> {
        self.raw.get(input)
    }

    fn required(&mut self, input: &str, why: &str) -> Option<&'a str> {
        let value = self.get(input);
        if value.is_none() {
            self.problem(input, format!("is required {why}"), "");
        }
        value
    }

    /// `@actions/core`'s getBooleanInput accepts exactly these spellings; so do we.
    fn boolean(&mut self, input: &str) -> bool {
        match self.get(input) {
            None => false,
            Some("true" | "True" | "TRUE") => true,
            Some("false" | "False" | "FALSE") => false,
            Some(other) => {
                self.problem(
                    input,
                    format!("`{other}` is not a boolean"),
                    "`true` or `false`",
                );
                false
            }
        }
    }

    fn integer(
        &mut self,
        input: &str,
        range: std::ops::RangeInclusive<u64>,
        unit: &str,
    ) -> Option<u64> {
        let text = self.get(input)?;
        match text.parse::<u64>() {
            Ok(n) if range.contains(&n) => Some(n),
            _ => {
                let expected = format!(
                    "a whole number of {unit} from {} to {}",
                    range.start(),
                    range.end()
                );
                self.problem(
                    input,
                    format!("`{text}` is out of range or not a number"),
                    expected,
                );
                None
            }
        }
    }

    /// An http(s) URL (what a browser or a probe can open), or a problem naming `example`.
    fn http_url(&mut self, input: &str, example: &str) -> Option<String> {
        let url = self.get(input)?;
        if !(url.starts_with("http://") || url.starts_with("https://"))
            || url.contains(char::is_whitespace)
        {
            self.problem(
                input,
                format!("`{url}` is not an http(s) URL"),
                format!("a URL such as `{example}`"),
            );
            return None;
        }
        Some(url.to_owned())
    }

    fn existing_file(&mut self, input: &str) -> Option<PathBuf> {
        let path = PathBuf::from(self.get(input)?);
        if path.is_file() {
            Some(path)
        } else {
            let cwd = std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default();
            self.problem(
                input,
                format!(
                    "file `{}` does not exist (working directory: {cwd})",
                    path.display()
                ),
                "a path to a readable file",
            );
            None
        }
    }

    pub fn identity(&mut self) -> Option<IdentityConfig> {
        let before = self.problems.len();
        let region = self
            .required(
                "aws-region",
                "(the runner does not enforce `required: true`)",
            )
            .map(str::to_owned);
        if let Some(r) = region.as_deref().filter(|r| !region_is_valid(r)) {
            self.problem(
                "aws-region",
                format!("`{r}` is not an AWS region code"),
                "a code such as `us-east-1` or `eu-central-1`",
            );
        }
        let role = match self.get("role-to-assume").map(parse_role_arn) {
            None => None,
            Some(Ok(arn)) => Some(arn),
            Some(Err(why)) => {
                self.problem(
                    "role-to-assume",
                    why,
                    "an IAM role ARN such as `arn:aws:iam::111122223333:role/deploy`",
                );
                None
            }
        };
        if let (Some(role), Some(region)) = (&role, &region)
            && region_is_valid(region)
            && region_partition(region) != role.partition
        {
            let msg = format!(
                "the role is in partition `{}` but region `{region}` is in `{}`",
                role.partition,
                region_partition(region)
            );
            self.problem(
                "role-to-assume",
                msg,
                "a role and a region of the same partition",
            );
        }
        let audience = self
            .get("audience")
            .unwrap_or("sts.amazonaws.com")
            .to_owned();
        if audience.len() > 256
            || audience
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            self.problem(
                "audience",
                "contains whitespace or is longer than 256 characters",
                "an audience such as `sts.amazonaws.com`",
            );
        }
        let session_name = match self.get("role-session-name") {
            Some(name) if (2..=64).contains(&name.len()) && name.chars().all(session_name_char) => {
                name.to_owned()
            }
            Some(name) => {
                self.problem(
                    "role-session-name",
                    format!("`{name}` is not a valid session name"),
                    "2 to 64 characters of letters, digits and `+=,.@_-`",
                );
                String::new()
            }
            None => default_session_name(self.env),
        };
        let duration = self
            .integer("role-duration-seconds", 900..=43200, "seconds")
            .unwrap_or(3600);
        let token_file = self.existing_file("web-identity-token-file");
        let trust_policy = self.trust_policy();
        let guards = match Guards::parse(
            self.get("allowed-branches").unwrap_or(""),
            self.get("allowed-environments").unwrap_or(""),
        ) {
            Ok(g) => Some(g),
            Err(GuardError::BadPattern {
                input,
                pattern,
                problem,
                right,
            }) => {
                // `right` is a sentence of its own ("write branch names..."), not an "expected" phrase.
                self.problem(
                    input,
                    format!("the pattern {pattern:?} {problem}; {right}"),
                    "",
                );
                None
            }
        };
        if role.is_none() && self.get("role-to-assume").is_none() {
            for input in [
                "trust-policy",
                "allowed-branches",
                "allowed-environments",
                "web-identity-token-file",
            ] {
                if self.get(input).is_some() {
                    self.problem(input, "is checked against the OIDC token, which is only used with `role-to-assume`", "`role-to-assume` set as well, or this input removed");
                }
            }
        }
        let output_env_credentials = self.boolean("output-env-credentials");
        let mask_account_id = self.boolean("mask-aws-account-id");
        if self.problems.len() > before {
            return None;
        }
        Some(IdentityConfig {
            role,
            region: region?,
            audience,
            session_name,
            duration: Duration::from_secs(duration),
            token_file,
            trust_policy: trust_policy.flatten(),
            guards: guards?,
            output_env_credentials,
            mask_account_id,
        })
    }

    /// `trust-policy` is inline JSON (possibly URL-encoded) or a path to a file holding it.
    fn trust_policy(&mut self) -> Option<Option<TrustPolicy>> {
        let Some(text) = self.get("trust-policy") else {
            return Some(None);
        };
        let inline = text.starts_with('{') || text.starts_with("%7B") || text.starts_with("%7b");
        let (content, origin) = if inline {
            (text.to_owned(), "inline JSON".to_owned())
        } else {
            match std::fs::read_to_string(text) {
                Ok(c) => (c, format!("file `{text}`")),
                Err(e) => {
                    self.problem(
                        "trust-policy",
                        format!("cannot read file `{text}`: {e}"),
                        "a path to a policy JSON file, or the JSON itself",
                    );
                    return None;
                }
            }
        };
        match TrustPolicy::parse(&content) {
            Ok(p) => Some(Some(p)),
            Err(e) => {
                let cause = std::error::Error::source(&e)
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default();
                self.problem(
                    "trust-policy",
                    format!("{origin}: {e}{cause}"),
                    "a policy document, `aws iam get-role` output, or URL-encoded JSON",
                );
                None
            }
        }
    }

    pub fn image(&mut self) -> Option<Option<ImageConfig>> {
        let before = self.problems.len();
        let create_repository = self.boolean("create-repository");
        let scan_threshold = self.get("scan-severity-threshold").and_then(|t| {
            let s = parse_severity(t);
            if s.is_none() {
                self.problem(
                    "scan-severity-threshold",
                    format!("`{t}` is not a severity"),
                    "one of INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL",
                );
            }
            s
        });
        let scan_wait_minutes = self
            .integer("scan-wait-minutes", 1..=60, "minutes")
            .unwrap_or(10);
        // `rollout()` reads `dry-run` as well and reports a malformed value, once.
        let dry_run = self
            .get("dry-run")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let registry_endpoint = self.get("registry-endpoint").map(str::to_owned);
        if let Some(e) = registry_endpoint
            .as_deref()
            .filter(|e| e.contains(char::is_whitespace) || e.is_empty())
        {
            self.problem(
                "registry-endpoint",
                format!("`{e}` is not a host or URL"),
                "a registry URL such as `https://123456789012.dkr.ecr.us-east-1.amazonaws.com`",
            );
        }
        let Some(source_text) = self.get("image-source") else {
            for input in [
                "repository",
                "image-tag",
                "image-tags",
                "registry-endpoint",
                "scan-severity-threshold",
            ] {
                if self.get(input).is_some() {
                    self.problem(
                        input,
                        "is set but `image-source` is empty, so nothing would be pushed",
                        "`image-source` set as well, or this input removed",
                    );
                }
            }
            return (self.problems.len() == before).then_some(None);
        };
        let source = parse_image_source(source_text)
            .map_err(|why| self.problem("image-source", why, "`oci:DIR[:REF]`, `docker-archive:FILE`, `docker-daemon:NAME[:TAG]` or `ecr:TAG`"))
            .ok();
        if let Some(ImageSource::Local(local)) = &source
            && !local.path().exists()
        {
            let cwd = std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default();
            self.problem(
                "image-source",
                format!(
                    "`{}` does not exist (working directory: {cwd})",
                    local.path().display()
                ),
                "the path of an OCI layout (directory or tar) or a `docker save` archive",
            );
        }
        let repository = self
            .required("repository", "when `image-source` is set")
            .map(str::to_owned);
        if let Some(r) = repository.as_deref().filter(|r| !valid_repository(r)) {
            self.problem(
                "repository",
                format!("`{r}` is not a valid ECR repository name"),
                "2-256 lowercase letters, digits and `._-/`, e.g. `payments/api`",
            );
        }
        let primary = self
            .get("image-tag")
            .or(self.env.non_empty("GITHUB_SHA"))
            .map(str::to_owned);
        if primary.is_none() {
            self.problem(
                "image-tag",
                "is empty and GITHUB_SHA is not set",
                "a tag, e.g. the commit SHA",
            );
        }
        let mut tags: Vec<String> = primary.into_iter().collect();
        tags.extend(self.get("image-tags").map(split_list).unwrap_or_default());
        for tag in tags
            .iter()
            .filter(|t| !valid_tag(t))
            .cloned()
            .collect::<Vec<_>>()
        {
            self.problem(
                "image-tag",
                format!("`{tag}` is not a valid image tag"),
                "up to 128 characters of letters, digits and `_.-`, not starting with `.` or `-`",
            );
        }
        // A tag named twice (image-tag and again in image-tags) is pushed and reported once.
        let mut seen = std::collections::HashSet::new();
        tags.retain(|t| seen.insert(t.clone()));
        if self.problems.len() > before {
            return None;
        }
        Some(Some(ImageConfig {
            source: source?,
            repository: repository?,
            tags,
            registry_endpoint,
            create_repository,
            scan_threshold,
            scan_wait: Duration::from_secs(scan_wait_minutes * 60),
            dry_run,
        }))
    }

    pub fn rollout(&mut self) -> Option<Option<RolloutConfig>> {
        let before = self.problems.len();
        let wait_minutes = self
            .integer("wait-for-minutes", 1..=360, "minutes")
            .unwrap_or(30);
        let health_check_successes = self
            .integer("health-check-successes", 1..=100, "answers")
            .unwrap_or(3) as u32;
        let force_new_deployment = self.boolean("force-new-deployment");
        let rollback = self.get("rollback").is_none() || self.boolean("rollback");
        let dry_run = self.boolean("dry-run");
        let show_task_logs = self.get("show-task-logs").is_none() || self.boolean("show-task-logs");
        let health_check_url = self.http_url("health-check-url", "https://api.example.com/healthz");
        let wait_until = match self.get("wait-until").map(str::parse) {
            None => Default::default(),
            Some(Ok(until)) => until,
            Some(Err(crate::rollout::deployment_verdict::WaitUntilError(bad))) => {
                self.problem(
                    "wait-until",
                    format!("is `{bad}`"),
                    "`steady` (the default), `traffic-shifted` or `started`",
                );
                Default::default()
            }
        };
        let mut containers = Vec::new();
        // One `name=image` a line; blank lines and `#` comments skipped.
        for line in self
            .get("containers")
            .map(|c| {
                c.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
        {
            match line.split_once('=') {
                Some((name, _))
                    if containers
                        .iter()
                        .any(|(n, _): &(String, String)| n == name.trim()) =>
                {
                    self.problem(
                        "containers",
                        format!("names `{}` twice", name.trim()),
                        "one line per container",
                    )
                }
                Some((name, image)) if !name.trim().is_empty() && !image.trim().is_empty() => {
                    containers.push((name.trim().to_owned(), image.trim().to_owned()))
                }
                _ => self.problem(
                    "containers",
                    format!("line `{line}` is not `name=image`"),
                    "one `container-name=image` per line",
                ),
            }
        }
        let task_definition = self.task_definition_file();
        let when_busy = self.when_busy();
        let Some(cluster) = self.get("cluster") else {
            for input in [
                "service",
                "container-name",
                "containers",
                "task-definition",
                "health-check-url",
            ] {
                if self.get(input).is_some() {
                    self.problem(
                        input,
                        "is set but `cluster` is empty, so nothing would be deployed",
                        "`cluster` set as well, or this input removed",
                    );
                }
            }
            return (self.problems.len() == before).then_some(None);
        };
        let services = self
            .required("service", "when `cluster` is set")
            .map(split_list)
            .unwrap_or_default();
        self.ecs_names(cluster, &services, &containers);
        if self.problems.len() > before {
            return None;
        }
        Some(Some(RolloutConfig {
            cluster: cluster.to_owned(),
            services,
            container_name: self.get("container-name").map(str::to_owned),
            containers,
            task_definition,
            wait: Duration::from_secs(wait_minutes * 60),
            force_new_deployment,
            rollback,
            dry_run,
            health_check_url,
            health_check_successes,
            wait_until,
            when_busy,
            show_task_logs,
        }))
    }

    /// The cluster, services and containers are names ECS would accept, in the run's region, and
    /// each container gets one image from one input.
    fn ecs_names(&mut self, cluster: &str, services: &[String], containers: &[(String, String)]) {
        let region = self.get("aws-region").unwrap_or_default();
        let in_region = |v: &mut Self, input: &str, arn_region: Option<&str>| {
            if let Some(r) = arn_region.filter(|r| *r != region) {
                v.problem(
                    input,
                    format!("the ARN is in region `{r}` but `aws-region` is `{region}`"),
                    format!("an ARN in `{region}`, or the name alone"),
                );
            }
        };
        match ecs_names::check_cluster(cluster) {
            Ok(arn_region) => in_region(self, "cluster", arn_region),
            Err(why) => self.problem(
                "cluster",
                why,
                format!("a cluster name ({NAME_RULE}) or ARN (`arn:aws:ecs:REGION:ACCOUNT:cluster/NAME`)"),
            ),
        }
        for (i, service) in services.iter().enumerate() {
            match ecs_names::check_service(service) {
                Ok(arn_region) => in_region(self, "service", arn_region),
                Err(why) => self.problem(
                    "service",
                    why,
                    format!("service names ({NAME_RULE}) or ARNs, newline or comma separated"),
                ),
            }
            if services[..i].contains(service) {
                self.problem(
                    "service",
                    format!("names `{service}` twice"),
                    "each service once",
                );
            }
        }
        let named = self.get("container-name");
        for name in named
            .iter()
            .copied()
            .chain(containers.iter().map(|(n, _)| n.as_str()))
        {
            let input = if Some(name) == named {
                "container-name"
            } else {
                "containers"
            };
            if let Err(why) = ecs_names::check_container_name(name) {
                self.problem(
                    input,
                    why,
                    format!("a container name ({NAME_RULE}) as the task definition has it"),
                );
            }
        }
        for (_, image) in containers {
            if let Err(why) = ecs_names::check_image(image) {
                self.problem(
                    "containers",
                    why,
                    "`name=registry/repository:tag` or `name=registry/repository@sha256:...`",
                );
            }
        }
        if let Some(name) = named {
            if containers.iter().any(|(n, _)| n == name) {
                self.problem(
                    "container-name",
                    format!("`{name}` is also given an image by `containers`"),
                    "each container in one of the two inputs",
                );
            }
            if self.get("image-source").is_none() {
                self.problem(
                    "container-name",
                    format!("`{name}` would get the pushed image, but `image-source` is empty, so this run pushes none"),
                    "`image-source` and `repository` set as well, or the image given with `containers: name=registry/repo@sha256:...`",
                );
            }
        }
    }

    /// `task-definition`: a readable JSON or YAML file holding a task definition with a family and
    /// containers (whether its containers are the ones named is for the plan, which knows the services).
    fn task_definition_file(&mut self) -> Option<PathBuf> {
        let path = self.existing_file("task-definition")?;
        let expected = "a task definition in JSON or YAML with `family` and `containerDefinitions` (e.g. `aws ecs describe-task-definition` output)";
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                self.problem(
                    "task-definition",
                    format!("cannot read `{}`: {e}", path.display()),
                    expected,
                );
                return None;
            }
        };
        let shown = path.display().to_string();
        let def = match crate::rollout::parse_task_definition_file(&text, &shown) {
            Ok(def) => def,
            Err(e) => {
                let cause = std::error::Error::source(&e)
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default();
                self.problem("task-definition", format!("{e}{cause}"), expected);
                return None;
            }
        };
        let has_containers = def["containerDefinitions"]
            .as_array()
            .is_some_and(|c| !c.is_empty());
        if !def["family"].is_string() || !has_containers {
            self.problem(
                "task-definition",
                format!("`{shown}` has no `family` or no `containerDefinitions`"),
                expected,
            );
            return None;
        }
        Some(path)
    }

    /// `when-busy`: `wait` (the default), `refuse` or `replace`.
    fn when_busy(&mut self) -> WhenBusy {
        let text = self.get("when-busy").unwrap_or("wait");
        WhenBusy::parse(text).unwrap_or_else(|| {
            self.problem(
                "when-busy",
                format!("`{text}` is not a choice"),
                WhenBusy::CHOICES,
            );
            WhenBusy::default()
        })
    }

    pub fn report(&mut self) -> Option<ReportConfig> {
        let before = self.problems.len();
        let environment_url = self.http_url("environment-url", "https://shop.example.com");
        let github_token = self.get("github-token").map(Secret::new);
        if github_token.is_none() {
            for input in ["deployment-environment", "environment-url"] {
                if self.get(input).is_some() {
                    self.problem(input, "is set but `github-token` is empty, so no GitHub Deployment is reported", "`github-token: ${{ github.token }}` (with `permissions: deployments: write`), or this input removed");
                }
            }
        }
        if self.problems.len() > before {
            return None;
        }
        Some(ReportConfig {
            github_token,
            deployment_environment: self.get("deployment-environment").map(str::to_owned),
            environment_url,
        })
    }
}
