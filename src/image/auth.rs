//! Registry authentication: the `user:password` pair (for ECR, `AWS` and the token from
//! `GetAuthorizationToken`), the `WWW-Authenticate` challenge a registry answers `/v2/` with, and
//! the token request of the Bearer flow (distribution's `docs/spec/auth/token.md`), and where that
//! request may go: the registry names the token service (the realm), and our credentials go
//! with the request, so only an https realm, or a loopback one, is used.

use std::fmt;

use base64::Engine as _;
use reqwest::Url;

use crate::secret::Secret;

#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
}

impl Credentials {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: Secret::new(password),
        }
    }

    /// The value of an `Authorization: Basic ...` header.
    pub fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password.expose());
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password)
            .finish()
    }
}

/// What a registry asks for in `WWW-Authenticate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic {
        realm: Option<String>,
    },
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parse `Basic realm="x"` or `Bearer realm="https://auth/token",service="reg",scope="repository:a/b:pull,push"`.
/// Quoted values may hold commas (scopes do), so this is a small tokenizer, not a split.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let params = parse_params(rest);
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    if scheme.eq_ignore_ascii_case("basic") {
        Some(Challenge::Basic {
            realm: get("realm"),
        })
    } else if scheme.eq_ignore_ascii_case("bearer") {
        Some(Challenge::Bearer {
            realm: get("realm")?,
            service: get("service"),
            scope: get("scope"),
        })
    } else {
        None
    }
}

fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String =
            std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        if key.is_empty() {
            return out;
        }
        if chars.next() != Some('=') {
            continue;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ',')).collect();
        }
        out.push((key.trim().to_owned(), value.trim().to_owned()));
    }
}

/// The realm of a Bearer challenge as a URL we may send the registry's credentials to: https,
/// or plain http to a loopback host (a registry on this machine, as in tests). Any other realm
/// would carry the password in clear to wherever the registry's answer pointed: refused, with
/// the reason.
pub fn token_realm(realm: &str) -> Result<Url, String> {
    let url = Url::parse(realm).map_err(|e| format!("it is not a URL ({e})"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if url.host_str().is_some_and(is_loopback) => Ok(url),
        "http" => Err(
            "it is plain http: credentials go only to an https token service (or a loopback one)"
                .into(),
        ),
        other => Err(format!(
            "its scheme is {other}: credentials go only to an https token service"
        )),
    }
}

/// `localhost`, `127.0.0.0/8` or `::1`: traffic that never leaves the machine.
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The token endpoint's answer: `token`, or OAuth2's `access_token`.
#[derive(Debug, serde::Deserialize)]
pub struct TokenResponse {
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub access_token: Option<String>,
}

impl TokenResponse {
    pub fn into_token(self) -> Option<Secret> {
        self.token
            .or(self.access_token)
            .filter(|t| !t.is_empty())
            .map(Secret::new)
    }
}

/// The scopes a push to `repo` needs, plus pull on each repository we may mount from.
pub fn push_scopes(repo: &str, mount_from: &[String]) -> Vec<String> {
    let mut scopes = vec![format!("repository:{repo}:pull,push")];
    scopes.extend(
        mount_from
            .iter()
            .filter(|r| r.as_str() != repo)
            .map(|r| format!("repository:{r}:pull")),
    );
    scopes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_challenges() {
        let cases = [
            (
                r#"Basic realm="basic-realm""#,
                Some(Challenge::Basic {
                    realm: Some("basic-realm".into()),
                }),
            ),
            ("basic", Some(Challenge::Basic { realm: None })),
            (
                r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
                Some(Challenge::Bearer {
                    realm: "https://auth.example/token".into(),
                    service: Some("registry.example".into()),
                    scope: Some("repository:a/b:pull,push".into()),
                }),
            ),
            (r#"Bearer service="x""#, None),
            ("Negotiate abc", None),
        ];
        for (header, want) in cases {
            assert_eq!(parse_challenge(header), want, "{header}");
        }
    }

    #[test]
    fn only_https_or_loopback_realms_are_used() {
        let allowed = [
            "https://auth.docker.io/token",
            "https://auth.example:8443/token?x=1",
            "http://127.0.0.1:5001/token",
            "http://localhost:5001/token",
            "http://[::1]:5001/token",
        ];
        for realm in allowed {
            assert!(token_realm(realm).is_ok(), "{realm}");
        }
        let refused = [
            ("http://auth.example/token", "plain http"),
            ("http://10.0.0.1/token", "plain http"),
            ("http://127.0.0.1.evil.example/token", "plain http"),
            ("http://localhost.evil.example/token", "plain http"),
            ("ftp://auth.example/token", "scheme is ftp"),
            ("file:///etc/passwd", "scheme is file"),
            ("/token", "not a URL"),
            ("", "not a URL"),
        ];
        for (realm, why) in refused {
            let err = token_realm(realm).expect_err(realm);
            assert!(err.contains(why), "{realm}: {err}");
        }
    }

    #[test]
    fn credentials_never_print_the_password() {
        let c = Credentials::new("AWS", "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
        assert_eq!(c.basic_header(), "Basic QVdTOmh1bnRlcjI=");
    }

    #[test]
    fn scopes_cover_mount_sources() {
        assert_eq!(
            push_scopes("app", &["base".into(), "app".into()]),
            vec![
                "repository:app:pull,push".to_owned(),
                "repository:base:pull".to_owned()
            ]
        );
    }
}
