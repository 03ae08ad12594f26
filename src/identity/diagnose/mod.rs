//! Why the role refuses this job, in words a platform engineer can act on: the claims that
//! matter, the condition of each statement that failed (what it wants, what the token has), the
//! classic causes by name, and the one least-privilege change that admits this job and nothing
//! else.
//!
//! The fix is complete: the `audience` input the job must use when its token does not carry the
//! audience the role expects, then (unless that alone admits the job) a *new* Allow statement
//! whose condition is the exact `sub` of this token plus the audience (and the exact
//! `job_workflow_ref` when the policy restricts the reusable workflow). Adding a key to an
//! existing statement would AND it with the conditions that already refuse the job, so a new
//! statement is the only edit that is right in every case; it carries its own `aud` check because
//! conditions never carry over between statements. Nothing broader than the exact `sub` is ever
//! suggested, and every fix is checked with the evaluator before it is shown. An explicit Deny
//! gets no fix: the hint names the statement and says that no Allow overrides it.
//!
//! `KnownCause` statement numbers are 0-based, like `trust::Evaluation`; text shows them 1-based.
//!
//! This file holds the diagnosis types and the two entry points; `evidence` writes the evidence
//! lines, `causes` finds the known causes, `explain` words them, and `suggest` builds the fix.

use std::fmt;

use serde_json::Value;

use super::claims::Claims;
use super::trust::{Decision, Evaluation, TrustPolicy, evaluate};

mod causes;
mod evidence;
mod explain;
mod suggest;

use causes::{find_causes, sts_cause, token_causes};
use evidence::{policy_evidence, token_evidence};
use explain::{explain, wrap};
use suggest::{Fix, fix_text, plan_fix};

#[derive(Debug, Clone, PartialEq)]
pub struct Diagnosis {
    pub headline: String,
    /// Display lines, already indented, without trailing newlines.
    pub evidence: Vec<String>,
    /// May span lines.
    pub hint: Option<String>,
    /// The value the action's `audience` input must take for the fix; `None` when the token
    /// already carries the audience the fix needs.
    pub suggested_audience: Option<String>,
    /// The `Condition` block of the statement to add.
    pub suggested_condition: Option<Value>,
    /// The whole statement to add to the policy's `Statement` list.
    pub suggested_statement: Option<Value>,
    pub causes: Vec<KnownCause>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KnownCause {
    /// The job has an environment, so `sub` names it instead of the branch.
    EnvironmentInSub {
        environment: String,
        branch: Option<String>,
    },
    /// The policy admits only environment subjects, and this job has no environment.
    EnvironmentMissing {
        wanted: Vec<String>,
    },
    /// `sub` uses the `OWNER@ID/REPO@ID` form and the policy the plain one, or the reverse.
    IdForm {
        token_has_ids: bool,
        token_sub: String,
        policy_value: Option<String>,
    },
    /// A condition value differs from the token's only in letter case.
    CaseMismatch {
        key: String,
        wanted: String,
        got: String,
    },
    AudienceMismatch {
        /// The policy's values, each once, comma-separated.
        expected: String,
        got: Vec<String>,
    },
    /// A `job_workflow_ref` condition refused the job: the caller ran another reusable workflow,
    /// or the same one at another ref.
    WorkflowRefMismatch {
        wanted: Vec<String>,
        got: Option<String>,
    },
    ExplicitDeny {
        statement: usize,
        sid: Option<String>,
    },
    NoStatementForProvider,
    ActionNotCovered {
        statement: usize,
    },
    /// STS looks the provider up in the role's account; the policy names another account's.
    ProviderAccountMismatch {
        statement: usize,
        provider_account: String,
        role_account: String,
    },
    /// A condition this check cannot evaluate (unknown or unsupported operator).
    UnevaluatedCondition {
        statement: usize,
        operator: String,
        key: String,
    },
    /// STS: no IAM OIDC provider for the token's issuer in the role's account.
    ProviderMissing {
        issuer: String,
    },
    /// STS: the token's `aud` is not among the provider's client IDs.
    ProviderAudience {
        audiences: Vec<String>,
    },
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.headline)?;
        for line in &self.evidence {
            write!(f, "\n{line}")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\nhint: {}", hint.replace('\n', "\n      "))?;
        }
        Ok(())
    }
}

/// Policy known: evaluate and explain.
pub fn diagnose_policy(
    role_arn: &str,
    policy: &TrustPolicy,
    eval: &Evaluation,
    claims: &Claims,
    audience: &str,
) -> Diagnosis {
    let mut evidence = token_evidence(claims);
    evidence.extend(policy_evidence(policy, eval, claims));
    let causes = find_causes(role_arn, policy, eval, claims);
    let mut paragraphs = explain_all(&causes, claims, audience);
    let headline = match eval.decision {
        Decision::Allowed { statement } => format!(
            "the trust policy of {role_arn} admits this job (statement {})",
            statement + 1
        ),
        Decision::ExplicitDeny { statement } => format!(
            "the trust policy of {role_arn} explicitly denies this job (statement {})",
            statement + 1
        ),
        Decision::ImplicitDeny => format!("the trust policy of {role_arn} does not admit this job"),
    };
    let fix = plan_fix(role_arn, policy, eval, claims, audience);
    match &fix {
        Some(fix) => paragraphs.push(fix_text(fix, claims)),
        None if eval.decision == Decision::ImplicitDeny => paragraphs.push(no_fix_text(claims)),
        None => {}
    }
    Diagnosis {
        headline,
        evidence,
        hint: (!paragraphs.is_empty()).then(|| wrap(&paragraphs.join("\n"))),
        causes,
        ..with_fix(fix)
    }
}

/// Why no fix is offered for a job refused without an explicit Deny, in words true of the token.
fn no_fix_text(claims: &Claims) -> String {
    if claims.sub().is_none_or(str::is_empty) {
        "the token has no `sub` claim, so no statement can admit only this job.".into()
    } else {
        "every audience this job could use meets an explicit Deny (see the statements above), and no \
         Allow overrides an explicit Deny."
            .into()
    }
}

/// An empty diagnosis carrying the fix's parts.
fn with_fix(fix: Option<Fix>) -> Diagnosis {
    let (suggested_audience, suggested_statement) =
        fix.map(|f| (f.audience, f.statement)).unwrap_or_default();
    Diagnosis {
        headline: String::new(),
        evidence: Vec::new(),
        hint: None,
        suggested_audience,
        suggested_condition: suggested_statement.as_ref().map(|s| s["Condition"].clone()),
        suggested_statement,
        causes: Vec::new(),
    }
}

/// STS said AccessDenied (or refused the token). With a policy, explain from it; without one,
/// explain from the claims what the policy must admit.
pub fn diagnose_access_denied(
    role_arn: &str,
    policy: Option<&TrustPolicy>,
    claims: &Claims,
    audience: &str,
    sts_message: &str,
) -> Diagnosis {
    let sts_line = format!("  sts     {}", sts_message.trim());
    if let Some(cause) = sts_cause(sts_message, claims) {
        let mut evidence = vec![sts_line];
        evidence.extend(token_evidence(claims));
        return Diagnosis {
            headline: format!(
                "AWS STS refused this job's token for {role_arn} before reading the trust policy"
            ),
            evidence,
            hint: explain(&cause, claims, audience).map(|h| wrap(&h)),
            causes: vec![cause],
            ..with_fix(None)
        };
    }
    if let Some(policy) = policy {
        let eval = evaluate(policy, claims);
        let mut d = diagnose_policy(role_arn, policy, &eval, claims, audience);
        d.evidence.insert(0, sts_line);
        if let Decision::Allowed { .. } = eval.decision {
            d.headline =
                format!("the trust policy of {role_arn} admits this job, yet STS refused it");
            let mut paragraphs = explain_all(&d.causes, claims, audience);
            paragraphs.push(
                "if the policy shown is current, an organization policy (SCP or RCP) or a permissions \
                 boundary may deny sts:AssumeRoleWithWebIdentity; check with your AWS administrator."
                    .into(),
            );
            d.hint = Some(wrap(&paragraphs.join("\n")));
        }
        return d;
    }
    let mut evidence = vec![sts_line];
    evidence.extend(token_evidence(claims));
    evidence.push("  policy  (not given: pass the role's trust policy as input `trust-policy`, or run `oidc-ecs-deploy check-trust`, to see the failing condition; the causes below come from the token)".into());
    let causes = token_causes(claims, audience);
    let mut paragraphs = vec!["the likely causes, given this token:".to_string()];
    let mut n = 0;
    for cause in &causes {
        if let Some(text) = explain(cause, claims, audience) {
            n += 1;
            paragraphs.push(format!("({n}) {text}"));
        }
    }
    if let Some(s) = claims.subject().filter(|s| !s.repo.is_empty()) {
        n += 1;
        paragraphs.push(format!(
            "({n}) condition values are case-sensitive: the policy must spell {}/{} exactly so.",
            s.owner, s.repo
        ));
    }
    let empty = TrustPolicy {
        version: None,
        statements: Vec::new(),
    };
    let fix = plan_fix(
        role_arn,
        &empty,
        &evaluate(&empty, claims),
        claims,
        audience,
    );
    if let Some(fix) = &fix {
        paragraphs.push(fix_text(fix, claims));
    }
    Diagnosis {
        headline: format!("STS refused to let this job assume {role_arn} (AccessDenied)"),
        evidence,
        hint: Some(wrap(&paragraphs.join("\n"))),
        causes,
        ..with_fix(fix)
    }
}

/// The causes in words, one paragraph each, in order; causes without words are left out.
fn explain_all(causes: &[KnownCause], claims: &Claims, audience: &str) -> Vec<String> {
    causes
        .iter()
        .filter_map(|c| explain(c, claims, audience))
        .collect()
}

#[cfg(test)]
mod fix_tests;
#[cfg(test)]
mod tests;
