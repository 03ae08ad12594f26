//! The hint's prose: each known cause in words a platform engineer can act on, and the wrapping
//! that keeps the hint readable in a terminal while leaving commands and JSON whole to copy.

use super::KnownCause;
use crate::identity::claims::Claims;
use crate::identity::trust::ASSUME_ACTION;

pub(super) fn explain(cause: &KnownCause, claims: &Claims, audience: &str) -> Option<String> {
    let n = |i: &usize| i + 1;
    Some(match cause {
        KnownCause::EnvironmentInSub {
            environment,
            branch,
        } => format!(
            "this job runs in the environment \"{environment}\", so GitHub puts the environment in `sub` \
             instead of the branch{}.",
            branch.as_ref().map(|b| format!(" {b}")).unwrap_or_default()
        ),
        KnownCause::EnvironmentMissing { wanted } => format!(
            "the policy admits only jobs in the environment{} {}, and this job has none, so its `sub` \
             names the ref instead; give the job `environment: {}`.",
            if wanted.len() == 1 { "" } else { "s" },
            wanted.join(", "),
            wanted.first().map(String::as_str).unwrap_or("<name>")
        ),
        KnownCause::IdForm {
            token_has_ids: true,
            token_sub,
            policy_value,
        } => format!(
            "this token's `sub` uses the immutable OWNER@ID/REPO@ID form ({token_sub}){}; \
             repositories created from 2026-07-15, or opted in, get this form.",
            policy_value
                .as_ref()
                .map(|p| format!(", but the policy names the plain OWNER/REPO form ({p})"))
                .unwrap_or_default()
        ),
        KnownCause::IdForm {
            token_has_ids: false,
            token_sub,
            policy_value,
        } => format!(
            "the policy names the immutable OWNER@ID/REPO@ID form{}, but this token's `sub` uses the plain \
             OWNER/REPO form ({token_sub}).",
            policy_value
                .as_ref()
                .map(|p| format!(" ({p})"))
                .unwrap_or_default()
        ),
        KnownCause::CaseMismatch { key, wanted, got } => format!(
            "the policy's {key} value {wanted} differs from the token's {got} only in letter case, and \
             condition values are case-sensitive."
        ),
        KnownCause::AudienceMismatch { expected, got } => format!(
            "the token's aud is {}, but the policy expects {expected}; the token's aud is the \
             action's `audience` input (GitHub's default for AWS is sts.amazonaws.com).",
            if got.is_empty() {
                "(absent)".to_string()
            } else {
                got.join(", ")
            }
        ),
        KnownCause::WorkflowRefMismatch { wanted, got } => format!(
            "the policy admits only callers of the reusable workflow {}, but this job ran {}: the \
             caller uses another workflow, or the same one at another ref. Call it at the ref the \
             policy names, or admit this ref with the statement below, which keeps the restriction \
             to the reusable workflow.",
            wanted.join(" or "),
            got.as_deref()
                .unwrap_or("no reusable workflow (the token has no job_workflow_ref)")
        ),
        KnownCause::ExplicitDeny { statement, sid } => format!(
            "statement {}{} denies this job, and an explicit Deny overrides every Allow: no added Allow can \
             fix that; narrow that Deny's conditions if this job should deploy.",
            n(statement),
            sid.as_ref()
                .map(|s| format!(" \"{s}\""))
                .unwrap_or_default()
        ),
        KnownCause::NoStatementForProvider => format!(
            "no Allow statement trusts the GitHub OIDC provider ({}): the role is not set up for GitHub Actions.",
            claims.provider()
        ),
        KnownCause::ActionNotCovered { statement } => format!(
            "statement {} trusts the provider, but its Action does not include {ASSUME_ACTION}.",
            n(statement)
        ),
        KnownCause::ProviderAccountMismatch {
            statement,
            provider_account,
            role_account,
        } => format!(
            "statement {} names the OIDC provider of account {provider_account}, but the role is in account \
             {role_account}, and STS only uses the provider in the role's own account.",
            n(statement)
        ),
        KnownCause::UnevaluatedCondition {
            statement,
            operator,
            key,
        } => format!(
            "statement {} uses {operator} on {key}, which this check cannot evaluate; it was counted as not \
             matching, so STS may decide otherwise.",
            n(statement)
        ),
        KnownCause::ProviderMissing { issuer } => format!(
            "the role's account has no IAM OIDC provider for {issuer}; create it with\n  aws iam \
             create-open-id-connect-provider --url {issuer} --client-id-list {audience}"
        ),
        KnownCause::ProviderAudience { audiences } => format!(
            "the token's aud ({}) is not among the client IDs (audiences) of the account's IAM OIDC provider; \
             add it with\n  aws iam add-client-id-to-open-id-connect-provider --client-id {} \
             --open-id-connect-provider-arn <provider ARN>",
            audiences.join(", "),
            audiences.first().map(String::as_str).unwrap_or(audience)
        ),
    })
}

/// Wraps prose lines at 90 columns (the hint is shown after `hint: `, 6 columns); lines that
/// start with a space are code (a command, a JSON fragment) and stay whole so they can be copied.
pub(super) fn wrap(text: &str) -> String {
    const WIDTH: usize = 90;
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with(' ') || line.len() <= WIDTH {
            out.push(line.to_string());
            continue;
        }
        // A numbered item "(2) ..." continues under its text, not under its number.
        let hang = match line.split_once(") ") {
            Some((n, _)) if n.starts_with('(') && n[1..].bytes().all(|b| b.is_ascii_digit()) => {
                n.len() + 2
            }
            _ => 0,
        };
        let mut current = String::new();
        for word in line.split(' ') {
            if !current.trim_start().is_empty() && current.len() + 1 + word.len() > WIDTH {
                out.push(std::mem::replace(&mut current, " ".repeat(hang)));
            }
            if !current.trim_start().is_empty() {
                current.push(' ');
            }
            current.push_str(word);
        }
        out.push(current);
    }
    out.join("\n")
}
