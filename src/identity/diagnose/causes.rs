//! The classic causes of a refusal, found by name (`KnownCause`): from the evaluated policy, from
//! the token alone when no policy was given, and from the text of an STS error that refuses the
//! token before any policy is read. Finding a cause is kept apart from wording it (`explain`),
//! so tests can assert on the cause itself.

use super::KnownCause;
use crate::identity::claims::Claims;
use crate::identity::trust::{
    ConditionOutcome, Decision, Effect, Evaluation, PrincipalElement, Principals, StatementOutcome,
    TrustPolicy, admitting_operator, arn_fields, claim_name, operator_problem, parse_provider_arn,
    string_like,
};

pub(super) fn find_causes(
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
    let claim_is = |c: &ConditionOutcome, name: &str| reads_claim(c, &provider, name);
    let sub_patterns: Vec<&str> = failed
        .iter()
        .filter(|(_, c)| claim_is(c, "sub") && admitting_operator(&c.operator).is_some())
        .flat_map(|(_, c)| c.expected.iter().map(String::as_str))
        .collect();
    let sub = claims.sub().unwrap_or_default();

    if let Some(environment) = claims.environment() {
        if sub.contains(":environment:") && sub_patterns.iter().any(|p| p.contains(":ref:")) {
            causes.push(environment_in_sub(environment, claims));
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
            expected: distinct(&c.expected).join(", "),
            got: claims.audiences(),
        });
    }
    let workflow_wanted: Vec<String> = failed
        .iter()
        .filter(|(_, c)| {
            claim_is(c, "job_workflow_ref") && admitting_operator(&c.operator).is_some()
        })
        .flat_map(|(_, c)| c.expected.iter().cloned())
        .collect();
    if !workflow_wanted.is_empty() {
        causes.push(KnownCause::WorkflowRefMismatch {
            wanted: distinct(&workflow_wanted),
            got: claims.job_workflow_ref().map(str::to_string),
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
    arn_fields(role_arn)
        .filter(|a| a.service == "iam" && !a.account.is_empty())
        .map(|a| a.account)
}

/// Whether a condition reads the claim `name` of this token's provider (names ignore case).
fn reads_claim(c: &ConditionOutcome, provider: &str, name: &str) -> bool {
    claim_name(&c.key, provider).is_some_and(|n| n.eq_ignore_ascii_case(name))
}

/// The job runs in `environment`, so its `sub` names that instead of the branch.
fn environment_in_sub(environment: &str, claims: &Claims) -> KnownCause {
    let branch = claims
        .git_ref()
        .and_then(|r| r.strip_prefix("refs/heads/"))
        .map(str::to_string);
    KnownCause::EnvironmentInSub {
        environment: environment.to_string(),
        branch,
    }
}

pub(super) fn github_provider_accounts(
    policy: &TrustPolicy,
    index: usize,
    provider: &str,
) -> Vec<String> {
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

/// Each value once, in first-seen order.
fn distinct(values: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    out
}

pub(super) fn sts_cause(message: &str, claims: &Claims) -> Option<KnownCause> {
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

/// Without a policy: the causes this token alone makes likely.
pub(super) fn token_causes(claims: &Claims, audience: &str) -> Vec<KnownCause> {
    let mut causes = Vec::new();
    if let Some(environment) = claims.environment() {
        causes.push(environment_in_sub(environment, claims));
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
    causes
}
