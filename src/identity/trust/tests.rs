use super::*;
use crate::identity::claims::Claims;
use serde_json::Value;
use serde_json::json;

const GH: &str = "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com";
const K: &str = "token.actions.githubusercontent.com";

/// The job most rows judge: main branch of octo-org/payments, no environment.
fn base_claims() -> Value {
    json!({
        "iss": "https://token.actions.githubusercontent.com",
        "aud": "sts.amazonaws.com",
        "sub": "repo:octo-org/payments:ref:refs/heads/main",
        "ref": "refs/heads/main",
        "repository": "octo-org/payments",
        "repository_owner": "octo-org",
        "repository_id": "88120",
        "repository_owner_id": "1342004",
        "actor": "mona",
        "job_workflow_ref": "octo-org/shared/.github/workflows/deploy.yml@refs/heads/main"
    })
}

/// Base claims with `overrides` merged in; a null override removes the claim.
fn claims_with(overrides: &str) -> Claims {
    let mut map = base_claims().as_object().unwrap().clone();
    let over: Value =
        serde_json::from_str(overrides).unwrap_or_else(|e| panic!("claims {overrides}: {e}"));
    for (k, v) in over.as_object().unwrap() {
        if v.is_null() {
            map.remove(k);
        } else {
            map.insert(k.clone(), v.clone());
        }
    }
    Claims::from_map(map)
}

/// A row's policy: `C:{...}` is the Condition of one Allow statement for the GitHub provider;
/// anything else is the Statement array. `$GH` is the provider ARN, `$K` the key prefix.
fn policy_from(row: &str) -> TrustPolicy {
    let text = row.replace("$GH", GH).replace("$K", K);
    let doc = match text.strip_prefix("C:") {
        Some(cond) => format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{GH}"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{cond}}}]}}"#
        ),
        None => format!(r#"{{"Version":"2012-10-17","Statement":{text}}}"#),
    };
    TrustPolicy::parse(&doc).unwrap_or_else(|e| panic!("policy {doc}: {e}"))
}

use Decision::{Allowed, ExplicitDeny, ImplicitDeny};
const A0: Decision = Allowed { statement: 0 };
const A1: Decision = Allowed { statement: 1 };
const I: Decision = ImplicitDeny;

fn allow_with_principal(principal: &str) -> String {
    format!(
        r#"[{{"Effect":"Allow","Principal":{principal},"Action":"sts:AssumeRoleWithWebIdentity"}}]"#
    )
}

fn allow_with_action(action: &str) -> String {
    format!(r#"[{{"Effect":"Allow","Principal":{{"Federated":"$GH"}},{action}}}]"#)
}

#[rustfmt::skip]
fn table() -> Vec<(&'static str, String, &'static str, Decision)> {
    let c = |s: &str| format!("C:{s}");
    vec![
        // --- the six string operators
        ("StringEquals exact sub", c(r#"{"StringEquals":{"$K:sub":"repo:octo-org/payments:ref:refs/heads/main"}}"#), "{}", A0),
        ("StringEquals other branch", c(r#"{"StringEquals":{"$K:sub":"repo:octo-org/payments:ref:refs/heads/dev"}}"#), "{}", I),
        ("StringNotEquals other value passes", c(r#"{"StringNotEquals":{"$K:sub":"repo:octo-org/payments:ref:refs/heads/dev"}}"#), "{}", A0),
        ("StringNotEquals same value fails", c(r#"{"StringNotEquals":{"$K:sub":"repo:octo-org/payments:ref:refs/heads/main"}}"#), "{}", I),
        ("StringEqualsIgnoreCase", c(r#"{"StringEqualsIgnoreCase":{"$K:sub":"REPO:Octo-Org/Payments:ref:refs/heads/MAIN"}}"#), "{}", A0),
        ("StringNotEqualsIgnoreCase same but case", c(r#"{"StringNotEqualsIgnoreCase":{"$K:sub":"REPO:OCTO-ORG/payments:ref:refs/heads/main"}}"#), "{}", I),
        ("StringLike trailing star", c(r#"{"StringLike":{"$K:sub":"repo:octo-org/payments:*"}}"#), "{}", A0),
        ("StringLike star crosses / and :", c(r#"{"StringLike":{"$K:sub":"repo:octo-org/*"}}"#), "{}", A0),
        ("StringLike ? one char", c(r#"{"StringLike":{"$K:sub":"repo:octo-org/payment?:ref:refs/heads/main"}}"#), "{}", A0),
        ("StringLike ? is not zero chars", c(r#"{"StringLike":{"$K:sub":"repo:octo-org/payments?:ref:refs/heads/main"}}"#), "{}", I),
        ("StringLike dot is literal", c(r#"{"StringLike":{"$K:sub":"repo:octo-org/pay.ents:*"}}"#), "{}", I),
        ("StringLike is case-sensitive", c(r#"{"StringLike":{"$K:sub":"repo:Octo-Org/payments:*"}}"#), "{}", I),
        ("StringLike inner star", c(r#"{"StringLike":{"$K:sub":"repo:octo-org/*:ref:refs/heads/ma*"}}"#), "{}", A0),
        ("StringNotLike not matching passes", c(r#"{"StringNotLike":{"$K:sub":"*:ref:refs/heads/feature/*"}}"#), "{}", A0),
        ("StringNotLike matching fails", c(r#"{"StringNotLike":{"$K:sub":"*:ref:refs/heads/*"}}"#), "{}", I),
        // --- case rules
        ("key names ignore case", c(r#"{"StringEquals":{"TOKEN.Actions.GitHubUserContent.com:SUB":"repo:octo-org/payments:ref:refs/heads/main"}}"#), "{}", A0),
        ("values are case-sensitive", c(r#"{"StringEquals":{"$K:sub":"repo:Octo-Org/Payments:ref:refs/heads/main"}}"#), "{}", I),
        ("operator names ignore case", c(r#"{"stringequals":{"$K:sub":"repo:octo-org/payments:ref:refs/heads/main"}}"#), "{}", A0),
        // --- OR of values, AND of keys and operators
        ("values of one key OR", c(r#"{"StringEquals":{"$K:sub":["repo:x/y:pull_request","repo:octo-org/payments:ref:refs/heads/main"]}}"#), "{}", A0),
        ("keys AND: one fails", c(r#"{"StringEquals":{"$K:aud":"sts.amazonaws.com","$K:sub":"repo:octo-org/payments:pull_request"}}"#), "{}", I),
        ("operators AND: both pass", c(r#"{"StringEquals":{"$K:aud":"sts.amazonaws.com"},"StringLike":{"$K:sub":"repo:octo-org/payments:*"}}"#), "{}", A0),
        ("operators AND: one fails", c(r#"{"StringEquals":{"$K:aud":"sts.amazonaws.com"},"StringLike":{"$K:sub":"repo:octo-org/other:*"}}"#), "{}", I),
        ("empty value list never matches", c(r#"{"StringEquals":{"$K:sub":[]}}"#), "{}", I),
        // --- set operators
        ("ForAnyValue one aud matches", c(r#"{"ForAnyValue:StringEquals":{"$K:aud":"sts.amazonaws.com"}}"#), r#"{"aud":["x","sts.amazonaws.com"]}"#, A0),
        ("ForAnyValue missing key is false", c(r#"{"ForAnyValue:StringEquals":{"$K:environment":"prod"}}"#), "{}", I),
        ("ForAnyValue missing key is false even with IfExists", c(r#"{"ForAnyValue:StringEqualsIfExists":{"$K:environment":"prod"}}"#), "{}", I),
        ("ForAllValues missing key with IfExists is true", c(r#"{"ForAllValues:StringEqualsIfExists":{"$K:environment":"prod"}}"#), "{}", A0),
        ("ForAnyValue:StringLike", c(r#"{"ForAnyValue:StringLike":{"$K:aud":"sts.*"}}"#), r#"{"aud":["x","sts.amazonaws.com"]}"#, A0),
        ("ForAnyValue:StringNotEquals one differs", c(r#"{"ForAnyValue:StringNotEquals":{"$K:aud":"sts.amazonaws.com"}}"#), r#"{"aud":["sts.amazonaws.com","x"]}"#, A0),
        ("ForAllValues all in set", c(r#"{"ForAllValues:StringEquals":{"$K:aud":["a","b","c"]}}"#), r#"{"aud":["a","b"]}"#, A0),
        ("ForAllValues one outside set", c(r#"{"ForAllValues:StringEquals":{"$K:aud":["a","b","c"]}}"#), r#"{"aud":["a","z"]}"#, I),
        ("ForAllValues missing key is TRUE", c(r#"{"ForAllValues:StringEquals":{"$K:environment":"prod"}}"#), "{}", A0),
        ("ForAllValues:StringNotLike none match", c(r#"{"ForAllValues:StringNotLike":{"$K:aud":"evil*"}}"#), r#"{"aud":["a","b"]}"#, A0),
        ("ForAllValues:StringNotLike one matches", c(r#"{"ForAllValues:StringNotLike":{"$K:aud":"evil*"}}"#), r#"{"aud":["a","evil.example"]}"#, I),
        // --- multi-valued claim, single-valued operator
        ("array aud, StringEquals: any value", c(r#"{"StringEquals":{"$K:aud":"sts.amazonaws.com"}}"#), r#"{"aud":["x","sts.amazonaws.com"]}"#, A0),
        ("array aud, StringNotEquals: none may match", c(r#"{"StringNotEquals":{"$K:aud":"x"}}"#), r#"{"aud":["x","sts.amazonaws.com"]}"#, I),
        // --- IfExists and Null
        ("IfExists, key missing", c(r#"{"StringEqualsIfExists":{"$K:environment":"prod"}}"#), "{}", A0),
        ("IfExists, present and wrong", c(r#"{"StringEqualsIfExists":{"$K:environment":"prod"}}"#), r#"{"environment":"staging"}"#, I),
        ("IfExists, present and right", c(r#"{"StringLikeIfExists":{"$K:environment":"pro?"}}"#), r#"{"environment":"prod"}"#, A0),
        ("Null true, absent", c(r#"{"Null":{"$K:environment":"true"}}"#), "{}", A0),
        ("Null true, present", c(r#"{"Null":{"$K:environment":"true"}}"#), r#"{"environment":"prod"}"#, I),
        ("Null false, present", c(r#"{"Null":{"$K:environment":false}}"#), r#"{"environment":"prod"}"#, A0),
        ("Null false, absent", c(r#"{"Null":{"$K:environment":"false"}}"#), "{}", I),
        ("StringEquals, key missing", c(r#"{"StringEquals":{"$K:environment":"prod"}}"#), "{}", I),
        ("StringNotEquals, key missing is true", c(r#"{"StringNotEquals":{"$K:environment":"prod"}}"#), "{}", A0),
        // --- other claims, typed values, unknown things
        ("job_workflow_ref StringLike", c(r#"{"StringLike":{"$K:job_workflow_ref":"octo-org/shared/.github/workflows/deploy.yml@*"}}"#), "{}", A0),
        ("number condition value vs string claim", c(r#"{"StringEquals":{"$K:repository_id":88120}}"#), "{}", A0),
        ("number claim vs string value", c(r#"{"StringEquals":{"$K:repository_id":"88120"}}"#), r#"{"repository_id":88120}"#, A0),
        ("foreign key is absent: StringEquals fails", c(r#"{"StringEquals":{"aws:SourceIp":"10.0.0.1"}}"#), "{}", I),
        ("foreign key is absent: StringNotEquals passes", c(r#"{"StringNotEquals":{"aws:SourceIp":"10.0.0.1"}}"#), "{}", A0),
        ("unknown operator fails the statement", c(r#"{"StringEqualz":{"$K:sub":"repo:octo-org/payments:ref:refs/heads/main"}}"#), "{}", I),
        ("unsupported IAM operator fails", c(r#"{"NumericEquals":{"$K:repository_id":"88120"}}"#), "{}", I),
        ("policy variable expands", c(r#"{"StringLike":{"$K:sub":"repo:${$K:repository}:*"}}"#), "{}", A0),
        ("${*} is a literal star", c(r#"{"StringLike":{"$K:sub":"repo:octo-org/payments:ref:refs/heads/${*}"}}"#), "{}", I),
        ("unresolvable variable never matches", c(r#"{"StringLike":{"$K:sub":"repo:${aws:username}/*"}}"#), "{}", I),
        ("no conditions at all", "[{\"Effect\":\"Allow\",\"Principal\":{\"Federated\":\"$GH\"},\"Action\":\"sts:AssumeRoleWithWebIdentity\"}]".into(), "{}", A0),
        // --- both sub forms
        ("ID-form token vs plain policy", c(r#"{"StringEquals":{"$K:sub":"repo:octo-org/payments:ref:refs/heads/main"}}"#), r#"{"sub":"repo:octo-org@1342004/payments@88120:ref:refs/heads/main"}"#, I),
        ("ID-form token vs ID-form policy", c(r#"{"StringEquals":{"$K:sub":"repo:octo-org@1342004/payments@88120:ref:refs/heads/main"}}"#), r#"{"sub":"repo:octo-org@1342004/payments@88120:ref:refs/heads/main"}"#, A0),
        ("ID-form token vs StringLike both forms", c(r#"{"StringLike":{"$K:sub":["repo:octo-org/payments:*","repo:octo-org@1342004/payments@88120:*"]}}"#), r#"{"sub":"repo:octo-org@1342004/payments@88120:ref:refs/heads/main"}"#, A0),
        ("plain token vs ID-form policy", c(r#"{"StringEquals":{"$K:sub":"repo:octo-org@1342004/payments@88120:ref:refs/heads/main"}}"#), "{}", I),
        // --- statements, Deny
        ("explicit Deny wins", r#"[{"Effect":"Allow","Principal":{"Federated":"$GH"},"Action":"sts:AssumeRoleWithWebIdentity"},
                                   {"Effect":"Deny","Principal":"*","Action":"sts:*","Condition":{"StringLike":{"$K:sub":"*:ref:refs/heads/main"}}}]"#.into(), "{}", ExplicitDeny { statement: 1 }),
        ("Deny not matching leaves Allow", r#"[{"Effect":"Allow","Principal":{"Federated":"$GH"},"Action":"sts:AssumeRoleWithWebIdentity"},
                                   {"Effect":"Deny","Principal":"*","Action":"sts:*","Condition":{"StringLike":{"$K:sub":"*:pull_request"}}}]"#.into(), "{}", A0),
        ("Deny first in order", r#"[{"Effect":"Deny","Principal":{"Federated":"$GH"},"Action":"*"},
                                   {"Effect":"Allow","Principal":{"Federated":"$GH"},"Action":"sts:AssumeRoleWithWebIdentity"}]"#.into(), "{}", ExplicitDeny { statement: 0 }),
        ("Deny with unknown operator does not match", r#"[{"Effect":"Allow","Principal":{"Federated":"$GH"},"Action":"sts:AssumeRoleWithWebIdentity"},
                                   {"Effect":"Deny","Principal":"*","Action":"*","Condition":{"Bogus":{"$K:sub":"x"}}}]"#.into(), "{}", A0),
        ("second statement allows", r#"[{"Effect":"Allow","Principal":{"Federated":"$GH"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"$K:sub":"repo:o/r:pull_request"}}},
                                   {"Effect":"Allow","Principal":{"Federated":"$GH"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"$K:sub":"repo:octo-org/payments:*"}}}]"#.into(), "{}", A1),
        // --- Principal
        ("other OIDC provider", allow_with_principal(r#"{"Federated":"arn:aws:iam::111122223333:oidc-provider/accounts.google.com"}"#), "{}", I),
        ("AWS principal does not apply", allow_with_principal(r#"{"AWS":"arn:aws:iam::111122223333:root"}"#), "{}", I),
        ("Service principal does not apply", allow_with_principal(r#"{"Service":"ecs-tasks.amazonaws.com"}"#), "{}", I),
        ("Principal *", allow_with_principal(r#""*""#), "{}", A0),
        ("Principal AWS *", allow_with_principal(r#"{"AWS":"*"}"#), "{}", A0),
        ("GitHub provider in another account still applies", allow_with_principal(r#"{"Federated":"arn:aws:iam::999999999999:oidc-provider/token.actions.githubusercontent.com"}"#), "{}", A0),
        ("aws-cn partition", allow_with_principal(r#"{"Federated":"arn:aws-cn:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"}"#), "{}", A0),
        ("aws-us-gov partition", allow_with_principal(r#"{"Federated":"arn:aws-us-gov:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"}"#), "{}", A0),
        ("Federated array incl. GitHub", allow_with_principal(r#"{"Federated":["arn:aws:iam::1:oidc-provider/accounts.google.com","$GH"]}"#), "{}", A0),
        ("malformed provider ARN", allow_with_principal(r#"{"Federated":"arn:aws:sts::111122223333:oidc-provider/token.actions.githubusercontent.com"}"#), "{}", I),
        ("enterprise provider, enterprise token", allow_with_principal(r#"{"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com/octo-ent"}"#), r#"{"iss":"https://token.actions.githubusercontent.com/octo-ent"}"#, A0),
        ("enterprise provider, github.com token", allow_with_principal(r#"{"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com/octo-ent"}"#), "{}", I),
        ("enterprise keys, enterprise token", r#"[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::1:oidc-provider/token.actions.githubusercontent.com/octo-ent"},"Action":"sts:AssumeRoleWithWebIdentity",
                                   "Condition":{"StringEquals":{"token.actions.githubusercontent.com/octo-ent:sub":"repo:octo-org/payments:ref:refs/heads/main"}}}]"#.into(),
                                   r#"{"iss":"https://token.actions.githubusercontent.com/octo-ent/"}"#, A0),
        ("NotPrincipal excluding another provider", r#"[{"Effect":"Allow","NotPrincipal":{"Federated":"arn:aws:iam::1:oidc-provider/accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]"#.into(), "{}", A0),
        ("NotPrincipal excluding GitHub", r#"[{"Effect":"Allow","NotPrincipal":{"Federated":"$GH"},"Action":"sts:AssumeRoleWithWebIdentity"}]"#.into(), "{}", I),
        // --- Action
        ("Action sts:*", allow_with_action(r#""Action":"sts:*""#), "{}", A0),
        ("Action *", allow_with_action(r#""Action":["*"]"#), "{}", A0),
        ("Action sts:AssumeRole*", allow_with_action(r#""Action":"sts:AssumeRole*""#), "{}", A0),
        ("Action sts:AssumeRole only", allow_with_action(r#""Action":["sts:AssumeRole","sts:TagSession"]"#), "{}", I),
        ("Action names ignore case", allow_with_action(r#""Action":"STS:assumerolewithwebidentity""#), "{}", A0),
        ("Action with ?", allow_with_action(r#""Action":"sts:AssumeRoleWith?ebIdentity""#), "{}", A0),
        ("NotAction other action", allow_with_action(r#""NotAction":"sts:AssumeRole""#), "{}", A0),
        ("NotAction this action", allow_with_action(r#""NotAction":["sts:AssumeRoleWith*"]"#), "{}", I),
    ]
}

#[test]
fn evaluator_table() {
    let rows = table();
    assert!(rows.len() >= 45, "{} rows", rows.len());
    let mut failures = Vec::new();
    for (name, policy, claims, want) in &rows {
        let got = evaluate(&policy_from(policy), &claims_with(claims)).decision;
        if got != *want {
            failures.push(format!("{name}: want {want:?}, got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[test]
fn outcomes_record_every_condition_with_actual_values_and_notes() {
    let policy = policy_from(&format!(
        "C:{}",
        r#"{"StringEquals":{"$K:aud":"sts.amazonaws.com","$K:environment":"prod","aws:SourceIp":"1.2.3.4"},"Foo":{"$K:sub":"x"}}"#
    ));
    let eval = evaluate(&policy, &claims_with("{}"));
    let s = &eval.statements[0];
    assert!(s.applies_to_principal && s.applies_to_action && !s.matched);
    assert_eq!(s.conditions.len(), 4);
    let by_key = |k: &str| s.conditions.iter().find(|c| c.key.ends_with(k)).unwrap();
    assert!(by_key(":aud").passed);
    assert_eq!(
        by_key(":aud").actual,
        Some(vec!["sts.amazonaws.com".to_string()])
    );
    assert_eq!(by_key(":environment").actual, None);
    assert!(
        by_key("SourceIp")
            .note
            .as_deref()
            .unwrap()
            .contains("treated as absent")
    );
    let foo = s.conditions.iter().find(|c| c.operator == "Foo").unwrap();
    assert_eq!(
        foo.note.as_deref(),
        Some("Foo is not an IAM condition operator; the statement is treated as not matching")
    );
    assert!(!foo.passed);
}

#[test]
fn string_like_never_blows_up() {
    let pattern = "*a*a*a*a*a*a*a*a*a*a*a*a*b";
    let text = "a".repeat(5000);
    assert!(!string_like(pattern, &text, false));
    assert!(string_like("**", "", false));
    assert!(string_like("a*", "a", false));
    assert!(!string_like("", "a", false));
    assert!(string_like("ÄB?", "äbc", true));
}

// --- parsing

const DOC: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"GitHub","Effect":"Allow",
  "Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},
  "Action":"sts:AssumeRoleWithWebIdentity",
  "Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"},
               "StringLike":{"token.actions.githubusercontent.com:sub":["repo:octo-org/payments:*",true,7]}}}]}"#;

fn check_doc(policy: &TrustPolicy) {
    assert_eq!(policy.version.as_deref(), Some("2012-10-17"));
    assert_eq!(policy.statements.len(), 1);
    let s = &policy.statements[0];
    assert_eq!(s.sid.as_deref(), Some("GitHub"));
    assert_eq!(s.effect, Effect::Allow);
    assert_eq!(s.actions, ActionElement::Action(vec![ASSUME_ACTION.into()]));
    assert_eq!(s.conditions.len(), 2);
    let like = s
        .conditions
        .iter()
        .find(|c| c.operator == "StringLike")
        .unwrap();
    assert_eq!(like.values, vec!["repo:octo-org/payments:*", "true", "7"]);
}

#[test]
fn parses_a_bare_document() {
    check_doc(&TrustPolicy::parse(DOC).unwrap());
}

#[test]
fn parses_get_role_output_with_object_or_encoded_document() {
    let doc: Value = serde_json::from_str(DOC).unwrap();
    let as_object = json!({"Role": {"RoleName": "deploy", "AssumeRolePolicyDocument": doc}});
    check_doc(&TrustPolicy::parse(&as_object.to_string()).unwrap());
    let encoded: String =
        percent_encoding::utf8_percent_encode(DOC, percent_encoding::NON_ALPHANUMERIC).to_string();
    let as_string = json!({"Role": {"AssumeRolePolicyDocument": encoded}});
    check_doc(&TrustPolicy::parse(&as_string.to_string()).unwrap());
    // The document alone, URL-encoded, as the IAM API returns it.
    check_doc(&TrustPolicy::parse(&encoded).unwrap());
    // A JSON string holding the document.
    check_doc(&TrustPolicy::parse(&Value::String(DOC.into()).to_string()).unwrap());
}

#[test]
fn parses_statement_as_object_and_string_principal_forms() {
    let p = TrustPolicy::parse(
        r#"{"Statement":{"Effect":"Deny","Principal":"*","NotAction":"sts:TagSession"}}"#,
    )
    .unwrap();
    assert_eq!(p.version, None);
    assert_eq!(p.statements[0].effect, Effect::Deny);
    assert_eq!(
        p.statements[0].principal,
        PrincipalElement::Principal(Principals::Any)
    );
    assert_eq!(
        p.statements[0].actions,
        ActionElement::NotAction(vec!["sts:TagSession".into()])
    );
}

#[test]
fn variables_are_literal_without_version_2012() {
    let doc = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*",
        "Condition":{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:${token.actions.githubusercontent.com:repository}:*"}}}]}"#;
    let eval = evaluate(&TrustPolicy::parse(doc).unwrap(), &claims_with("{}"));
    assert_eq!(eval.decision, I);
}

#[test]
fn malformed_input_errors_name_the_problem() {
    let err = |t: &str| TrustPolicy::parse(t).unwrap_err().to_string();
    assert_eq!(err("  "), "the trust policy is empty");
    assert_eq!(err("{not json"), "the trust policy is not valid JSON");
    assert_eq!(
        err("[1]"),
        "the trust policy is an array; expected a policy document (a JSON object with a Statement)"
    );
    assert_eq!(
        err(r#"{"Version":"2012-10-17"}"#),
        "the trust policy has no Statement element"
    );
    assert_eq!(
        err(r#"{"Role":{"RoleName":"x"}}"#),
        "the `aws iam get-role` output has no Role.AssumeRolePolicyDocument"
    );
    assert_eq!(err("%7B%22x%22"), "the trust policy is not valid JSON");
    assert_eq!(
        err("%FF%FE"),
        "the trust policy looks URL-encoded but does not decode to UTF-8 text"
    );
    assert_eq!(
        err(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*"},{"Effect":"Maybe","Principal":"*","Action":"*"}]}"#
        ),
        "statement 2 of the trust policy: Effect is \"Maybe\"; expected \"Allow\" or \"Deny\""
    );
    assert_eq!(
        err(r#"{"Statement":{"Effect":"Allow","Action":"*"}}"#),
        "statement 1 of the trust policy: has no Principal; a trust policy statement must name one"
    );
    assert_eq!(
        err(r#"{"Statement":{"Effect":"Allow","Principal":"*"}}"#),
        "statement 1 of the trust policy: has no Action; expected e.g. \"sts:AssumeRoleWithWebIdentity\""
    );
    assert_eq!(
        err(
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEquals":{"k":{"a":1}}}}}"#
        ),
        "statement 1 of the trust policy: Condition.StringEquals.k holds an object; expected strings, numbers or booleans"
    );
    assert_eq!(
        err(r#"{"Statement":{"Effect":"Allow","Principal":"arn:aws:iam::1:root","Action":"*"}}"#),
        "statement 1 of the trust policy: Principal is a string; expected \"*\" or an object like {\"Federated\": \"arn:...\"}"
    );
}

#[test]
fn provider_arns_are_taken_apart() {
    let a = parse_provider_arn(
        "arn:aws-us-gov:iam::123456789012:oidc-provider/token.actions.githubusercontent.com/ent",
    )
    .unwrap();
    assert_eq!(
        (
            a.partition.as_str(),
            a.account.as_str(),
            a.provider.as_str()
        ),
        (
            "aws-us-gov",
            "123456789012",
            "token.actions.githubusercontent.com/ent"
        )
    );
    assert_eq!(parse_provider_arn("arn:aws:iam::1:role/x"), None);
    assert_eq!(parse_provider_arn("nonsense"), None);
}

/// The obvious exponential definition, as a reference for the linear matcher.
fn naive_like(p: &[char], t: &[char]) -> bool {
    match p.split_first() {
        None => t.is_empty(),
        Some(('*', rest)) => (0..=t.len()).any(|i| naive_like(rest, &t[i..])),
        Some(('?', rest)) => !t.is_empty() && naive_like(rest, &t[1..]),
        Some((c, rest)) => t.first() == Some(c) && naive_like(rest, &t[1..]),
    }
}

#[test]
fn string_like_agrees_with_the_naive_definition() {
    let words = |alphabet: &[char], max: usize| {
        let mut all = vec![String::new()];
        let mut frontier = vec![String::new()];
        for _ in 0..max {
            frontier = frontier
                .iter()
                .flat_map(|w| alphabet.iter().map(move |c| format!("{w}{c}")))
                .collect();
            all.extend(frontier.iter().cloned());
        }
        all
    };
    let patterns = words(&['a', 'b', '*', '?'], 4);
    let texts = words(&['a', 'b', '/'], 4);
    for p in &patterns {
        let pc: Vec<char> = p.chars().collect();
        for t in &texts {
            let tc: Vec<char> = t.chars().collect();
            assert_eq!(
                string_like(p, t, false),
                naive_like(&pc, &tc),
                "{p:?} vs {t:?}"
            );
        }
    }
}
