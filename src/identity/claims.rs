//! The GitHub OIDC token's claims: decoding the JWT payload (no signature check: STS verifies the
//! signature, we only need to read what the token says about the job), typed accessors for the
//! claims the trust policy is written against, and parsing of the `sub` claim in all its forms
//! (plain `repo:O/R:...`, immutable `repo:O@ID/R@ID:...`, customised claim keys).

use base64::Engine as _;
use serde_json::{Map, Value};

/// The issuer of GitHub.com tokens; GHES and enterprise-scoped issuers add a path to it.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The IAM OIDC provider of GitHub.com tokens (the issuer without its scheme).
pub const GITHUB_PROVIDER: &str = "token.actions.githubusercontent.com";

#[derive(Debug, thiserror::Error)]
pub enum ClaimsError {
    #[error("the token is not a JWT (expected three dot-separated base64url parts, found {parts})")]
    NotAJwt { parts: usize },
    #[error("the token's payload is not valid base64url")]
    Base64(#[source] base64::DecodeError),
    #[error("the token's payload is not valid JSON")]
    Json(#[source] serde_json::Error),
    #[error("the claims are not a JSON object (found {found})")]
    NotAnObject { found: &'static str },
}

/// The JWT payload, kept as the JSON object it is: the policy may name any claim.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Claims {
    map: Map<String, Value>,
}

impl Claims {
    /// Decodes the payload of a compact JWT. Tolerates a `Bearer ` prefix, surrounding and
    /// embedded whitespace (tokens pasted from logs wrap), `=` padding and the standard base64
    /// alphabet, because none of those change what the token says.
    pub fn from_jwt(token: &str) -> Result<Claims, ClaimsError> {
        let token = token.trim();
        let token = token.strip_prefix("Bearer ").unwrap_or(token);
        let compact: String = token.chars().filter(|c| !c.is_whitespace()).collect();
        let parts: Vec<&str> = compact.split('.').collect();
        if parts.len() != 3 || parts.iter().take(2).any(|p| p.is_empty()) {
            return Err(ClaimsError::NotAJwt { parts: parts.len() });
        }
        let payload: String = parts[1]
            .chars()
            .filter(|&c| c != '=')
            .map(|c| match c {
                '+' => '-',
                '/' => '_',
                c => c,
            })
            .collect();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.as_bytes())
            .map_err(ClaimsError::Base64)?;
        let value: Value = serde_json::from_slice(&bytes).map_err(ClaimsError::Json)?;
        Self::from_value(value)
    }

    /// A claims object as JSON text (`check-trust --claims FILE`).
    pub fn from_json(text: &str) -> Result<Claims, ClaimsError> {
        let value: Value = serde_json::from_str(text).map_err(ClaimsError::Json)?;
        Self::from_value(value)
    }

    pub fn from_map(map: Map<String, Value>) -> Claims {
        Claims { map }
    }

    fn from_value(value: Value) -> Result<Claims, ClaimsError> {
        match value {
            Value::Object(map) => Ok(Claims { map }),
            other => Err(ClaimsError::NotAnObject {
                found: json_kind(&other),
            }),
        }
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.map
    }

    pub fn get(&self, claim: &str) -> Option<&Value> {
        self.map.get(claim)
    }

    /// Looks a claim up by exact name, then ignoring ASCII case: IAM condition key names are
    /// case-insensitive, so `...:Sub` in a policy reads the `sub` claim.
    pub fn get_ignore_case(&self, claim: &str) -> Option<(&str, &Value)> {
        if let Some((k, v)) = self.map.get_key_value(claim) {
            return Some((k.as_str(), v));
        }
        self.map
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(claim))
            .map(|(k, v)| (k.as_str(), v))
    }

    pub fn string(&self, claim: &str) -> Option<&str> {
        self.map.get(claim).and_then(Value::as_str)
    }

    /// The claim as IAM sees it in the request context: a string is one value, an array of
    /// scalars is a multi-valued key, numbers and booleans compare as their text. Null, objects
    /// and empty arrays are not comparable values, so they count as absent.
    pub fn values(&self, claim: &str) -> Option<Vec<String>> {
        json_values(self.map.get(claim)?)
    }

    pub fn sub(&self) -> Option<&str> {
        self.string("sub")
    }

    pub fn audiences(&self) -> Vec<String> {
        self.values("aud").unwrap_or_default()
    }

    pub fn git_ref(&self) -> Option<&str> {
        self.string("ref")
    }

    pub fn environment(&self) -> Option<&str> {
        self.string("environment").filter(|e| !e.is_empty())
    }

    pub fn repository(&self) -> Option<&str> {
        self.string("repository")
    }

    pub fn job_workflow_ref(&self) -> Option<&str> {
        self.string("job_workflow_ref")
    }

    pub fn subject(&self) -> Option<Subject> {
        Subject::parse(self.sub()?)
    }

    /// The IAM provider name this token belongs to, which is also the prefix of its condition
    /// keys: the issuer without its scheme when it is a GitHub Actions issuer (GitHub.com, an
    /// enterprise-scoped issuer on GitHub.com, or GitHub Enterprise Server's
    /// `https://HOST/_services/token`), else the GitHub.com provider, so tokens from a local fake
    /// issuer are judged as GitHub.com tokens.
    pub fn provider(&self) -> String {
        self.string("iss")
            .and_then(provider_for_issuer)
            .unwrap_or_else(|| GITHUB_PROVIDER.to_string())
    }

    /// Things a user should see that do not stop the run: STS will be the judge of them.
    pub fn sanity_warnings(&self, expected_audience: &str, now_unix: i64) -> Vec<String> {
        let mut warnings = Vec::new();
        match self.string("iss") {
            None => warnings.push(format!("the token has no `iss` claim; GitHub's is {GITHUB_ISSUER}")),
            Some(iss) if provider_for_issuer(iss).is_none() => warnings.push(format!(
                "the token's issuer is {iss}, not {GITHUB_ISSUER}: STS accepts it only if the role's \
                 account has an OIDC provider for that issuer"
            )),
            Some(_) => {}
        }
        if let Some(exp) = self.get("exp").and_then(Value::as_f64) {
            let exp = exp as i64;
            if exp <= now_unix {
                warnings.push(format!(
                    "the token expired {} s ago (exp = {exp}); STS will refuse it",
                    now_unix - exp
                ));
            }
        }
        let auds = self.audiences();
        if !auds.iter().any(|a| a == expected_audience) {
            let got = if auds.is_empty() {
                "(absent)".to_string()
            } else {
                auds.join(", ")
            };
            warnings.push(format!(
                "the token's aud is {got}, not the expected audience {expected_audience}"
            ));
        }
        warnings
    }
}

/// The IAM OIDC provider name (and condition-key prefix) of a GitHub Actions issuer, `None` for
/// any other issuer: `https://token.actions.githubusercontent.com[/ENTERPRISE]` gives
/// `token.actions.githubusercontent.com[/ENTERPRISE]`, and GitHub Enterprise Server's
/// `https://HOST/_services/token` gives `HOST/_services/token`.
pub fn provider_for_issuer(iss: &str) -> Option<String> {
    let rest = iss.trim().trim_end_matches('/');
    if let Some(path) = rest.strip_prefix(GITHUB_ISSUER) {
        return match path {
            "" => Some(GITHUB_PROVIDER.to_string()),
            p => p
                .strip_prefix('/')
                .filter(|p| !p.is_empty())
                .map(|p| format!("{GITHUB_PROVIDER}/{p}")),
        };
    }
    let host = rest
        .strip_prefix("https://")?
        .strip_suffix("/_services/token")?;
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && !host.eq_ignore_ascii_case("token.actions.githubusercontent.com");
    host_ok.then(|| format!("{}/_services/token", host.to_ascii_lowercase()))
}

pub(crate) fn json_values(value: &Value) -> Option<Vec<String>> {
    let out: Vec<String> = match value {
        Value::Array(items) => items.iter().filter_map(scalar_text).collect(),
        other => scalar_text(other).into_iter().collect(),
    };
    (!out.is_empty()).then_some(out)
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The `sub` claim, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub owner: String,
    pub owner_id: Option<String>,
    /// Empty when a customised subject omits the repository.
    pub repo: String,
    pub repo_id: Option<String>,
    pub context: SubjectContext,
    /// Every key:value pair after the repository (all pairs when there is no `repo` key);
    /// `pull_request` appears with an empty value.
    pub pairs: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectContext {
    Branch(String),
    Tag(String),
    /// Any other ref, in full (e.g. `refs/pull/7/merge`).
    Ref(String),
    PullRequest,
    Environment(String),
    /// Customised claim keys: read `pairs`.
    Custom,
}

/// Claim keys GitHub can put in a (customised) subject. A token equal to one of these starts a
/// new pair; anything else continues the current value, so a stray ':' inside a value survives.
const SUBJECT_KEYS: &[&str] = &[
    "repo",
    "environment",
    "ref",
    "pull_request",
    "context",
    "job_workflow_ref",
    "job_workflow_sha",
    "repository",
    "repository_id",
    "repository_owner",
    "repository_owner_id",
    "repository_visibility",
    "workflow",
    "workflow_ref",
    "workflow_sha",
    "actor",
    "actor_id",
    "ref_type",
    "ref_protected",
    "head_ref",
    "base_ref",
    "event_name",
    "runner_environment",
    "enterprise",
    "enterprise_id",
    "sha",
    "run_id",
    "run_number",
    "run_attempt",
    "check_run_id",
];

impl Subject {
    /// Parses a `sub` claim; `None` when it is not a sequence of known `key:value` pairs.
    pub fn parse(sub: &str) -> Option<Subject> {
        let pairs = split_pairs(sub)?;
        let (owner, owner_id, repo, repo_id, rest) = match pairs.first() {
            Some((k, v)) if k == "repo" || k == "repository" => {
                let (owner_part, repo_part) = v.split_once('/')?;
                let (owner, owner_id) = split_id(owner_part);
                let (repo, repo_id) = split_id(repo_part);
                if !is_github_name(&owner) || !is_github_name(&repo) {
                    return None;
                }
                (owner, owner_id, repo, repo_id, pairs[1..].to_vec())
            }
            _ => {
                let find = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
                (
                    find("repository_owner")?,
                    find("repository_owner_id"),
                    String::new(),
                    None,
                    pairs,
                )
            }
        };
        let context = match rest.as_slice() {
            [(k, v)] if k == "environment" => SubjectContext::Environment(v.clone()),
            [(k, _)] if k == "pull_request" => SubjectContext::PullRequest,
            [(k, v)] if k == "ref" => {
                match (v.strip_prefix("refs/heads/"), v.strip_prefix("refs/tags/")) {
                    (Some(b), _) => SubjectContext::Branch(b.to_string()),
                    (_, Some(t)) => SubjectContext::Tag(t.to_string()),
                    _ => SubjectContext::Ref(v.clone()),
                }
            }
            _ => SubjectContext::Custom,
        };
        Some(Subject {
            owner,
            owner_id,
            repo,
            repo_id,
            context,
            pairs: rest,
        })
    }

    /// True for the immutable `OWNER@ID/REPO@ID` form.
    pub fn is_id_form(&self) -> bool {
        self.owner_id.is_some() || self.repo_id.is_some()
    }

    /// The value of the first pair with this key.
    pub fn pair(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn split_pairs(sub: &str) -> Option<Vec<(String, String)>> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut tokens = sub.split(':').peekable();
    while let Some(key) = tokens.next() {
        if !SUBJECT_KEYS.contains(&key) {
            return None;
        }
        if key == "pull_request" {
            pairs.push((key.to_string(), String::new()));
            continue;
        }
        // A value takes at least one token (an environment may be named `ref`), then every
        // following token that is not a key (values may contain ':').
        let mut value = tokens.next()?.to_string();
        while let Some(next) = tokens.peek() {
            if SUBJECT_KEYS.contains(next) {
                break;
            }
            value.push(':');
            value.push_str(next);
            tokens.next();
        }
        if value.is_empty() {
            return None;
        }
        pairs.push((key.to_string(), value));
    }
    (!pairs.is_empty()).then_some(pairs)
}

/// GitHub owner and repository names use ASCII letters, digits, '-', '_' and '.' only; anything
/// else means the value is not a repository and the subject is garbage.
fn is_github_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// `name@123` -> (`name`, Some(`123`)); anything else is a plain name.
fn split_id(part: &str) -> (String, Option<String>) {
    match part.rsplit_once('@') {
        Some((name, id)) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => {
            (name.to_string(), Some(id.to_string()))
        }
        _ => (part.to_string(), None),
    }
}

#[cfg(test)]
#[path = "claims_tests.rs"]
mod tests;
