//! The least-privilege fix for a job the policy refuses without an explicit Deny: the `audience`
//! input the job must use (when its token does not carry the audience the role expects), then,
//! unless that alone admits the job, one new Allow statement for this token's provider, its
//! exact `sub` and that audience (why a new statement and nothing broader: see `mod.rs`). When a
//! statement restricts `job_workflow_ref` (a reusable workflow), the new statement keeps that
//! restriction with the exact workflow this job ran. Every fix is checked with the evaluator
//! before it is offered: a fix that would not admit the job is never printed.

use serde_json::{Map, Value, json};

use super::causes::github_provider_accounts;
use crate::identity::claims::Claims;
use crate::identity::trust::{
    ASSUME_ACTION, Decision, Effect, Evaluation, TrustPolicy, admitting_operator, arn_fields,
    claim_name, evaluate,
};

/// What the job and the policy must change for this job to be admitted.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Fix {
    /// Set the action's `audience` input to this; `None` when the token already carries it.
    pub audience: Option<String>,
    /// The Allow statement to add; `None` when the audience change alone admits the job.
    pub statement: Option<Value>,
}

/// The fix for a refused job, or `None` when no Allow can admit it (an explicit Deny) or no
/// statement can admit only this job (the token has no `sub`).
pub(super) fn plan_fix(
    role_arn: &str,
    policy: &TrustPolicy,
    eval: &Evaluation,
    claims: &Claims,
    audience: &str,
) -> Option<Fix> {
    if eval.decision != Decision::ImplicitDeny {
        return None;
    }
    let token_auds = claims.audiences();
    let wanted = policy_audience(policy, eval, claims).unwrap_or_else(|| audience.to_string());
    // The audience the role expects first; else keep the token's own (single) audience.
    let mut changes = Vec::new();
    if token_auds.contains(&wanted) {
        changes.push(None);
    } else {
        changes.push(Some(wanted.clone()));
        if token_auds.len() == 1 {
            changes.push(None);
        }
    }
    for change in changes {
        let job = match &change {
            Some(aud) => with_audience(claims, aud),
            None => claims.clone(),
        };
        match evaluate(policy, &job).decision {
            Decision::Allowed { .. } => {
                return Some(Fix {
                    audience: change,
                    statement: None,
                });
            }
            Decision::ExplicitDeny { .. } => continue,
            Decision::ImplicitDeny => {}
        }
        let pinned_aud = match &change {
            Some(aud) => aud.clone(),
            None if token_auds.contains(&wanted) => wanted.clone(),
            None => token_auds.first()?.clone(),
        };
        let statement = statement_for(role_arn, policy, eval, &job, &pinned_aud)?;
        if admits(policy, &statement, &job) {
            return Some(Fix {
                audience: change,
                statement: Some(statement),
            });
        }
    }
    None
}

/// The audience a relevant Allow statement of the policy names literally, if any: the value the
/// role was written for (the first one, in statement order).
fn policy_audience(policy: &TrustPolicy, eval: &Evaluation, claims: &Claims) -> Option<String> {
    let provider = claims.provider();
    eval.statements
        .iter()
        .filter(|s| s.effect == Effect::Allow && s.applies_to_principal && s.applies_to_action)
        .flat_map(|s| &policy.statements[s.index].conditions)
        .filter(|c| {
            claim_name(&c.key, &provider).is_some_and(|n| n.eq_ignore_ascii_case("aud"))
                && admitting_operator(&c.operator).is_some()
        })
        .flat_map(|c| &c.values)
        .find(|v| !v.is_empty() && !v.contains(['*', '?', '$']))
        .cloned()
}

/// The claims with `aud` replaced, as the job would present them with another `audience` input.
pub(super) fn with_audience(claims: &Claims, audience: &str) -> Claims {
    let mut map = claims.as_map().clone();
    map.insert("aud".into(), Value::String(audience.into()));
    Claims::from_map(map)
}

fn admits(policy: &TrustPolicy, statement: &Value, claims: &Claims) -> bool {
    let Ok(added) = TrustPolicy::parse(&json!({ "Statement": [statement] }).to_string()) else {
        return false;
    };
    let mut fixed = policy.clone();
    fixed.statements.extend(added.statements);
    matches!(evaluate(&fixed, claims).decision, Decision::Allowed { .. })
}

/// Whether any Allow statement that applies to this job restricts `job_workflow_ref`: the role
/// is meant for callers of a reusable workflow, and the fix must keep that restriction.
pub(super) fn restricts_workflow(policy: &TrustPolicy, eval: &Evaluation, provider: &str) -> bool {
    eval.statements
        .iter()
        .filter(|s| s.effect == Effect::Allow && s.applies_to_principal && s.applies_to_action)
        .flat_map(|s| &policy.statements[s.index].conditions)
        .any(|c| {
            claim_name(&c.key, provider).is_some_and(|n| n.eq_ignore_ascii_case("job_workflow_ref"))
        })
}

/// A new Allow statement admitting exactly this job: the provider of the token's issuer in the
/// role's account, the audience, the exact `sub`, and the exact `job_workflow_ref` when the
/// policy restricts it.
pub(super) fn statement_for(
    role_arn: &str,
    policy: &TrustPolicy,
    eval: &Evaluation,
    claims: &Claims,
    audience: &str,
) -> Option<Value> {
    let sub = claims.sub().filter(|s| !s.is_empty())?;
    let provider = claims.provider();
    let mut equals = Map::new();
    equals.insert(format!("{provider}:aud"), json!(audience));
    equals.insert(format!("{provider}:sub"), json!(literal(sub)));
    if restricts_workflow(policy, eval, &provider)
        && let Some(workflow) = claims.job_workflow_ref()
    {
        equals.insert(
            format!("{provider}:job_workflow_ref"),
            json!(literal(workflow)),
        );
    }
    Some(json!({
        "Effect": "Allow",
        "Principal": { "Federated": provider_arn(role_arn, policy, &provider) },
        "Action": ASSUME_ACTION,
        "Condition": { "StringEquals": equals },
    }))
}

/// A claim value as a condition value: `${` would start a policy variable; `${$}` is IAM's
/// literal '$'.
fn literal(value: &str) -> String {
    value.replace("${", "${$}{")
}

fn provider_arn(role_arn: &str, policy: &TrustPolicy, provider: &str) -> String {
    let role = arn_fields(role_arn)
        .filter(|a| a.partition.starts_with("aws") && a.service == "iam" && !a.account.is_empty());
    match role {
        Some(role) => format!(
            "arn:{}:iam::{}:oidc-provider/{provider}",
            role.partition, role.account
        ),
        // No usable role ARN: reuse a provider ARN the policy already names, else a placeholder.
        None => (0..policy.statements.len())
            .find_map(|i| {
                github_provider_accounts(policy, i, provider)
                    .into_iter()
                    .next()
                    .map(|a| format!("arn:aws:iam::{a}:oidc-provider/{provider}"))
            })
            .unwrap_or_else(|| format!("arn:aws:iam::<account>:oidc-provider/{provider}")),
    }
}

/// The fix in words: the audience input first, then the statement to add.
pub(super) fn fix_text(fix: &Fix, claims: &Claims) -> String {
    let audience = fix.audience.as_ref().map(|aud| {
        let got = match claims.audiences() {
            a if a.is_empty() => "(absent)".to_string(),
            a => a.join(", "),
        };
        format!("set the action's `audience` input to {aud} (this token's aud is {got})")
    });
    let Some(statement) = &fix.statement else {
        return format!(
            "To admit this job, {}; the policy as it is then admits it.",
            audience.unwrap_or_default()
        );
    };
    let arn = statement["Principal"]["Federated"]
        .as_str()
        .unwrap_or("the GitHub OIDC provider");
    let mut text = match audience {
        Some(a) => format!("To admit this job, and only it, {a},\nand add an Allow statement for"),
        None => "To admit this job, and only it, add an Allow statement for".to_string(),
    };
    text.push_str(&format!(
        "\n  {arn}\nwith Action {ASSUME_ACTION} and the condition:"
    ));
    for (op, keys) in statement["Condition"].as_object().into_iter().flatten() {
        let Some(keys) = keys.as_object() else {
            continue;
        };
        let head = format!("  \"{op}\": {{ ");
        let pad = " ".repeat(head.len());
        for (i, (k, v)) in keys.iter().enumerate() {
            let last = i + 1 == keys.len();
            text.push_str(&format!(
                "\n{}{}: {}{}",
                if i == 0 { &head } else { &pad },
                Value::String(k.clone()),
                v,
                if last { " }" } else { "," }
            ));
        }
    }
    text
}
