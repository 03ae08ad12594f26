//! The identity inputs: the role ARN and the region (and that they share a partition), the
//! audience, the session name (and its default), the session's duration, and what the OIDC token
//! is checked against (trust policy, allowed branches and environments).

use std::time::Duration;

use super::Validator;
use crate::envvars::EnvVars;
use crate::identity::guards::{GuardError, Guards};
use crate::identity::trust::TrustPolicy;
use crate::inputs::IdentityConfig;

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

impl Validator<'_> {
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
            self.only_with(
                &[
                    "trust-policy",
                    "allowed-branches",
                    "allowed-environments",
                    "web-identity-token-file",
                ],
                "is checked against the OIDC token, which is only used with `role-to-assume`",
                "`role-to-assume` set as well, or this input removed",
            );
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
}
