//! The evidence lines of a diagnosis: the token's claims that decide a trust policy, then per
//! statement what stopped it (its principal, its action, or the first failing condition with
//! what it wants and what the token has). Lines are laid out in two columns, the label in the
//! first (`token`, `policy`), so a reader can scan down the second.

use crate::identity::claims::Claims;
use crate::identity::trust::{
    ASSUME_ACTION, ConditionOutcome, Decision, Effect, Evaluation, PrincipalElement, Principals,
    TrustPolicy,
};

/// The width of the label column.
const INDENT: &str = "          ";

pub(super) fn token_evidence(claims: &Claims) -> Vec<String> {
    let mut rows: Vec<(&str, String)> = vec![
        ("sub", claims.sub().unwrap_or("(absent)").to_string()),
        (
            "aud",
            match claims.audiences() {
                a if a.is_empty() => "(absent)".to_string(),
                a => a.join(", "),
            },
        ),
    ];
    for name in [
        "ref",
        "environment",
        "job_workflow_ref",
        "repository_id",
        "repository_owner_id",
    ] {
        if let Some(v) = claims.values(name) {
            rows.push((name, v.join(", ")));
        }
    }
    let width = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    rows.iter()
        .enumerate()
        .map(|(i, (n, v))| {
            format!(
                "{}{n:<width$} = {v}",
                if i == 0 { "  token   " } else { INDENT }
            )
        })
        .collect()
}

fn statement_name(policy: &TrustPolicy, index: usize, effect: Effect) -> String {
    match policy.statements.get(index).and_then(|s| s.sid.as_deref()) {
        Some(sid) => format!("statement {} \"{sid}\" ({effect})", index + 1),
        None => format!("statement {} ({effect})", index + 1),
    }
}

pub(super) fn policy_evidence(
    policy: &TrustPolicy,
    eval: &Evaluation,
    claims: &Claims,
) -> Vec<String> {
    let mut lines = Vec::new();
    let denied = matches!(eval.decision, Decision::ExplicitDeny { .. });
    for s in &eval.statements {
        let name = statement_name(policy, s.index, s.effect);
        match s.effect {
            Effect::Allow if !s.applies_to_principal => lines.push(format!(
                "{name}: its principal is not this token's provider ({}){}",
                claims.provider(),
                describe_principal(policy, s.index)
                    .map(|p| format!("; it names {p}"))
                    .unwrap_or_default()
            )),
            Effect::Allow if !s.applies_to_action => {
                lines.push(format!("{name}: its Action does not cover {ASSUME_ACTION}"))
            }
            Effect::Allow if s.matched && denied => lines.push(format!(
                "{name}: admits this job, but an explicit Deny overrides it"
            )),
            Effect::Allow if s.matched => lines.push(format!("{name}: admits this job")),
            Effect::Allow => {
                if let Some(c) = s.conditions.iter().find(|c| !c.passed) {
                    lines.push(format!("{name}: {} {}", c.operator, c.key));
                    lines.extend(condition_lines(c));
                }
            }
            Effect::Deny if s.matched => {
                lines.push(format!(
                    "{name}: matches this job, and an explicit Deny overrides every Allow"
                ));
                if s.conditions.is_empty() {
                    lines.push(format!(
                        "{INDENT}it has no conditions, so it denies every job from this provider"
                    ));
                }
                for c in &s.conditions {
                    lines.push(format!("{INDENT}  {} {}", c.operator, c.key));
                    lines.extend(condition_lines(c).into_iter().map(|l| format!("  {l}")));
                }
            }
            Effect::Deny => {}
        }
    }
    if !eval
        .statements
        .iter()
        .any(|s| s.effect == Effect::Allow && s.applies_to_principal)
    {
        lines.push(format!(
            "no Allow statement trusts this token's provider ({})",
            claims.provider()
        ));
    }
    lines
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("  policy  {l}")
            } else if l.starts_with(' ') {
                l
            } else {
                format!("{INDENT}{l}")
            }
        })
        .collect()
}

fn condition_lines(c: &ConditionOutcome) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, v) in c.expected.iter().enumerate() {
        lines.push(format!(
            "{INDENT}{}{v}",
            if i == 0 { "wants   " } else { "        " }
        ));
    }
    if c.expected.is_empty() {
        lines.push(format!("{INDENT}wants   (no values)"));
    }
    lines.push(format!(
        "{INDENT}got     {}",
        c.actual
            .as_ref()
            .map(|a| a.join(", "))
            .unwrap_or_else(|| "(absent)".into())
    ));
    if let Some(note) = &c.note {
        lines.push(format!("{INDENT}note    {note}"));
    }
    lines
}

fn describe_principal(policy: &TrustPolicy, index: usize) -> Option<String> {
    let (not, principals) = match &policy.statements.get(index)?.principal {
        PrincipalElement::Principal(p) => ("", p),
        PrincipalElement::NotPrincipal(p) => ("everyone but ", p),
    };
    match principals {
        Principals::Any => None,
        Principals::Listed(entries) => Some(format!(
            "{not}{}",
            entries
                .iter()
                .map(|(k, v)| format!("{k} {}", v.join(", ")))
                .collect::<Vec<_>>()
                .join("; ")
        )),
    }
}
