//! The role's trust policy, modelled and evaluated for exactly one request:
//! `sts:AssumeRoleWithWebIdentity` by the GitHub OIDC provider with these claims. Pure: the
//! policy text and the claims go in, a decision with per-statement, per-condition evidence comes
//! out, so `diagnose` can say which condition refused the job and why.
//!
//! IAM semantics chosen where the documentation leaves room (each one is tested):
//! - Element names (`Statement`, `Effect`, ...), `Allow`/`Deny`, principal types and operator
//!   names are matched ignoring ASCII case. IAM rejects non-canonical spellings when a policy is
//!   written, so a policy read from IAM is canonical and both readings agree; for a hand-written
//!   file the lenient reading avoids refusing a job over spelling.
//! - Condition key names ignore case (documented); condition values are case-sensitive except
//!   under the `...IgnoreCase` operators.
//! - Keys outside this token's provider (`aws:SourceIp`, `sts:RoleSessionName`, ...) are treated
//!   as absent from the request context: this check cannot see them, and the outcome says so.
//! - A multi-valued claim (an `aud` array) under an operator without `ForAnyValue:`/
//!   `ForAllValues:` matches when any value matches; a negated operator then requires that no
//!   value matches (the exact negation, so `StringNotEquals` and `StringEquals` never both pass).
//! - A key absent from the request: `ForAnyValue:` never matches, even with `IfExists`;
//!   `ForAllValues:` always does; otherwise `IfExists` and the negated operators match.
//! - An operator this module does not implement (Numeric*, Date*, Arn*, Bool, ...) or does not
//!   know fails its condition, so the statement does not match, and the outcome says why.
//! - Policy variables (`${...}`) are expanded only under `Version` 2012-10-17, as IAM does; a
//!   variable naming something other than a claim of this token never matches.
//! - Indices in `Decision` and `StatementOutcome` are 0-based positions in `Statement`.
//!
//! This file holds the policy model and the error type; `parse` reads the policy forms into it,
//! `evaluate` judges it for the request, `operators` reads condition operator names, `matching`
//! compares values (StringLike wildcards and policy variables), and `arn` takes ARNs apart.

use std::fmt;

mod arn;
mod evaluate;
mod matching;
mod operators;
mod parse;

pub(crate) use arn::arn_fields;
pub use arn::{ProviderArn, parse_provider_arn};
pub use evaluate::{
    ConditionOutcome, Decision, Evaluation, StatementOutcome, claim_name, evaluate,
};
pub use matching::string_like;
pub(crate) use operators::{admitting_operator, operator_problem};

pub use crate::identity::claims::GITHUB_PROVIDER;
pub const ASSUME_ACTION: &str = "sts:AssumeRoleWithWebIdentity";

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("the trust policy is empty")]
    Empty,
    #[error("the trust policy is not valid JSON")]
    Json(#[source] serde_json::Error),
    #[error("the trust policy looks URL-encoded but does not decode to UTF-8 text")]
    UrlDecoding(#[source] std::str::Utf8Error),
    #[error(
        "the trust policy is {found}; expected a policy document (a JSON object with a Statement)"
    )]
    NotAnObject { found: &'static str },
    #[error("the `aws iam get-role` output has no Role.AssumeRolePolicyDocument")]
    NoDocumentInRole,
    #[error("the trust policy has no Statement element")]
    NoStatement,
    #[error("statement {number} of the trust policy: {problem}")]
    Statement { number: usize, problem: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrustPolicy {
    pub version: Option<String>,
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub principal: PrincipalElement,
    pub actions: ActionElement,
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PrincipalElement {
    Principal(Principals),
    NotPrincipal(Principals),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Principals {
    /// `"Principal": "*"`.
    Any,
    /// `{"Federated": [...], "AWS": [...]}`: (type as written, values).
    Listed(Vec<(String, Vec<String>)>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum ActionElement {
    Action(Vec<String>),
    NotAction(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// As written, e.g. `ForAnyValue:StringLike`.
    pub operator: String,
    /// As written, e.g. `token.actions.githubusercontent.com:sub`.
    pub key: String,
    pub values: Vec<String>,
}

#[cfg(test)]
mod tests;
