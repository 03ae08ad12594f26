//! `oidc-ecs-deploy trust-policy`: writes the least-privilege trust policy for one repository:
//! the GitHub provider, `sts:AssumeRoleWithWebIdentity`, the audience, and the exact `sub` of
//! every branch and environment allowed to deploy, nothing broader.
//!
//! Exact subjects go under `StringEquals`. Branch or environment patterns containing `*` or `?`
//! go under `StringLike`, in a second statement: conditions in one statement AND together, so
//! putting both keys in one statement would demand that a job match an exact subject *and* a
//! pattern. Note that IAM's `*` also matches '/', so `release/*` admits `release/a/b` too.

use serde_json::{Value, json};

use super::trust::{ASSUME_ACTION, GITHUB_PROVIDER};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySpec {
    pub partition: String,
    pub account: String,
    pub owner: String,
    pub repo: String,
    pub branches: Vec<String>,
    pub environments: Vec<String>,
    /// (owner_id, repo_id): write subjects in the immutable `OWNER@ID/REPO@ID` form.
    pub id_form: Option<(String, String)>,
    pub audience: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyGenError {
    #[error(
        "name at least one branch or environment to admit: a policy without them would admit every \
         job of {owner}/{repo}, pull requests included"
    )]
    NothingToAdmit { owner: String, repo: String },
    #[error("the account {0:?} is not a 12-digit AWS account ID")]
    BadAccount(String),
    #[error("the partition {0:?} is not an AWS partition (aws, aws-cn, aws-us-gov, ...)")]
    BadPartition(String),
    #[error("the {what} {value:?} is not a GitHub name (letters, digits, '-', '_' and '.')")]
    BadName { what: &'static str, value: String },
    #[error("the {what} ID {value:?} is not a number")]
    BadId { what: &'static str, value: String },
    #[error("the {what} {value:?} {problem}")]
    BadContext {
        what: &'static str,
        value: String,
        problem: &'static str,
    },
    #[error("an empty {0} name was given; leave it out or name one")]
    EmptyContext(&'static str),
    #[error("the audience is empty; GitHub's default for AWS is sts.amazonaws.com")]
    EmptyAudience,
}

/// A complete trust-policy document for `spec`.
pub fn generate(spec: &PolicySpec) -> Result<Value, PolicyGenError> {
    validate(spec)?;
    let repo_part = match &spec.id_form {
        Some((oid, rid)) => format!("{}@{oid}/{}@{rid}", spec.owner, spec.repo),
        None => format!("{}/{}", spec.owner, spec.repo),
    };
    let branch_subs = spec.branches.iter().map(|b| {
        let b = b.trim();
        format!(
            "repo:{repo_part}:ref:refs/heads/{}",
            b.strip_prefix("refs/heads/").unwrap_or(b)
        )
    });
    let env_subs = spec
        .environments
        .iter()
        .map(|e| format!("repo:{repo_part}:environment:{}", e.trim()));
    let (mut exact, mut patterns): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    for sub in branch_subs.chain(env_subs) {
        let list = if sub.contains(['*', '?']) {
            &mut patterns
        } else {
            &mut exact
        };
        // In a 2012-10-17 policy `${` starts a variable; `${$}` is IAM's literal '$'.
        let sub = sub.replace("${", "${$}{");
        if !list.contains(&sub) {
            list.push(sub);
        }
    }

    let provider_arn = format!(
        "arn:{}:iam::{}:oidc-provider/{GITHUB_PROVIDER}",
        spec.partition, spec.account
    );
    let aud_key = format!("{GITHUB_PROVIDER}:aud");
    let sub_key = format!("{GITHUB_PROVIDER}:sub");
    let one_or_many = |v: Vec<String>| if v.len() == 1 { json!(v[0]) } else { json!(v) };
    let statement = |sid: &str, condition: Value| {
        json!({
            "Sid": sid,
            "Effect": "Allow",
            "Principal": { "Federated": provider_arn },
            "Action": ASSUME_ACTION,
            "Condition": condition,
        })
    };
    let mut statements = Vec::new();
    if !exact.is_empty() {
        statements.push(statement(
            "GitHubActionsExactSubjects",
            json!({ "StringEquals": { &aud_key: spec.audience, &sub_key: one_or_many(exact) } }),
        ));
    }
    if !patterns.is_empty() {
        statements.push(statement(
            "GitHubActionsSubjectPatterns",
            json!({
                "StringEquals": { &aud_key: spec.audience },
                "StringLike": { &sub_key: one_or_many(patterns) },
            }),
        ));
    }
    Ok(json!({ "Version": "2012-10-17", "Statement": statements }))
}

fn validate(spec: &PolicySpec) -> Result<(), PolicyGenError> {
    if !(spec.account.len() == 12 && spec.account.bytes().all(|b| b.is_ascii_digit())) {
        return Err(PolicyGenError::BadAccount(spec.account.clone()));
    }
    let p = &spec.partition;
    if !(p.starts_with("aws") && p.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')) {
        return Err(PolicyGenError::BadPartition(p.clone()));
    }
    for (what, value) in [("owner", &spec.owner), ("repository", &spec.repo)] {
        if value.is_empty()
            || !value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            return Err(PolicyGenError::BadName {
                what,
                value: value.clone(),
            });
        }
    }
    if let Some((oid, rid)) = &spec.id_form {
        for (what, value) in [("owner", oid), ("repository", rid)] {
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(PolicyGenError::BadId {
                    what,
                    value: value.clone(),
                });
            }
        }
    }
    if spec.audience.trim().is_empty() {
        return Err(PolicyGenError::EmptyAudience);
    }
    let branches: Vec<&str> = spec
        .branches
        .iter()
        .map(|b| b.trim())
        .filter(|b| !b.is_empty())
        .collect();
    let environments: Vec<&str> = spec
        .environments
        .iter()
        .map(|e| e.trim())
        .filter(|e| !e.is_empty())
        .collect();
    if branches.len() != spec.branches.len() || environments.len() != spec.environments.len() {
        let what = if branches.len() != spec.branches.len() {
            "branch"
        } else {
            "environment"
        };
        return Err(PolicyGenError::EmptyContext(what));
    }
    if branches.is_empty() && environments.is_empty() {
        return Err(PolicyGenError::NothingToAdmit {
            owner: spec.owner.clone(),
            repo: spec.repo.clone(),
        });
    }
    for b in branches {
        // git forbids these in ref names (git check-ref-format); ':' would also break `sub`.
        if b.chars()
            .any(|c| c.is_whitespace() || c.is_control() || "~^:\\".contains(c))
        {
            return Err(PolicyGenError::BadContext {
                what: "branch",
                value: b.to_string(),
                problem: "contains a character git does not allow in branch names (whitespace, control, ~ ^ : \\)",
            });
        }
    }
    for e in environments {
        if e.chars().any(char::is_control) {
            return Err(PolicyGenError::BadContext {
                what: "environment",
                value: e.to_string(),
                problem: "contains a control character",
            });
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "policygen_tests.rs"]
mod tests;
