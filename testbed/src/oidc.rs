//! `OidcIssuer`: a fake of the GitHub Actions OIDC token endpoint, in process (axum on a free
//! loopback port).
//!
//! Like the runner's endpoint it answers `GET <request_url()>&audience=<aud>` carrying
//! `Authorization: Bearer <request_token()>` with `{"count": <len>, "value": "<JWT>"}` (a request
//! without that bearer gets 401). Tokens are RS256, signed with the fixed test key in
//! `fixtures/oidc_test_key.pem`, with header `kid` = the key's RFC 7638 thumbprint; claims are
//! built by `claims::github_claims`. It also serves `/.well-known/openid-configuration` and
//! `/.well-known/jwks`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::claims::{GITHUB_ISSUER, STS_AUDIENCE, github_claims};
use crate::net::random_token;

/// The fixed 2048-bit RSA test key (PKCS#8 PEM) the issuer signs with. Test-only, public.
pub const TEST_PRIVATE_KEY_PEM: &str = include_str!("fixtures/oidc_test_key.pem");
/// Its public half (SPKI PEM), for verifying tokens without fetching the JWKS.
pub const TEST_PUBLIC_KEY_PEM: &str = include_str!("fixtures/oidc_test_key.pub.pem");

/// One request to the token endpoint, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The `audience` query parameter, if any.
    pub audience: Option<String>,
    /// Whether it carried the right bearer token.
    pub authorized: bool,
    /// The status it was answered with.
    pub status: u16,
}

struct Inner {
    request_token: String,
    key: EncodingKey,
    kid: String,
    jwk: Jwk,
    claims: Mutex<Value>,
    failures: Mutex<VecDeque<u16>>,
    requests: Mutex<Vec<TokenRequest>>,
    issued: IssuedTokens,
}

impl Inner {
    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some("JWT".into());
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key).expect("sign a token with the test key")
    }
}

/// The tokens an issuer's endpoint served (not those `mint` made), shared with the issuer.
#[derive(Debug, Clone, Default)]
pub struct IssuedTokens(Arc<Mutex<Vec<String>>>);

impl IssuedTokens {
    pub fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// The fake token endpoint; dropping it stops the server.
pub struct OidcIssuer {
    endpoint: String,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for OidcIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcIssuer")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl Drop for OidcIssuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl OidcIssuer {
    /// Starts the issuer; `claims` are merged over the defaults of every token it issues (see
    /// `claims::github_claims`; pass `json!({})` for the defaults).
    pub async fn start(claims: Value) -> Result<OidcIssuer> {
        let key = EncodingKey::from_rsa_pem(TEST_PRIVATE_KEY_PEM.as_bytes())
            .context("load the test RSA key")?;
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).context("derive the JWK")?;
        let kid = jwk.thumbprint(ThumbprintHash::SHA256);
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let inner = Arc::new(Inner {
            request_token: random_token(40),
            key,
            kid,
            jwk,
            claims: Mutex::new(claims),
            failures: Mutex::new(VecDeque::new()),
            requests: Mutex::new(Vec::new()),
            issued: IssuedTokens::default(),
        });
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let app = axum::Router::new()
            .route("/token", get(token))
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/.well-known/jwks", get(jwks))
            .with_state((inner.clone(), endpoint.clone()));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(OidcIssuer {
            endpoint,
            inner,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The value for `ACTIONS_ID_TOKEN_REQUEST_URL`: it already has a query string, so callers
    /// append `&audience=...`.
    pub fn request_url(&self) -> String {
        format!("{}/token?api-version=2.0", self.endpoint)
    }

    /// The value for `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
    pub fn request_token(&self) -> &str {
        &self.inner.request_token
    }

    /// A signed token with the issuer's claims and then `claims` merged over the defaults;
    /// `aud` is `sts.amazonaws.com` unless given. Not counted as a request.
    pub fn mint(&self, claims: Value) -> String {
        let base = self.inner.claims.lock().unwrap().clone();
        self.inner
            .sign(&github_claims(&[&base, &claims], Some(STS_AUDIENCE)))
    }

    /// Replaces the claims merged into tokens issued from now on.
    pub fn set_claims(&self, claims: Value) {
        *self.inner.claims.lock().unwrap() = claims;
    }

    /// The next `n` token requests are answered with `status` (after the bearer check).
    pub fn fail_next(&self, n: usize, status: u16) {
        self.inner
            .failures
            .lock()
            .unwrap()
            .extend(std::iter::repeat_n(status, n));
    }

    /// How many requests reached the token endpoint (failed and unauthorized ones included).
    pub fn request_count(&self) -> usize {
        self.inner.requests.lock().unwrap().len()
    }

    /// Every request to the token endpoint so far.
    pub fn requests(&self) -> Vec<TokenRequest> {
        self.inner.requests.lock().unwrap().clone()
    }

    /// Every token the endpoint has handed out so far (and will hand out: the handle outlives
    /// this call), for a harness that checks no token reaches a log.
    pub fn issued(&self) -> IssuedTokens {
        self.inner.issued.clone()
    }

    /// The JWKS (`{"keys": [...]}`) it serves.
    pub fn jwks(&self) -> Value {
        serde_json::to_value(JwkSet {
            keys: vec![self.inner.jwk.clone()],
        })
        .expect("serialize the JWKS")
    }

    /// The `kid` of its signing key.
    pub fn kid(&self) -> &str {
        &self.inner.kid
    }
}

type AppState = (Arc<Inner>, String);

async fn token(
    State((inner, _)): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let audience = query.get("audience").cloned();
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, token)| {
            scheme.eq_ignore_ascii_case("bearer") && token.trim() == inner.request_token
        });
    let status = if !authorized {
        401
    } else {
        inner.failures.lock().unwrap().pop_front().unwrap_or(200)
    };
    inner.requests.lock().unwrap().push(TokenRequest {
        audience: audience.clone(),
        authorized,
        status,
    });
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match status {
        401 => (code, Json(json!({"message": "Bad credentials"}))).into_response(),
        200 => {
            let base = inner.claims.lock().unwrap().clone();
            let jwt = inner.sign(&github_claims(&[&base], audience.as_deref()));
            inner.issued.0.lock().unwrap().push(jwt.clone());
            Json(json!({"count": jwt.len(), "value": jwt})).into_response()
        }
        _ => (
            code,
            Json(json!({"message": format!("testbed: injected failure {status}")})),
        )
            .into_response(),
    }
}

async fn discovery(State((inner, endpoint)): State<AppState>) -> Json<Value> {
    let claims = inner.claims.lock().unwrap().clone();
    let issuer = claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or(GITHUB_ISSUER)
        .to_owned();
    Json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{endpoint}/.well-known/jwks"),
        "subject_types_supported": ["public", "pairwise"],
        "response_types_supported": ["id_token"],
        "claims_supported": ["sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "sha", "repository",
            "repository_id", "repository_owner", "repository_owner_id", "run_id", "run_number", "run_attempt",
            "actor", "actor_id", "workflow", "workflow_ref", "workflow_sha", "head_ref", "base_ref", "event_name",
            "ref_type", "ref_protected", "environment", "job_workflow_ref", "job_workflow_sha",
            "repository_visibility", "runner_environment"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid"],
    }))
}

async fn jwks(State((inner, _)): State<AppState>) -> Json<Value> {
    Json(
        serde_json::to_value(JwkSet {
            keys: vec![inner.jwk.clone()],
        })
        .expect("serialize the JWKS"),
    )
}
