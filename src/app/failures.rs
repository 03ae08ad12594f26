//! Each stage's error as the user reads it, with its exit category. This is the one place that
//! decides which errors are bad input (2), refusals (3), failed deploys (4) or unexpected (1).

use crate::failure::{Category, Failure};
use crate::identity::claims::Claims;
use crate::identity::diagnose::Diagnosis;
use crate::identity::guards::GuardRefusal;
use crate::identity::sts::StsError;
use crate::inputs::{IdentityConfig, InputErrors};
use crate::rollout::TaskDefError;
use crate::rollout::ecs_api::ApiError;
use crate::rollout::plan::Refusal;
use crate::runner::{FileError, OidcError};

mod rollout;
pub use rollout::{deploy_failed, update_refused};

pub fn inputs(errors: InputErrors) -> Failure {
    let headline = match errors.0.as_slice() {
        [only] => only.to_string(),
        many => {
            let names: Vec<String> = many.iter().map(|p| format!("`{}`", p.input)).collect();
            format!("{errors}: {}", names.join(", "))
        }
    };
    let mut failure = Failure::new(Category::BadInput, headline);
    if errors.0.len() > 1 {
        failure.details = errors.0.iter().map(ToString::to_string).collect();
    }
    failure
}

pub fn oidc(error: &OidcError) -> Failure {
    // The two commonest: say the cause in the headline and the fix in the hint.
    match error {
        OidcError::PermissionMissing => {
            return Failure::new(Category::BadInput, "this job cannot request an OIDC token: ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set")
                .hint("add `permissions: id-token: write` to the job (a job-level `permissions:` block replaces the\nworkflow's, so it needs the line too). GitHub never grants it to `pull_request` runs from forks:\ndeploy from `push`, `workflow_dispatch` or an environment-gated job instead");
        }
        OidcError::UnderAct => {
            return Failure::new(Category::BadInput, "running under act, which has no OIDC token service (ACTIONS_ID_TOKEN_REQUEST_URL is not set)")
                .hint("leave `role-to-assume` empty and pass AWS credentials as secrets:\n  act -s AWS_ACCESS_KEY_ID -s AWS_SECRET_ACCESS_KEY -s AWS_SESSION_TOKEN\n(one workflow for both: `role-to-assume: ${{ !env.ACT && 'arn:aws:iam::...' || '' }}`),\nor give a web-identity token obtained elsewhere through the `web-identity-token-file` input");
        }
        _ => {}
    }
    let category = match error {
        // The job's configuration: permissions, act, a token file input.
        OidcError::PermissionMissing
        | OidcError::UnderAct
        | OidcError::VariableMissing { .. }
        | OidcError::InvalidUrl { .. }
        | OidcError::TokenFileMissing { .. }
        | OidcError::TokenFileEmpty { .. }
        | OidcError::TokenFileUnreadable { .. } => Category::BadInput,
        // No roots on this machine, or a certificate they do not vouch for (`crate::tls`).
        OidcError::Transport(e) if crate::tls::is_trust_failure(e) => Category::BadInput,
        // GitHub's token service misbehaving is nothing the user configured.
        _ => Category::Unexpected,
    };
    Failure::unexpected(error).recategorised(category)
}

pub fn guard(refusal: &GuardRefusal, claims: &Claims) -> Failure {
    let mut failure = Failure::new(
        Category::Refused,
        format!("the workflow's guard refuses this job: {refusal}"),
    );
    for claim in ["ref", "environment", "sub"] {
        if let Some(v) = claims.string(claim) {
            failure.details.push(format!("token {claim:<11} = {v}"));
        }
    }
    failure.hint("the guard is the action's own input, checked before STS whatever the role allows;\nrun from an allowed branch or environment, or widen the pattern if this job should deploy")
}

pub fn diagnosis(diagnosis: Diagnosis) -> Failure {
    Failure {
        category: Category::Refused,
        headline: diagnosis.headline,
        details: diagnosis.evidence,
        hint: diagnosis.hint,
    }
}

pub fn sts(error: &StsError, cfg: &IdentityConfig) -> Failure {
    let failure = Failure::unexpected(error);
    match error {
        StsError::AccessDenied { .. } => failure.recategorised(Category::Refused),
        StsError::InvalidToken { code, message } => {
            let hint = if code == "ExpiredTokenException" || message.to_ascii_lowercase().contains("expired") {
                "the web-identity token expired before STS saw it (GitHub's tokens live about 5 minutes);\nrequest a fresh one: re-run the job, or write a new `web-identity-token-file` just before this step".to_owned()
            } else if message.contains("OpenIDConnect provider") || message.contains("OpenIdConnect provider") {
                "the account has no IAM OIDC identity provider for token.actions.githubusercontent.com;\ncreate one (IAM > Identity providers) with audience sts.amazonaws.com".to_owned()
            } else if message.to_ascii_lowercase().contains("audience") {
                format!("the token's `aud` is {:?}; the OIDC provider in IAM and the role must list the same audience (input `audience`)", cfg.audience)
            } else {
                "STS did not accept the token itself; check the IAM OIDC provider's URL, audience and thumbprints".to_owned()
            };
            failure.recategorised(Category::Refused).hint(hint)
        }
        StsError::Rejected { message, .. } if message.contains("DurationSeconds") => failure
            .recategorised(Category::BadInput)
            .hint(format!("`role-duration-seconds` is {}; the role's maximum session duration is lower: raise it on the role or lower the input", cfg.duration.as_secs())),
        StsError::Rejected { .. } => failure.recategorised(Category::BadInput),
        // This machine's roots (or the endpoint's CA): configuration, and nothing was sent.
        StsError::Untrusted(_) => failure.recategorised(Category::BadInput),
        StsError::Exhausted { .. } | StsError::IncompleteResponse => failure,
    }
}

pub fn runner_file(error: &FileError) -> Failure {
    Failure::unexpected(error)
}

pub fn console(error: &std::io::Error) -> Failure {
    Failure::new(
        Category::Unexpected,
        format!("cannot write to the step's log: {error}"),
    )
}

/// A rollout call that failed after its retries: refused by IAM (3), a parameter ECS rejects
/// (2), anything else unexpected (1).
pub fn rollout_api(error: &ApiError) -> Failure {
    let failure = Failure::unexpected(error);
    if error.is_access_denied() {
        return failure.recategorised(Category::Refused).hint(format!("the role's permissions policy must allow {} (ecs:, elasticloadbalancing:DescribeTargetHealth, logs:GetLogEvents, iam:PassRole on the task's roles)", error.op));
    }
    match error.code.as_deref() {
        Some(
            "InvalidParameterException"
            | "ClientException"
            | "ClusterNotFoundException"
            | "ServiceNotFoundException"
            | "ServiceNotActiveException"
            | "PlatformUnknownException"
            | "PlatformTaskDefinitionIncompatibilityException",
        ) => failure.recategorised(Category::BadInput),
        _ => failure,
    }
}

/// What the plan refuses, before any change: the first as the headline, the rest as details.
pub fn rollout_refusals(refusals: &[Refusal]) -> Failure {
    let mut failure = Failure::new(Category::BadInput, refusals[0].to_string());
    failure.details = refusals[1..].iter().map(ToString::to_string).collect();
    failure
        .details
        .push("nothing was registered or updated".to_owned());
    failure.hint(refusals[0].hint())
}

pub fn taskdef(error: &TaskDefError) -> Failure {
    Failure::unexpected(error).recategorised(Category::BadInput)
}

/// The job was cancelled: `headline` says by which signal, during what and, in brief, what
/// became of each service it changed (`changed`); `details` where each service stands.
pub fn cancelled(headline: String, details: Vec<String>, changed: bool) -> Failure {
    let mut failure = Failure::new(Category::Cancelled, headline);
    failure.details = details;
    if changed {
        failure = failure.hint("the step stops before it can see where the services settle: check them in the ECS console\n(the job summary links them), or re-run the job");
    }
    failure
}
