//! `RegistryError`: every failure of a registry call, named by what we were doing (which blob,
//! which manifest, which repository) and carrying the registry's own words: the
//! `{"errors":[{"code","message","detail"}]}` body of the distribution spec, or its raw text.

use std::fmt;

use super::digest::Mismatch;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("registry endpoint {endpoint:?}: {reason}")]
    Endpoint { endpoint: String, reason: String },
    #[error("{what}: cannot reach {registry}: {}", chain(source))]
    Http {
        what: String,
        registry: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{what}: {registry} answered 401 Unauthorized{body}; {hint}")]
    Unauthorized {
        what: String,
        registry: String,
        body: ErrorBody,
        hint: &'static str,
    },
    #[error("{what}: {registry} answered {status}{body}")]
    Status {
        what: String,
        registry: String,
        status: u16,
        body: ErrorBody,
    },
    #[error("{what}: {registry} sent an answer we cannot use: {reason}")]
    Protocol {
        what: String,
        registry: String,
        reason: String,
    },
    /// The registry's Bearer challenge names a token service we will not send credentials to.
    #[error("{registry} asks for a token from {realm:?}, which was refused: {reason}")]
    UnsafeRealm {
        registry: String,
        realm: String,
        reason: String,
    },
    /// The source's bytes did not match their descriptor: refused while streaming.
    #[error("{what}: refused: {source}")]
    Corrupt {
        what: String,
        #[source]
        source: Mismatch,
    },
    #[error("{what}: cannot read the source: {source}")]
    Read {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The registry does not take chunked uploads the way the spec says (ECR answers a PATCH
    /// with 201): the caller falls back to one streamed PUT.
    #[error("{what}: {registry} does not honour chunked uploads ({reason})")]
    ChunkedUnsupported {
        what: String,
        registry: String,
        reason: String,
    },
}

impl RegistryError {
    /// True when the blob itself was bad, not the registry or the network.
    pub fn is_corrupt_source(&self) -> bool {
        matches!(self, RegistryError::Corrupt { .. })
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            RegistryError::Status { status, .. } => Some(*status),
            RegistryError::Unauthorized { .. } => Some(401),
            _ => None,
        }
    }
}

/// reqwest's Display stops at its own message; the cause (connection refused, a body error)
/// is one or two sources down.
fn chain(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut cur: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(c) = cur {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = c.source();
    }
    out
}

/// A registry's error body, parsed when it follows the spec. Displays as ` (CODE: message; ...)`
/// or ` ("raw text")`, or nothing when empty, so it can follow a status in one sentence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorBody {
    pub errors: Vec<(String, String)>,
    pub raw: String,
}

#[derive(serde::Deserialize)]
struct Errors {
    errors: Vec<ErrorItem>,
}

#[derive(serde::Deserialize)]
struct ErrorItem {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    detail: Option<serde_json::Value>,
}

impl ErrorBody {
    pub fn parse(text: &str) -> ErrorBody {
        let errors = serde_json::from_str::<Errors>(text)
            .map(|e| {
                e.errors
                    .into_iter()
                    .map(|i| {
                        let mut msg = i.message;
                        match i.detail {
                            Some(serde_json::Value::String(d)) if !d.is_empty() => {
                                msg = format!("{msg} ({d})")
                            }
                            Some(d @ serde_json::Value::Object(_)) => msg = format!("{msg} ({d})"),
                            _ => {}
                        }
                        (i.code, msg)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let raw: String = text.trim().chars().take(500).collect();
        ErrorBody { errors, raw }
    }

    pub fn codes(&self) -> impl Iterator<Item = &str> {
        self.errors.iter().map(|(c, _)| c.as_str())
    }
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.errors.is_empty() {
            let parts: Vec<String> = self
                .errors
                .iter()
                .map(|(c, m)| format!("{c}: {m}"))
                .collect();
            write!(f, " ({})", parts.join("; "))
        } else if !self.raw.is_empty() {
            write!(f, " ({:?})", self.raw)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_formats_the_registry_words() {
        let body = ErrorBody::parse(
            r#"{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry","detail":"sha256:ab"}]}"#,
        );
        assert_eq!(
            body.to_string(),
            " (MANIFEST_BLOB_UNKNOWN: blob unknown to registry (sha256:ab))"
        );
        assert_eq!(ErrorBody::parse("").to_string(), "");
        assert_eq!(ErrorBody::parse("oops\n").to_string(), " (\"oops\")");
    }
}
