//! Reading a trust policy into the model in `mod.rs`: the forms it arrives in (a bare document,
//! `aws iam get-role` output, URL-encoded as the IAM API returns it, or a JSON string holding
//! any of these) and the IAM element shapes (a single value or a list, `Principal` or
//! `NotPrincipal`, `Action` or `NotAction`). Errors name the statement and the element, so a
//! hand-written policy can be fixed from the message alone.

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};

use super::{
    ASSUME_ACTION, ActionElement, Condition, Effect, PolicyError, PrincipalElement, Principals,
    Statement, TrustPolicy,
};
use crate::identity::claims::{json_kind, json_values};

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
