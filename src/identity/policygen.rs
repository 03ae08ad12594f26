//! `oidc-ecs-deploy trust-policy`: writes the least-privilege trust policy for one repository:
//! the provider of the token's issuer (GitHub.com, an enterprise-scoped issuer, or GitHub
//! Enterprise Server), `sts:AssumeRoleWithWebIdentity`, the audience, and the exact `sub` of
//! every branch and environment allowed to deploy, nothing broader. For a reusable workflow,
//! every statement also requires `job_workflow_ref` to be that workflow at that ref, so only its
//! callers are admitted (from the named repository's branches and environments, from any of its
//! jobs when only the repository is named, or from any repository when none is named).
//!
//! Exact subjects go under `StringEquals`. Branch or environment patterns containing `*` or `?`
//! go under `StringLike`, in a second statement: conditions in one statement AND together, so
//! putting both keys in one statement would demand that a job match an exact subject *and* a
//! pattern. Note that IAM's `*` also matches '/', so `release/*` admits `release/a/b` too.

use serde_json::{Map, Value, json};

use super::claims::provider_for_issuer;
use super::trust::ASSUME_ACTION;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySpec {
    pub partition: String,
    pub account: String,
    /// The tokens' issuer: `https://token.actions.githubusercontent.com[/ENTERPRISE]` or GitHub
    /// Enterprise Server's `https://HOST/_services/token`.
    pub issuer: String,
    /// Empty (with `repo`) when only `reusable_workflow` restricts the callers.
    pub owner: String,
    pub repo: String,
    pub branches: Vec<String>,
    pub environments: Vec<String>,
    /// (owner_id, repo_id): write subjects in the immutable `OWNER@ID/REPO@ID` form.
    pub id_form: Option<(String, String)>,
    pub audience: String,
    /// `OWNER/REPO/.github/workflows/FILE.yml@REF`: admit only jobs that run this reusable
    /// workflow at this ref (the token's `job_workflow_ref`).
    pub reusable_workflow: Option<String>,
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
    #[error(
        "the issuer {0:?} is not a GitHub Actions issuer: expected https://token.actions.githubusercontent.com, \
         https://token.actions.githubusercontent.com/ENTERPRISE, or GitHub Enterprise Server's \
         https://HOST/_services/token"
    )]
    BadIssuer(String),
    #[error(
        "the reusable workflow {value:?} {problem}; expected OWNER/REPO/.github/workflows/FILE.yml@REF \
         with REF a full ref (refs/heads/main, refs/tags/v1) or a 40-character commit SHA"
    )]
    BadWorkflow {
        value: String,
        problem: &'static str,
    },
    #[error("name the repository (OWNER/REPO) whose branches and environments to admit")]
    NoRepository,
}

/// A complete trust-policy document for `spec`.
pub fn generate(spec: &PolicySpec) -> Result<Value, PolicyGenError> {
    validate(spec)?;
    let provider = provider_for_issuer(&spec.issuer)
        .ok_or_else(|| PolicyGenError::BadIssuer(spec.issuer.clone()))?;
    let (exact, patterns) = subjects(spec);
    let provider_arn = format!(
        "arn:{}:iam::{}:oidc-provider/{provider}",
        spec.partition, spec.account
    );
    let key = |claim: &str| format!("{provider}:{claim}");
    let one_or_many = |v: Vec<String>| if v.len() == 1 { json!(v[0]) } else { json!(v) };
    let statement = |sid: &str, equals: Map<String, Value>, like: Map<String, Value>| {
        let mut condition = Map::new();
        condition.insert("StringEquals".into(), Value::Object(equals));
        if !like.is_empty() {
            condition.insert("StringLike".into(), Value::Object(like));
        }
        json!({
            "Sid": sid,
            "Effect": "Allow",
            "Principal": { "Federated": provider_arn },
            "Action": ASSUME_ACTION,
            "Condition": condition,
        })
    };
    // The keys every statement carries: the audience, and the reusable workflow if any.
    let mut common = Map::new();
    common.insert(key("aud"), json!(spec.audience));
    if let Some(workflow) = &spec.reusable_workflow {
        common.insert(
            key("job_workflow_ref"),
            json!(workflow.replace("${", "${$}{")),
        );
    }
    let mut statements = Vec::new();
    if !exact.is_empty() {
        let mut equals = common.clone();
        equals.insert(key("sub"), one_or_many(exact));
        statements.push(statement("GitHubActionsExactSubjects", equals, Map::new()));
    }
    if !patterns.is_empty() {
        let like = Map::from_iter([(key("sub"), one_or_many(patterns))]);
        statements.push(statement(
            "GitHubActionsSubjectPatterns",
            common.clone(),
            like,
        ));
    }
    if statements.is_empty() {
        statements.push(statement(
            "GitHubActionsReusableWorkflowCallers",
            common,
            Map::new(),
        ));
    }
    Ok(json!({ "Version": "2012-10-17", "Statement": statements }))
}

/// The `sub` values to admit, exact ones apart from patterns (`*`, `?`).
fn subjects(spec: &PolicySpec) -> (Vec<String>, Vec<String>) {
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
    // A reusable workflow's callers from one repository, any branch or environment.
    let named_repo = !(spec.owner.is_empty() && spec.repo.is_empty());
    if named_repo && exact.is_empty() && patterns.is_empty() {
        patterns.push(format!("repo:{repo_part}:*"));
    }
    (exact, patterns)
}

/// `OWNER/REPO/.github/workflows/FILE.yml@REF` with a full ref or a commit SHA.
fn validate_workflow(value: &str) -> Result<(), PolicyGenError> {
    let bad = |problem| PolicyGenError::BadWorkflow {
        value: value.to_string(),
        problem,
    };
    let (path, git_ref) = value.rsplit_once('@').ok_or_else(|| bad("has no @REF"))?;
    let mut parts = path.splitn(3, '/');
    let (owner, repo, file) = (parts.next(), parts.next(), parts.next());
    let name_ok = |n: Option<&str>| {
        n.is_some_and(|n| {
            !n.is_empty()
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
    };
    if !name_ok(owner) || !name_ok(repo) {
        return Err(bad("does not start with OWNER/REPO/"));
    }
    let file = file.unwrap_or_default();
    let in_workflows = file.strip_prefix(".github/workflows/").is_some_and(|f| {
        !f.is_empty() && !f.contains('/') && (f.ends_with(".yml") || f.ends_with(".yaml"))
    });
    if !in_workflows {
        return Err(bad(
            "does not name a .yml or .yaml file under .github/workflows/",
        ));
    }
    let sha = git_ref.len() == 40 && git_ref.bytes().all(|b| b.is_ascii_hexdigit());
    let full_ref = ["refs/heads/", "refs/tags/"]
        .iter()
        .any(|p| git_ref.strip_prefix(p).is_some_and(|r| !r.is_empty()));
    if !(sha || full_ref) {
        return Err(bad(
            "has a short ref (GitHub writes job_workflow_ref with the full ref)",
        ));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("contains whitespace"));
    }
    Ok(())
}

fn validate(spec: &PolicySpec) -> Result<(), PolicyGenError> {
    if !(spec.account.len() == 12 && spec.account.bytes().all(|b| b.is_ascii_digit())) {
        return Err(PolicyGenError::BadAccount(spec.account.clone()));
    }
    let p = &spec.partition;
    if !(p.starts_with("aws") && p.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')) {
        return Err(PolicyGenError::BadPartition(p.clone()));
    }
    if let Some(workflow) = &spec.reusable_workflow {
        validate_workflow(workflow)?;
    }
    if provider_for_issuer(&spec.issuer).is_none() {
        return Err(PolicyGenError::BadIssuer(spec.issuer.clone()));
    }
    let named_repo = !(spec.owner.is_empty() && spec.repo.is_empty());
    if !named_repo && spec.reusable_workflow.is_some() {
        if spec.branches.is_empty() && spec.environments.is_empty() && spec.id_form.is_none() {
            return validate_audience(spec);
        }
        return Err(PolicyGenError::NoRepository);
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
    validate_audience(spec)?;
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
    if branches.is_empty() && environments.is_empty() && spec.reusable_workflow.is_none() {
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

fn validate_audience(spec: &PolicySpec) -> Result<(), PolicyGenError> {
    if spec.audience.trim().is_empty() {
        return Err(PolicyGenError::EmptyAudience);
    }
    Ok(())
}

#[cfg(test)]
#[path = "policygen_tests.rs"]
mod tests;
