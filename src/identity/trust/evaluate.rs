//! Evaluating a parsed policy for this one request: which statements apply to the principal and
//! the action, each condition judged against the token's claims, and the decision IAM would
//! reach (an explicit Deny beats any Allow; nothing matching is an implicit deny). Every
//! statement and every condition is evaluated, not just up to the first failure, because
//! `diagnose` shows all of them.

use super::arn::parse_provider_arn;
use super::matching::{Piece, expand, pieces, wildcard_match};
use super::operators::{BaseOp, SetOp, parse_operator};
use super::{
    ASSUME_ACTION, ActionElement, Condition, Effect, PrincipalElement, Principals, TrustPolicy,
};
use crate::identity::claims::{Claims, json_values};

#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub decision: Decision,
    pub statements: Vec<StatementOutcome>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed { statement: usize },
    ExplicitDeny { statement: usize },
    ImplicitDeny,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StatementOutcome {
    pub index: usize,
    pub effect: Effect,
    pub applies_to_principal: bool,
    pub applies_to_action: bool,
    /// Every condition, in order (all are evaluated, not just up to the first failure).
    pub conditions: Vec<ConditionOutcome>,
    pub matched: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConditionOutcome {
    pub operator: String,
    pub key: String,
    pub expected: Vec<String>,
    /// The request-context values; `None` when the key is absent.
    pub actual: Option<Vec<String>>,
    pub passed: bool,
    /// Why the check could not judge this condition as IAM would (unknown operator, a key this
    /// check cannot see), for the user to read.
    pub note: Option<String>,
}

pub fn evaluate(policy: &TrustPolicy, claims: &Claims) -> Evaluation {
    let provider = claims.provider();
    let variables = policy.version.as_deref() == Some("2012-10-17");
    let statements: Vec<StatementOutcome> = policy
        .statements
        .iter()
        .enumerate()
        .map(|(index, s)| {
            let applies_to_principal = principal_applies(&s.principal, &provider);
            let applies_to_action = action_applies(&s.actions);
            let conditions: Vec<ConditionOutcome> = s
                .conditions
                .iter()
                .map(|c| evaluate_condition(c, claims, &provider, variables))
                .collect();
            let matched =
                applies_to_principal && applies_to_action && conditions.iter().all(|c| c.passed);
            StatementOutcome {
                index,
                effect: s.effect,
                applies_to_principal,
                applies_to_action,
                conditions,
                matched,
            }
        })
        .collect();
    let first = |effect| {
        statements
            .iter()
            .find(|o| o.matched && o.effect == effect)
            .map(|o| o.index)
    };
    let decision = match (first(Effect::Deny), first(Effect::Allow)) {
        (Some(statement), _) => Decision::ExplicitDeny { statement },
        (None, Some(statement)) => Decision::Allowed { statement },
        (None, None) => Decision::ImplicitDeny,
    };
    Evaluation {
        decision,
        statements,
    }
}

fn principal_applies(element: &PrincipalElement, provider: &str) -> bool {
    match element {
        PrincipalElement::Principal(p) => principals_include(p, provider),
        PrincipalElement::NotPrincipal(p) => !principals_include(p, provider),
    }
}

/// Whether a principal list names this web-identity caller: `"*"`, `{"AWS": "*"}` (equivalent to
/// `"*"` per IAM), `{"Federated": "*"}`, or the provider ARN of this token's issuer in any
/// account and partition (the account is checked against the role in `diagnose`). Specific `AWS`
/// or `Service` principals never apply to a web identity.
fn principals_include(principals: &Principals, provider: &str) -> bool {
    match principals {
        Principals::Any => true,
        Principals::Listed(entries) => entries.iter().any(|(kind, values)| {
            values.iter().any(|v| {
                (kind.eq_ignore_ascii_case("AWS") && v == "*")
                    || (kind.eq_ignore_ascii_case("Federated")
                        && (v == "*"
                            || parse_provider_arn(v)
                                .is_some_and(|a| a.provider.eq_ignore_ascii_case(provider))))
            })
        }),
    }
}

fn action_applies(actions: &ActionElement) -> bool {
    let hit = |list: &[String]| {
        list.iter()
            .any(|a| wildcard_match(&pieces(a, true), ASSUME_ACTION, true))
    };
    match actions {
        ActionElement::Action(list) => hit(list),
        ActionElement::NotAction(list) => !hit(list),
    }
}

/// The claim a condition key reads, when the key belongs to `provider` (case-insensitive).
pub fn claim_name<'k>(key: &'k str, provider: &str) -> Option<&'k str> {
    let (prefix, claim) = key.rsplit_once(':')?;
    (prefix.eq_ignore_ascii_case(provider) && !claim.is_empty()).then_some(claim)
}

fn context_values(key: &str, claims: &Claims, provider: &str) -> Option<Vec<String>> {
    let claim = claim_name(key, provider)?;
    claims
        .get_ignore_case(claim)
        .and_then(|(_, v)| json_values(v))
}

fn evaluate_condition(
    c: &Condition,
    claims: &Claims,
    provider: &str,
    variables: bool,
) -> ConditionOutcome {
    let actual = context_values(&c.key, claims, provider);
    let mut outcome = ConditionOutcome {
        operator: c.operator.clone(),
        key: c.key.clone(),
        expected: c.values.clone(),
        actual: actual.clone(),
        passed: false,
        note: None,
    };
    let op = match parse_operator(&c.operator) {
        Ok(op) => op,
        Err(why) => {
            outcome.note = Some(format!("{why}; the statement is treated as not matching"));
            return outcome;
        }
    };
    if claim_name(&c.key, provider).is_none() {
        outcome.note = Some(format!(
            "{} is not a claim of this token's provider ({provider}); treated as absent",
            c.key
        ));
    }
    outcome.passed = match op.base {
        BaseOp::Null => {
            let absent = actual.is_none();
            let wants: Vec<Option<bool>> = c.values.iter().map(|v| parse_bool(v)).collect();
            if wants.iter().any(Option::is_none) {
                outcome.note = Some("Null takes \"true\" or \"false\"".into());
                false
            } else {
                wants.contains(&Some(absent))
            }
        }
        BaseOp::Equals { negated, .. } | BaseOp::Like { negated } => match &actual {
            // An absent key: ForAnyValue has no value to match, even with IfExists (IAM
            // behaves so, and so does the independent engine the tests compare against);
            // ForAllValues holds vacuously; otherwise IfExists passes and a negated operator
            // holds.
            None => match op.set {
                Some(SetOp::ForAllValues) => true,
                Some(SetOp::ForAnyValue) => false,
                None => op.if_exists || negated,
            },
            Some(values) => {
                let (like, ignore_case) = op.base.comparison().expect("Null is handled above");
                let lookup = |key: &str| context_values(key, claims, provider);
                let patterns: Vec<Option<Vec<Piece>>> = c
                    .values
                    .iter()
                    .map(|v| expand(v, like, variables, &lookup))
                    .collect();
                let hit = |v: &String| {
                    patterns
                        .iter()
                        .flatten()
                        .any(|p| wildcard_match(p, v, ignore_case))
                };
                match (op.set, negated) {
                    (None, false) | (Some(SetOp::ForAnyValue), false) => values.iter().any(hit),
                    (None, true) => !values.iter().any(hit),
                    (Some(SetOp::ForAnyValue), true) => values.iter().any(|v| !hit(v)),
                    (Some(SetOp::ForAllValues), false) => values.iter().all(hit),
                    (Some(SetOp::ForAllValues), true) => values.iter().all(|v| !hit(v)),
                }
            }
        },
    };
    outcome
}

fn parse_bool(v: &str) -> Option<bool> {
    if v.eq_ignore_ascii_case("true") {
        Some(true)
    } else if v.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}
