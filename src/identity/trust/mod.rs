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
//! - An operator this module does not implement (Numeric*, Date*, Arn*, Bool, ...) or does not
//!   know fails its condition, so the statement does not match, and the outcome says why.
//! - Policy variables (`${...}`) are expanded only under `Version` 2012-10-17, as IAM does; a
//!   variable naming something other than a claim of this token never matches.
//! - Indices in `Decision` and `StatementOutcome` are 0-based positions in `Statement`.

use std::fmt;

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};

use super::claims::{Claims, json_kind, json_values};

pub const GITHUB_PROVIDER: &str = "token.actions.githubusercontent.com";
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

impl TrustPolicy {
    /// Accepts a bare policy document, `aws iam get-role` output, a URL-encoded document (as the
    /// IAM API returns it), or a JSON string holding either.
    pub fn parse(text: &str) -> Result<TrustPolicy, PolicyError> {
        let value = decode_document_text(text)?;
        let value = unwrap_get_role(value)?;
        let Value::Object(doc) = value else {
            return Err(PolicyError::NotAnObject {
                found: json_kind(&value),
            });
        };
        let version = field(&doc, "Version")
            .and_then(Value::as_str)
            .map(str::to_string);
        let statements = match field(&doc, "Statement") {
            None => return Err(PolicyError::NoStatement),
            Some(Value::Array(items)) => items.clone(),
            Some(one) => vec![one.clone()],
        };
        let statements = statements
            .iter()
            .enumerate()
            .map(|(i, s)| {
                parse_statement(s).map_err(|problem| PolicyError::Statement {
                    number: i + 1,
                    problem,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TrustPolicy {
            version,
            statements,
        })
    }
}

fn decode_document_text(text: &str) -> Result<Value, PolicyError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(PolicyError::Empty);
    }
    if text.starts_with('{') || text.starts_with('"') || text.starts_with('[') {
        let value: Value = serde_json::from_str(text).map_err(PolicyError::Json)?;
        return match value {
            // A document serialised twice, or an encoded document inside a JSON string.
            Value::String(inner) => decode_document_text(&inner),
            other => Ok(other),
        };
    }
    let decoded = percent_decode_str(text)
        .decode_utf8()
        .map_err(PolicyError::UrlDecoding)?;
    match serde_json::from_str(&decoded) {
        Ok(value) => Ok(value),
        // Form encoding writes spaces as '+'; a literal '+' would then be %2B.
        Err(first) => {
            serde_json::from_str(&decoded.replace('+', " ")).map_err(|_| PolicyError::Json(first))
        }
    }
}

fn unwrap_get_role(value: Value) -> Result<Value, PolicyError> {
    let Value::Object(map) = &value else {
        return Ok(value);
    };
    let role = field(map, "Role");
    let holder = role.and_then(Value::as_object).unwrap_or(map);
    match field(holder, "AssumeRolePolicyDocument") {
        Some(Value::String(s)) => decode_document_text(s),
        Some(doc) => Ok(doc.clone()),
        None if role.is_some() => Err(PolicyError::NoDocumentInRole),
        None => Ok(value),
    }
}

/// Element lookup: exact name first, then ignoring ASCII case (see the module note).
fn field<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.get(name).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn parse_statement(value: &Value) -> Result<Statement, String> {
    let Value::Object(map) = value else {
        return Err(format!("is {}, expected an object", json_kind(value)));
    };
    let sid = field(map, "Sid")
        .and_then(Value::as_str)
        .map(str::to_string);
    let effect = match field(map, "Effect").and_then(Value::as_str) {
        Some(e) if e.eq_ignore_ascii_case("Allow") => Effect::Allow,
        Some(e) if e.eq_ignore_ascii_case("Deny") => Effect::Deny,
        Some(e) => return Err(format!("Effect is {e:?}; expected \"Allow\" or \"Deny\"")),
        None => return Err("has no Effect; expected \"Allow\" or \"Deny\"".into()),
    };
    let principal = match (field(map, "Principal"), field(map, "NotPrincipal")) {
        (Some(p), None) => PrincipalElement::Principal(parse_principals(p)?),
        (None, Some(p)) => PrincipalElement::NotPrincipal(parse_principals(p)?),
        (Some(_), Some(_)) => {
            return Err("has both Principal and NotPrincipal; IAM allows one".into());
        }
        (None, None) => {
            return Err("has no Principal; a trust policy statement must name one".into());
        }
    };
    let actions = match (field(map, "Action"), field(map, "NotAction")) {
        (Some(a), None) => ActionElement::Action(string_list(a, "Action")?),
        (None, Some(a)) => ActionElement::NotAction(string_list(a, "NotAction")?),
        (Some(_), Some(_)) => return Err("has both Action and NotAction; IAM allows one".into()),
        (None, None) => return Err(format!("has no Action; expected e.g. \"{ASSUME_ACTION}\"")),
    };
    let conditions = match field(map, "Condition") {
        None | Some(Value::Null) => Vec::new(),
        Some(c) => parse_conditions(c)?,
    };
    Ok(Statement {
        sid,
        effect,
        principal,
        actions,
        conditions,
    })
}

fn parse_principals(value: &Value) -> Result<Principals, String> {
    match value {
        Value::String(s) if s == "*" => Ok(Principals::Any),
        Value::Object(map) => map
            .iter()
            .map(|(kind, v)| Ok((kind.clone(), string_list(v, &format!("Principal.{kind}"))?)))
            .collect::<Result<_, String>>()
            .map(Principals::Listed),
        other => Err(format!(
            "Principal is {}; expected \"*\" or an object like {{\"Federated\": \"arn:...\"}}",
            json_kind(other)
        )),
    }
}

fn string_list(value: &Value, what: &str) -> Result<Vec<String>, String> {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        one => vec![one],
    };
    items
        .into_iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("{what} holds {}; expected strings", json_kind(v)))
        })
        .collect()
}

fn parse_conditions(value: &Value) -> Result<Vec<Condition>, String> {
    let Value::Object(ops) = value else {
        return Err(format!(
            "Condition is {}; expected an object of operators",
            json_kind(value)
        ));
    };
    let mut out = Vec::new();
    for (operator, keys) in ops {
        let Value::Object(keys) = keys else {
            return Err(format!(
                "Condition.{operator} is {}; expected an object of keys",
                json_kind(keys)
            ));
        };
        for (key, values) in keys {
            let list = match values {
                Value::Array(items) => items
                    .iter()
                    .map(|v| condition_value(v, operator, key))
                    .collect::<Result<_, _>>()?,
                one => vec![condition_value(one, operator, key)?],
            };
            out.push(Condition {
                operator: operator.clone(),
                key: key.clone(),
                values: list,
            });
        }
    }
    Ok(out)
}

fn condition_value(value: &Value, operator: &str, key: &str) -> Result<String, String> {
    json_values(value)
        .filter(|_| !value.is_array())
        .and_then(|mut v| v.pop())
        .ok_or_else(|| {
            format!(
                "Condition.{operator}.{key} holds {}; expected strings, numbers or booleans",
                json_kind(value)
            )
        })
}

// ---------------------------------------------------------------------------------------------
// Evaluation

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

/// An IAM OIDC provider ARN taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderArn {
    pub partition: String,
    pub account: String,
    /// e.g. `token.actions.githubusercontent.com` or `.../octo-enterprise`.
    pub provider: String,
}

pub fn parse_provider_arn(arn: &str) -> Option<ProviderArn> {
    let mut parts = arn.splitn(6, ':');
    let (arn_, partition, service, region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let provider = resource.strip_prefix("oidc-provider/")?;
    let ok = arn_ == "arn"
        && partition.starts_with("aws")
        && service == "iam"
        && region.is_empty()
        && !account.is_empty();
    ok.then(|| ProviderArn {
        partition: partition.into(),
        account: account.into(),
        provider: provider.into(),
    })
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    ForAnyValue,
    ForAllValues,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BaseOp {
    Equals { ignore_case: bool, negated: bool },
    Like { negated: bool },
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Operator {
    set: Option<SetOp>,
    base: BaseOp,
    if_exists: bool,
}

/// IAM operators outside this check's reach: valid, but never used on GitHub claims in practice.
const UNSUPPORTED_IAM_OPERATORS: &[&str] = &[
    "numericequals",
    "numericnotequals",
    "numericlessthan",
    "numericlessthanequals",
    "numericgreaterthan",
    "numericgreaterthanequals",
    "dateequals",
    "datenotequals",
    "datelessthan",
    "datelessthanequals",
    "dategreaterthan",
    "dategreaterthanequals",
    "bool",
    "binaryequals",
    "ipaddress",
    "notipaddress",
    "arnequals",
    "arnlike",
    "arnnotequals",
    "arnnotlike",
];

fn parse_operator(text: &str) -> Result<Operator, String> {
    let lower = text.to_ascii_lowercase();
    let (set, rest) = if let Some(r) = lower.strip_prefix("foranyvalue:") {
        (Some(SetOp::ForAnyValue), r)
    } else if let Some(r) = lower.strip_prefix("forallvalues:") {
        (Some(SetOp::ForAllValues), r)
    } else {
        (None, lower.as_str())
    };
    let (base_name, if_exists) = match rest.strip_suffix("ifexists") {
        Some(b) => (b, true),
        None => (rest, false),
    };
    let base = match base_name {
        "stringequals" => BaseOp::Equals {
            ignore_case: false,
            negated: false,
        },
        "stringnotequals" => BaseOp::Equals {
            ignore_case: false,
            negated: true,
        },
        "stringequalsignorecase" => BaseOp::Equals {
            ignore_case: true,
            negated: false,
        },
        "stringnotequalsignorecase" => BaseOp::Equals {
            ignore_case: true,
            negated: true,
        },
        "stringlike" => BaseOp::Like { negated: false },
        "stringnotlike" => BaseOp::Like { negated: true },
        "null" if set.is_none() && !if_exists => BaseOp::Null,
        "null" => {
            return Err(format!(
                "{text} is not valid IAM: Null takes no ForAnyValue:/ForAllValues: or IfExists"
            ));
        }
        b if UNSUPPORTED_IAM_OPERATORS.contains(&b) => {
            return Err(format!("this check does not evaluate the {text} operator"));
        }
        _ => return Err(format!("{text} is not an IAM condition operator")),
    };
    Ok(Operator {
        set,
        base,
        if_exists,
    })
}

/// For `diagnose`: how an operator admits values. `Some((like, ignore_case))` for the
/// non-negated string operators (with any set prefix or IfExists), `None` for everything else.
pub(crate) fn admitting_operator(operator: &str) -> Option<(bool, bool)> {
    match parse_operator(operator).ok()?.base {
        BaseOp::Equals {
            ignore_case,
            negated: false,
        } => Some((false, ignore_case)),
        BaseOp::Like { negated: false } => Some((true, false)),
        _ => None,
    }
}

/// For `diagnose`: why an operator cannot be evaluated, if it cannot.
pub(crate) fn operator_problem(operator: &str) -> Option<String> {
    parse_operator(operator).err()
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
            None if op.if_exists => true,
            None => match op.set {
                Some(SetOp::ForAllValues) => true,
                Some(SetOp::ForAnyValue) => false,
                None => negated,
            },
            Some(values) => {
                let (like, ignore_case) = match op.base {
                    BaseOp::Like { .. } => (true, false),
                    BaseOp::Equals { ignore_case, .. } => (false, ignore_case),
                    BaseOp::Null => unreachable!("handled above"),
                };
                let patterns: Vec<Option<Vec<Piece>>> = c
                    .values
                    .iter()
                    .map(|v| expand(v, like, variables, claims, provider))
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

// ---------------------------------------------------------------------------------------------
// Matching

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Lit(char),
    /// Any run of characters, '/' included.
    Star,
    /// Exactly one character.
    One,
}

/// A pattern without variables; `like` makes `*` and `?` wildcards.
fn pieces(text: &str, like: bool) -> Vec<Piece> {
    text.chars()
        .map(|c| match c {
            '*' if like => Piece::Star,
            '?' if like => Piece::One,
            c => Piece::Lit(c),
        })
        .collect()
}

/// A condition value with its policy variables expanded. `None` when a variable cannot be
/// resolved: IAM then finds no match for that value.
fn expand(
    value: &str,
    like: bool,
    variables: bool,
    claims: &Claims,
    provider: &str,
) -> Option<Vec<Piece>> {
    if !variables {
        return Some(pieces(value, like));
    }
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.extend(pieces(&rest[..start], like));
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.extend(pieces(&rest[start..], like));
            return Some(out);
        };
        let inner = after[..end].trim();
        let literal = match inner {
            "*" | "?" | "$" => inner.to_string(),
            _ => {
                let (key, default) = match inner.split_once(',') {
                    Some((k, d)) => (k.trim(), Some(d.trim().trim_matches('\'').to_string())),
                    None => (inner, None),
                };
                match context_values(key, claims, provider) {
                    Some(vals) if vals.len() == 1 => vals[0].clone(),
                    _ => default?,
                }
            }
        };
        out.extend(literal.chars().map(Piece::Lit));
        rest = &after[end + 1..];
    }
    out.extend(pieces(rest, like));
    Some(out)
}

/// Linear-time wildcard match with single-star backtracking (no recursion, no blow-up).
fn wildcard_match(pattern: &[Piece], text: &str, ignore_case: bool) -> bool {
    let text: Vec<char> = text.chars().collect();
    let eq = |a: char, b: char| {
        if ignore_case {
            a == b || a.to_lowercase().eq(b.to_lowercase())
        } else {
            a == b
        }
    };
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Piece::Star) => {
                backtrack = Some((p, t));
                p += 1;
            }
            Some(Piece::One) => {
                p += 1;
                t += 1;
            }
            Some(Piece::Lit(c)) if eq(*c, text[t]) => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    backtrack = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|x| *x == Piece::Star)
}

/// StringLike as IAM applies it (case-sensitive, `*` and `?`, no variables): for `diagnose`.
pub fn string_like(pattern: &str, text: &str, ignore_case: bool) -> bool {
    wildcard_match(&pieces(pattern, true), text, ignore_case)
}

#[cfg(test)]
#[path = "trust_tests.rs"]
mod tests;
