//! The GitHub OIDC token: requested from the runner's token service
//! (`GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=<aud>` with
//! `Authorization: Bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN`, answered by `{"value": "<JWT>"}`),
//! or read from the file the `web-identity-token-file` input names.
//!
//! Every failure says what to change: most of them are a workflow missing
//! `permissions: id-token: write`, or a run where GitHub never grants it (fork PRs, `act`).
//! The token never appears in an error: response excerpts have JWT-shaped words redacted.

use std::path::{Path, PathBuf};
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::envvars::EnvVars;
use crate::retry::{self, Retry, RetryPolicy};
use crate::secret::Secret;

const URL_VAR: &str = "ACTIONS_ID_TOKEN_REQUEST_URL";
const TOKEN_VAR: &str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";

/// RFC 3986 unreserved characters stay as they are; everything else in the audience is encoded
/// (an audience such as `sts.amazonaws.com` passes unchanged, a URL audience does not break the
/// query).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error(
        "this job cannot request an OIDC token: {URL_VAR} and {TOKEN_VAR} are not set. \
         Add `permissions: id-token: write` to the job (or the workflow); a job-level `permissions:` \
         block replaces the workflow's, so it needs the line too. GitHub never grants id-token: write \
         to `pull_request` runs from forks: deploy from `push`, `workflow_dispatch` or an environment-gated job instead"
    )]
    PermissionMissing,
    #[error(
        "running under act, which has no OIDC token service ({URL_VAR} is not set). Either pass \
         credentials directly: leave `role-to-assume` empty and give AWS_ACCESS_KEY_ID, \
         AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN as secrets (`act -s AWS_ACCESS_KEY_ID -s \
         AWS_SECRET_ACCESS_KEY -s AWS_SESSION_TOKEN`, or `--secret`); or give a token you obtained \
         elsewhere through the `web-identity-token-file` input"
    )]
    UnderAct,
    #[error(
        "{missing} is not set although {present} is: the runner sets both when the job has \
         `permissions: id-token: write`, so a step or `env:` block must have cleared {missing}"
    )]
    VariableMissing {
        missing: &'static str,
        present: &'static str,
    },
    #[error(
        "{URL_VAR} is not a valid URL ({reason}); it should be the URL the runner set, unchanged"
    )]
    InvalidUrl { reason: String },
    #[error(
        "the OIDC token service refused the request token (HTTP {status}): {TOKEN_VAR} is not valid \
         for this job. It is only valid while the job that received it runs; it cannot be reused \
         from another job or after the job ends. Response: {excerpt}"
    )]
    Refused { status: u16, excerpt: String },
    #[error("the OIDC token service answered HTTP {status}: {excerpt}")]
    Status { status: u16, excerpt: String },
    #[error("could not get a response from the OIDC token service")]
    Transport(#[source] reqwest::Error),
    #[error(
        "the OIDC token service's answer is not the expected JSON {{\"value\": \"<JWT>\"}}: {detail}"
    )]
    BadResponse { detail: String },
    #[error("the OIDC token request failed after {} over {}", retry::attempts(*attempts), retry::seconds(*elapsed))]
    GaveUp {
        attempts: u32,
        elapsed: Duration,
        #[source]
        last: Box<OidcError>,
    },
    #[error("the `web-identity-token-file` input names {}, which does not exist", path.display())]
    TokenFileMissing { path: PathBuf },
    #[error("the `web-identity-token-file` input names {}, which is empty; it should hold one JWT", path.display())]
    TokenFileEmpty { path: PathBuf },
    #[error("could not read the file the `web-identity-token-file` input names ({})", path.display())]
    TokenFileUnreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Whether another attempt could succeed.
pub fn classify(error: &OidcError) -> Retry {
    match error {
        // The job's configuration: the same next time.
        OidcError::PermissionMissing
        | OidcError::UnderAct
        | OidcError::VariableMissing { .. }
        | OidcError::InvalidUrl { .. } => Retry::Fatal,
        // The request token is expired or not for this job; asking again changes nothing.
        OidcError::Refused { .. } => Retry::Fatal,
        // Throttled, request timeout, a server-side failure: by status (`crate::retry`).
        OidcError::Status { status, .. } => retry::classify_http_status(*status),
        // The network's (connect failures, resets, timeouts), unless the request never built.
        OidcError::Transport(e) => retry::classify_transport(e),
        // A well-formed 200 with the wrong body is a contract break, not a blip.
        OidcError::BadResponse { .. } => Retry::Fatal,
        OidcError::GaveUp { .. } => Retry::Fatal,
        OidcError::TokenFileMissing { .. }
        | OidcError::TokenFileEmpty { .. }
        | OidcError::TokenFileUnreadable { .. } => Retry::Fatal,
    }
}

/// Requests an OIDC token for `audience` from the runner, retrying transient failures under
/// `policy`.
pub async fn request_token(
    env: &EnvVars,
    audience: &str,
    http: &reqwest::Client,
    policy: &RetryPolicy,
) -> Result<Secret, OidcError> {
    let (url, bearer) = request_vars(env)?;
    let sep = if url.contains('?') { '&' } else { '?' };
    let url = format!(
        "{url}{sep}audience={}",
        utf8_percent_encode(audience, QUERY_VALUE)
    );
    reqwest::Url::parse(&url).map_err(|e| OidcError::InvalidUrl {
        reason: e.to_string(),
    })?;

    let what = "OIDC token request";
    let outcome = retry::retry_named(what, policy, classify, || attempt(http, &url, bearer)).await;
    outcome.map_err(|r| {
        r.into_error(|attempts, elapsed, last| OidcError::GaveUp {
            attempts,
            elapsed,
            last,
        })
    })
}

/// The URL and request token, or why the job has none.
fn request_vars(env: &EnvVars) -> Result<(&str, &str), OidcError> {
    match (env.non_empty(URL_VAR), env.non_empty(TOKEN_VAR)) {
        (Some(url), Some(token)) => Ok((url, token)),
        (None, None) if env.is_true("ACT") => Err(OidcError::UnderAct),
        (None, None) => Err(OidcError::PermissionMissing),
        (None, Some(_)) => Err(OidcError::VariableMissing {
            missing: URL_VAR,
            present: TOKEN_VAR,
        }),
        (Some(_), None) => Err(OidcError::VariableMissing {
            missing: TOKEN_VAR,
            present: URL_VAR,
        }),
    }
}

async fn attempt(http: &reqwest::Client, url: &str, bearer: &str) -> Result<Secret, OidcError> {
    let response = http
        .get(url)
        .bearer_auth(bearer)
        .header(reqwest::header::ACCEPT, "application/json")
        .header(
            reqwest::header::USER_AGENT,
            concat!("oidc-ecs-deploy/", env!("CARGO_PKG_VERSION")),
        )
        // One attempt's limit: a hung answer then counts as a transient failure and is retried.
        .timeout(retry::request_timeout() * 2)
        .send()
        .await
        .map_err(OidcError::Transport)?;
    let status = response.status().as_u16();
    let body = response.text().await.map_err(OidcError::Transport)?;
    match status {
        200..=299 => parse_token(&body),
        401 | 403 => Err(OidcError::Refused {
            status,
            excerpt: excerpt(&body),
        }),
        _ => Err(OidcError::Status {
            status,
            excerpt: excerpt(&body),
        }),
    }
}

fn parse_token(body: &str) -> Result<Secret, OidcError> {
    let json: serde_json::Value =
        serde_json::from_str(body).map_err(|e| OidcError::BadResponse {
            detail: format!("{e}; it starts with: {}", excerpt(body)),
        })?;
    let Some(object) = json.as_object() else {
        return Err(OidcError::BadResponse {
            detail: format!("it is not an object: {}", excerpt(body)),
        });
    };
    match object.get("value") {
        Some(serde_json::Value::String(v)) if !v.trim().is_empty() => Ok(Secret::new(v.trim())),
        Some(serde_json::Value::String(_)) => Err(OidcError::BadResponse {
            detail: "`value` is empty".into(),
        }),
        Some(_) => Err(OidcError::BadResponse {
            detail: "`value` is not a string".into(),
        }),
        None => {
            // The field names only: a value could be a token under another name.
            let keys: Vec<&str> = object.keys().map(String::as_str).collect();
            Err(OidcError::BadResponse {
                detail: format!("it has no `value` field (fields: {})", keys.join(", ")),
            })
        }
    }
}

/// The first 200 characters of a response body on one line, with JWT-shaped words (`eyJ...`,
/// the base64 of `{"`) replaced by `<redacted>`, so that no token reaches an error message.
fn excerpt(body: &str) -> String {
    const MAX: usize = 200;
    let mut out = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        out.push_str(if word.starts_with("eyJ") {
            "<redacted>"
        } else {
            word
        });
        word.clear();
    };
    for c in body.trim().chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=' | '+' | '/') {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(if c.is_control() { ' ' } else { c });
        }
    }
    flush(&mut word, &mut out);
    if out.is_empty() {
        return "(empty body)".to_string();
    }
    match out.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &out[..cut]),
        None => out,
    }
}

/// Reads the token from the file the `web-identity-token-file` input names (for `act` or a
/// token fetched by an earlier step), without the surrounding whitespace editors and `echo` add.
pub fn read_token_file(path: &Path) -> Result<Secret, OidcError> {
    let text = std::fs::read_to_string(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => OidcError::TokenFileMissing {
            path: path.to_path_buf(),
        },
        _ => OidcError::TokenFileUnreadable {
            path: path.to_path_buf(),
            source,
        },
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(OidcError::TokenFileEmpty {
            path: path.to_path_buf(),
        });
    }
    Ok(Secret::new(token))
}

#[cfg(test)]
#[path = "oidc_tests.rs"]
mod tests;
