//! Why the role refuses this job, in words a platform engineer can act on: the claims that
//! matter, the condition of each statement that failed (what it wants, what the token has), the
//! classic causes by name, and the one least-privilege change that admits this job and nothing
//! else.
//!
//! The fix is always a *new* Allow statement whose condition is the exact `sub` of this token
//! plus the audience. Adding a key to an existing statement would AND it with the conditions that
//! already refuse the job, so a new statement is the only edit that is right in every case; it
//! carries its own `aud` check because conditions never carry over between statements. Nothing
//! broader than the exact `sub` is ever suggested.
//!
//! `KnownCause` statement numbers are 0-based, like `trust::Evaluation`; text shows them 1-based.

use std::fmt;

use serde_json::{Value, json};

use super::claims::Claims;
use super::trust::{
    ASSUME_ACTION, ConditionOutcome, Decision, Effect, Evaluation, PrincipalElement, Principals,
    StatementOutcome, TrustPolicy, admitting_operator, claim_name, evaluate, operator_problem,
    parse_provider_arn, string_like,
};

#[derive(Debug, Clone, PartialEq)]
pub struct Diagnosis {
    pub headline: String,
    /// Display lines, already indented, without trailing newlines.
    pub evidence: Vec<String>,
    /// May span lines.
    pub hint: Option<String>,
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
        expected: String,
        got: Vec<String>,
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

const INDENT: &str = "          ";

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
    let mut paragraphs: Vec<String> = causes
        .iter()
        .filter_map(|c| explain(c, claims, audience))
        .collect();
    let (headline, wants_fix) = match eval.decision {
        Decision::Allowed { statement } => (
            format!(
                "the trust policy of {role_arn} admits this job (statement {})",
                statement + 1
            ),
            false,
        ),
        Decision::ExplicitDeny { statement } => (
            format!(
                "the trust policy of {role_arn} explicitly denies this job (statement {})",
                statement + 1
            ),
            false,
        ),
        Decision::ImplicitDeny => (
            format!("the trust policy of {role_arn} does not admit this job"),
            !only_audience_fails(eval, claims),
        ),
    };
    let (suggested_condition, suggested_statement) = if wants_fix {
        suggestion(role_arn, policy, claims, audience)
    } else {
        (None, None)
    };
    if let Some(condition) = &suggested_condition {
        paragraphs.push(fix_text(condition, suggested_statement.as_ref()));
    } else if eval.decision == Decision::ImplicitDeny && paragraphs.is_empty() {
        paragraphs
            .push("the token has no `sub` claim, so no subject condition can admit it.".into());
    }
    Diagnosis {
        headline,
        evidence,
        hint: (!paragraphs.is_empty()).then(|| wrap(&paragraphs.join("\n"))),
        suggested_condition,
        suggested_statement,
        causes,
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
            suggested_condition: None,
            suggested_statement: None,
            causes: vec![cause],
        };
    }
    if let Some(policy) = policy {
        let eval = evaluate(policy, claims);
        let mut d = diagnose_policy(role_arn, policy, &eval, claims, audience);
        d.evidence.insert(0, sts_line);
        if let Decision::Allowed { .. } = eval.decision {
            d.headline =
                format!("the trust policy of {role_arn} admits this job, yet STS refused it");
            let mut paragraphs: Vec<String> = d
                .causes
                .iter()
                .filter_map(|c| explain(c, claims, audience))
                .collect();
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
    let mut causes = Vec::new();
    if let Some(environment) = claims.environment() {
        let branch = claims
            .git_ref()
            .and_then(|r| r.strip_prefix("refs/heads/"))
            .map(str::to_string);
        causes.push(KnownCause::EnvironmentInSub {
            environment: environment.to_string(),
            branch,
        });
    }
    if let (Some(subject), Some(sub)) = (claims.subject(), claims.sub())
        && subject.is_id_form()
    {
        causes.push(KnownCause::IdForm {
            token_has_ids: true,
            token_sub: sub.to_string(),
            policy_value: None,
        });
    }
    let auds = claims.audiences();
    if !auds.iter().any(|a| a == audience) {
        causes.push(KnownCause::AudienceMismatch {
            expected: audience.to_string(),
            got: auds,
        });
    }
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
    let (suggested_condition, suggested_statement) = suggestion(role_arn, &empty, claims, audience);
    if let Some(condition) = &suggested_condition {
        paragraphs.push(fix_text(condition, suggested_statement.as_ref()));
    }
    Diagnosis {
        headline: format!(
            "STS refused to let this job assume {role_arn} (AccessDenied)"
        ),
        evidence,
        hint: Some(wrap(&paragraphs.join("\n"))),
        suggested_condition,
        suggested_statement,
        causes,
    }
}

// ---------------------------------------------------------------------------------------------
// Evidence

fn token_evidence(claims: &Claims) -> Vec<String> {
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

fn policy_evidence(policy: &TrustPolicy, eval: &Evaluation, claims: &Claims) -> Vec<String> {
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

// ---------------------------------------------------------------------------------------------
// Causes

fn find_causes(
    role_arn: &str,
    policy: &TrustPolicy,
    eval: &Evaluation,
    claims: &Claims,
) -> Vec<KnownCause> {
    let provider = claims.provider();
    let mut causes = Vec::new();
    if let Decision::ExplicitDeny { statement } = eval.decision {
        let sid = policy.statements.get(statement).and_then(|s| s.sid.clone());
        causes.push(KnownCause::ExplicitDeny { statement, sid });
    }
    let allows: Vec<&StatementOutcome> = eval
        .statements
        .iter()
        .filter(|s| s.effect == Effect::Allow)
        .collect();
    if !allows.iter().any(|s| s.applies_to_principal) {
        causes.push(KnownCause::NoStatementForProvider);
    }
    if let Some(role_account) = role_account(role_arn) {
        for s in allows.iter().filter(|s| s.applies_to_principal) {
            if let Some(account) = github_provider_accounts(policy, s.index, &provider)
                .into_iter()
                .find(|a| *a != role_account)
            {
                causes.push(KnownCause::ProviderAccountMismatch {
                    statement: s.index,
                    provider_account: account,
                    role_account: role_account.to_string(),
                });
                break;
            }
        }
    }
    let relevant: Vec<&&StatementOutcome> = allows
        .iter()
        .filter(|s| s.applies_to_principal && s.applies_to_action)
        .collect();
    if relevant.is_empty()
        && let Some(s) = allows.iter().find(|s| s.applies_to_principal)
    {
        causes.push(KnownCause::ActionNotCovered { statement: s.index });
    }
    if eval.decision != Decision::ImplicitDeny {
        return causes;
    }
    let failed: Vec<(usize, &ConditionOutcome)> = relevant
        .iter()
        .flat_map(|s| {
            s.conditions
                .iter()
                .filter(|c| !c.passed)
                .map(move |c| (s.index, c))
        })
        .collect();
    let claim_is = |c: &ConditionOutcome, name: &str| {
        claim_name(&c.key, &provider).is_some_and(|n| n.eq_ignore_ascii_case(name))
    };
    let sub_patterns: Vec<&str> = failed
        .iter()
        .filter(|(_, c)| claim_is(c, "sub") && admitting_operator(&c.operator).is_some())
        .flat_map(|(_, c)| c.expected.iter().map(String::as_str))
        .collect();
    let sub = claims.sub().unwrap_or_default();

    if let Some(environment) = claims.environment() {
        if sub.contains(":environment:") && sub_patterns.iter().any(|p| p.contains(":ref:")) {
            let branch = claims
                .git_ref()
                .and_then(|r| r.strip_prefix("refs/heads/"))
                .map(str::to_string);
            causes.push(KnownCause::EnvironmentInSub {
                environment: environment.to_string(),
                branch,
            });
        }
    } else if !sub_patterns.is_empty() && sub_patterns.iter().all(|p| p.contains(":environment:")) {
        let mut wanted: Vec<String> = Vec::new();
        for p in &sub_patterns {
            let env = p
                .split(":environment:")
                .nth(1)
                .map(|e| e.split(':').next().unwrap_or(e));
            if let Some(env) = env.filter(|e| !wanted.iter().any(|w| w == e)) {
                wanted.push(env.to_string());
            }
        }
        causes.push(KnownCause::EnvironmentMissing { wanted });
    }
    if let Some(subject) = claims.subject() {
        let token_repo = format!("{}/{}", subject.owner, subject.repo);
        let other_form = sub_patterns.iter().find(|p| {
            let Some(repo_part) = p.strip_prefix("repo:").and_then(|r| r.split(':').next()) else {
                return false;
            };
            repo_part.contains('@') != subject.is_id_form()
                && string_like(&strip_ids(repo_part), &token_repo, true)
        });
        if let Some(p) = other_form {
            causes.push(KnownCause::IdForm {
                token_has_ids: subject.is_id_form(),
                token_sub: sub.to_string(),
                policy_value: Some(p.to_string()),
            });
        }
    }
    'case: for (_, c) in &failed {
        let (Some((like, false)), Some(actual)) = (admitting_operator(&c.operator), &c.actual)
        else {
            continue;
        };
        for wanted in &c.expected {
            for got in actual {
                let folded = if like {
                    string_like(wanted, got, true)
                } else {
                    wanted.to_lowercase() == got.to_lowercase()
                };
                if folded {
                    causes.push(KnownCause::CaseMismatch {
                        key: c.key.clone(),
                        wanted: wanted.clone(),
                        got: got.clone(),
                    });
                    break 'case;
                }
            }
        }
    }
    if let Some((_, c)) = failed
        .iter()
        .find(|(_, c)| claim_is(c, "aud") && admitting_operator(&c.operator).is_some())
    {
        causes.push(KnownCause::AudienceMismatch {
            expected: c.expected.join(", "),
            got: claims.audiences(),
        });
    }
    for (statement, c) in &failed {
        if operator_problem(&c.operator).is_some() {
            causes.push(KnownCause::UnevaluatedCondition {
                statement: *statement,
                operator: c.operator.clone(),
                key: c.key.clone(),
            });
        }
    }
    causes
}

/// `octo-org@1342004/payments@*` -> `octo-org/payments`.
fn strip_ids(repo_part: &str) -> String {
    repo_part
        .split('/')
        .map(|seg| match seg.rsplit_once('@') {
            Some((name, id))
                if id
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '*' || c == '?') =>
            {
                name
            }
            _ => seg,
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn role_account(role_arn: &str) -> Option<&str> {
    let mut parts = role_arn.split(':');
    let (arn, _, iam, _, account) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    (arn == "arn" && iam == "iam" && !account.is_empty()).then_some(account)
}

fn role_partition(role_arn: &str) -> Option<&str> {
    role_arn
        .strip_prefix("arn:")?
        .split(':')
        .next()
        .filter(|p| p.starts_with("aws"))
}

fn github_provider_accounts(policy: &TrustPolicy, index: usize, provider: &str) -> Vec<String> {
    let Some(PrincipalElement::Principal(Principals::Listed(entries))) =
        policy.statements.get(index).map(|s| &s.principal)
    else {
        return Vec::new();
    };
    entries
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("Federated"))
        .flat_map(|(_, v)| v.iter().filter_map(|arn| parse_provider_arn(arn)))
        .filter(|a| a.provider.eq_ignore_ascii_case(provider))
        .map(|a| a.account)
        .collect()
}

fn only_audience_fails(eval: &Evaluation, claims: &Claims) -> bool {
    let provider = claims.provider();
    eval.statements.iter().any(|s| {
        s.effect == Effect::Allow && s.applies_to_principal && s.applies_to_action && {
            let failed: Vec<&ConditionOutcome> =
                s.conditions.iter().filter(|c| !c.passed).collect();
            !failed.is_empty()
                && failed.iter().all(|c| {
                    claim_name(&c.key, &provider).is_some_and(|n| n.eq_ignore_ascii_case("aud"))
                })
        }
    })
}

fn sts_cause(message: &str, claims: &Claims) -> Option<KnownCause> {
    let lower = message.to_ascii_lowercase();
    if lower.contains("incorrect token audience") {
        Some(KnownCause::ProviderAudience {
            audiences: claims.audiences(),
        })
    } else if lower.contains("no openidconnect provider found") {
        let issuer = claims
            .string("iss")
            .unwrap_or("https://token.actions.githubusercontent.com")
            .to_string();
        Some(KnownCause::ProviderMissing { issuer })
    } else {
        None
    }
}

fn explain(cause: &KnownCause, claims: &Claims, audience: &str) -> Option<String> {
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
            "the token's aud is {}, but the policy expects {expected}: set the action's `audience` input \
             to {expected} (GitHub's default for AWS is sts.amazonaws.com).",
            if got.is_empty() {
                "(absent)".to_string()
            } else {
                got.join(", ")
            }
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
fn wrap(text: &str) -> String {
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

// ---------------------------------------------------------------------------------------------
// The fix

fn suggestion(
    role_arn: &str,
    policy: &TrustPolicy,
    claims: &Claims,
    audience: &str,
) -> (Option<Value>, Option<Value>) {
    let Some(sub) = claims.sub().filter(|s| !s.is_empty()) else {
        return (None, None);
    };
    let provider = claims.provider();
    let provider_arn = match (role_partition(role_arn), role_account(role_arn)) {
        (Some(partition), Some(account)) => {
            format!("arn:{partition}:iam::{account}:oidc-provider/{provider}")
        }
        // No usable role ARN: reuse a provider ARN the policy already names, else a placeholder.
        _ => (0..policy.statements.len())
            .find_map(|i| {
                github_provider_accounts(policy, i, &provider)
                    .into_iter()
                    .next()
                    .map(|a| format!("arn:aws:iam::{a}:oidc-provider/{provider}"))
            })
            .unwrap_or_else(|| format!("arn:aws:iam::<account>:oidc-provider/{provider}")),
    };
    // `${` would start a policy variable; `${$}` is IAM's literal '$'.
    let sub = sub.replace("${", "${$}{");
    let condition = json!({ "StringEquals": {
        format!("{provider}:aud"): audience,
        format!("{provider}:sub"): sub,
    }});
    let statement = json!({
        "Effect": "Allow",
        "Principal": { "Federated": provider_arn },
        "Action": ASSUME_ACTION,
        "Condition": condition,
    });
    (Some(condition), Some(statement))
}

fn fix_text(condition: &Value, statement: Option<&Value>) -> String {
    let arn = statement
        .and_then(|s| s["Principal"]["Federated"].as_str())
        .unwrap_or("the GitHub OIDC provider");
    let mut text = format!(
        "To admit this job, and only it, add an Allow statement for\n  {arn}\n\
         with Action {ASSUME_ACTION} and the condition:"
    );
    for (op, keys) in condition.as_object().into_iter().flatten() {
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

#[cfg(test)]
#[path = "diagnose_tests.rs"]
mod tests;
