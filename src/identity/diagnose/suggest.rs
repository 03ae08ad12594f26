//! The least-privilege fix: a new Allow statement for this token's exact `sub` and audience (why
//! a new statement and nothing broader: see `mod.rs`), and the text that shows it.

use serde_json::{Value, json};

use super::causes::github_provider_accounts;
use crate::identity::claims::Claims;
use crate::identity::trust::{ASSUME_ACTION, TrustPolicy, arn_fields};

pub(super) fn suggestion(
    role_arn: &str,
    policy: &TrustPolicy,
    claims: &Claims,
    audience: &str,
) -> (Option<Value>, Option<Value>) {
    let Some(sub) = claims.sub().filter(|s| !s.is_empty()) else {
        return (None, None);
    };
    let provider = claims.provider();
    let role = arn_fields(role_arn)
        .filter(|a| a.partition.starts_with("aws") && a.service == "iam" && !a.account.is_empty());
    let provider_arn = match role {
        Some(role) => format!(
            "arn:{}:iam::{}:oidc-provider/{provider}",
            role.partition, role.account
        ),
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

pub(super) fn fix_text(condition: &Value, statement: Option<&Value>) -> String {
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
