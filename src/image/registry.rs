//! `RegistryClient`: the distribution v2 HTTP API as far as a push needs it, over reqwest: login
//! (Basic, or the Bearer token flow when the registry challenges with it), blob HEAD, manifest
//! HEAD / GET / PUT. Blob uploads (monolithic, chunked, mount) are in `upload.rs`.
//!
//! The Authorization header is only ever sent to the registry's own origin: an upload `Location`
//! may point elsewhere (a storage backend), and credentials must not follow it.

use std::sync::Mutex;

use bytes::Bytes;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, WWW_AUTHENTICATE};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};

use super::auth::{self, Challenge, Credentials};
use super::digest::Digest;
use super::manifest::{MANIFEST_ACCEPT, ManifestDoc};
use super::registry_error::{ErrorBody, RegistryError};
use crate::secret::Secret;

pub const DOCKER_CONTENT_DIGEST: &str = "docker-content-digest";

/// How blobs that are not in the registry yet get there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadMode {
    /// `POST` then one streamed `PUT ?digest=` with a Content-Length: what ECR needs.
    Monolithic,
    /// `PATCH` chunks of this many bytes, then `PUT ?digest=`; falls back to monolithic when
    /// the registry does not honour it. Each upload in flight holds one chunk in memory.
    Chunked { chunk_size: usize },
}

pub struct RegistryClient {
    pub(crate) http: reqwest::Client,
    base: Url,
    host: String,
    credentials: Option<Credentials>,
    /// The `Authorization` value that works, learned at login.
    authorization: Mutex<Option<Secret>>,
    /// The Bearer challenge and scopes of the last login, to fetch a fresh token when one
    /// expires during a long push.
    bearer: Mutex<Option<BearerLogin>>,
    pub upload_mode: UploadMode,
}

#[derive(Debug, Clone)]
struct BearerLogin {
    realm: String,
    service: Option<String>,
    scopes: Vec<String>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("base", &self.base.as_str())
            .field("credentials", &self.credentials)
            .field("upload_mode", &self.upload_mode)
            .finish()
    }
}

impl RegistryClient {
    /// `endpoint`: `https://host[:port]`, a bare `host[:port]` (https), or `http://` for a
    /// loopback registry only: plain http elsewhere would send the ECR password in clear.
    pub fn new(endpoint: &str, credentials: Option<Credentials>) -> Result<Self, RegistryError> {
        let bad = |reason: &str| RegistryError::Endpoint {
            endpoint: endpoint.to_owned(),
            reason: reason.to_owned(),
        };
        let with_scheme = if endpoint.contains("://") {
            endpoint.to_owned()
        } else {
            format!("https://{endpoint}")
        };
        let mut base = Url::parse(&with_scheme).map_err(|e| bad(&e.to_string()))?;
        let host = match (base.host_str(), base.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => return Err(bad("it has no host")),
        };
        match base.scheme() {
            "https" => {}
            "http" if auth::is_loopback(base.host_str().unwrap_or_default()) => {}
            "http" => return Err(bad("plain http is only allowed for a loopback registry")),
            _ => return Err(bad("expected an https:// URL")),
        }
        base.set_path("/");
        base.set_query(None);
        // Connect and per-read limits only: a big blob may take long, but never stalls unseen.
        let http = crate::retry::http_client()
            .tcp_nodelay(true)
            .build()
            .map_err(|e| RegistryError::Http {
                what: "build the HTTP client".into(),
                registry: host.clone(),
                source: e,
            })?;
        Ok(RegistryClient {
            http,
            base,
            host,
            credentials,
            authorization: Mutex::new(None),
            bearer: Mutex::new(None),
            upload_mode: UploadMode::Monolithic,
        })
    }

    pub fn with_upload_mode(mut self, mode: UploadMode) -> Self {
        self.upload_mode = mode;
        self
    }

    /// `host[:port]`, the registry part of an image reference.
    pub fn host(&self) -> &str {
        &self.host
    }

    pub(crate) fn url(&self, path: &str) -> Url {
        self.base
            .join(path.trim_start_matches('/'))
            .expect("a registry path joins its base")
    }

    /// Resolve an upload `Location` (absolute, or relative to the registry).
    pub(crate) fn resolve(&self, location: &str) -> Result<Url, String> {
        self.base
            .join(location)
            .map_err(|e| format!("bad Location {location:?}: {e}"))
    }

    /// A request with the learned Authorization header when `url` is the registry's origin.
    pub(crate) fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let same_origin = url.origin() == self.base.origin();
        let mut rb = self.http.request(method, url);
        if same_origin && let Some(auth) = self.authorization.lock().expect("auth lock").as_ref() {
            rb = rb.header(AUTHORIZATION, sensitive(auth));
        }
        rb
    }

    pub(crate) async fn send(
        &self,
        what: &str,
        rb: RequestBuilder,
    ) -> Result<Response, RegistryError> {
        rb.send().await.map_err(|e| self.http_error(what, e))
    }

    pub(crate) fn http_error(&self, what: &str, e: reqwest::Error) -> RegistryError {
        RegistryError::Http {
            what: what.to_owned(),
            registry: self.host.clone(),
            source: e,
        }
    }

    /// Turn an unexpected answer into an error carrying the registry's body.
    pub(crate) async fn unexpected(&self, what: &str, resp: Response) -> RegistryError {
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let body = ErrorBody::parse(&text);
        if status == StatusCode::UNAUTHORIZED {
            return RegistryError::Unauthorized {
                what: what.to_owned(),
                registry: self.host.clone(),
                body,
                hint: if self.credentials.is_some() {
                    "check the user and password (for ECR: user AWS and a fresh GetAuthorizationToken password)"
                } else {
                    "the registry needs credentials and none were given"
                },
            };
        }
        RegistryError::Status {
            what: what.to_owned(),
            registry: self.host.clone(),
            status: status.as_u16(),
            body,
        }
    }

    pub(crate) fn protocol(&self, what: &str, reason: impl Into<String>) -> RegistryError {
        RegistryError::Protocol {
            what: what.to_owned(),
            registry: self.host.clone(),
            reason: reason.into(),
        }
    }

    /// Learn how to authenticate from `GET /v2/` and check that it works, before any upload:
    /// streamed bodies cannot be replayed after a 401. `mount_from` widens a Bearer token's
    /// scope to pull from those repositories. With credentials and no login yet, the first
    /// `GET /v2/` already carries them as Basic (what ECR and htpasswd registries take), so
    /// the usual login is one request; a registry that wants a Bearer token answers 401 with
    /// its challenge as it would have anyway. They go only to the registry's own origin, https
    /// (or loopback), the endpoint they were given for.
    pub async fn login(&self, repo: &str, mount_from: &[String]) -> Result<(), RegistryError> {
        let what = format!("log in to {}", self.host);
        let ping = || self.send(&what, self.request(Method::GET, self.url("/v2/")));
        let mut sent_basic = false;
        if let Some(creds) = self.credentials.as_ref() {
            let mut auth = self.authorization.lock().expect("auth lock");
            if auth.is_none() {
                *auth = Some(Secret::new(creds.basic_header()));
                sent_basic = true;
            }
        }
        let resp = ping().await?;
        if resp.status().is_success() {
            return Ok(());
        }
        if sent_basic {
            *self.authorization.lock().expect("auth lock") = None;
        }
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Err(self.unexpected(&what, resp).await);
        }
        let challenge = resp
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(auth::parse_challenge);
        match challenge {
            // A token service may hand anonymous tokens too, so credentials are optional here.
            Some(Challenge::Bearer { realm, service, .. }) => {
                let login = BearerLogin {
                    realm,
                    service,
                    scopes: auth::push_scopes(repo, mount_from),
                };
                self.use_token(&what, &login).await?;
                *self.bearer.lock().expect("auth lock") = Some(login);
                Ok(())
            }
            // Basic, or no usable challenge: ECR and htpasswd registries take Basic. Refused
            // when it was just sent.
            _ => {
                let Some(creds) = self.credentials.as_ref().filter(|_| !sent_basic) else {
                    return Err(self.unexpected(&what, resp).await);
                };
                *self.authorization.lock().expect("auth lock") =
                    Some(Secret::new(creds.basic_header()));
                let resp = ping().await?;
                if resp.status().is_success() {
                    Ok(())
                } else {
                    Err(self.unexpected(&what, resp).await)
                }
            }
        }
    }

    /// After a 401 mid-push: fetch a new Bearer token with the login's scopes. `false` when
    /// the login was not a Bearer one (a Basic 401 does not get better by asking again).
    pub async fn refresh_token(&self) -> Result<bool, RegistryError> {
        let login = self.bearer.lock().expect("auth lock").clone();
        let Some(login) = login else {
            return Ok(false);
        };
        tracing::info!("{}: token expired, fetching a new one", self.host);
        self.use_token(&format!("refresh the token for {}", self.host), &login)
            .await?;
        Ok(true)
    }

    async fn use_token(&self, what: &str, login: &BearerLogin) -> Result<(), RegistryError> {
        let token = self
            .fetch_token(what, &login.realm, login.service.as_deref(), &login.scopes)
            .await?;
        *self.authorization.lock().expect("auth lock") =
            Some(Secret::new(format!("Bearer {}", token.expose())));
        Ok(())
    }

    async fn fetch_token(
        &self,
        what: &str,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
    ) -> Result<Secret, RegistryError> {
        let what = &format!("{what}: token request to {realm}");
        let mut url = auth::token_realm(realm).map_err(|reason| RegistryError::UnsafeRealm {
            registry: self.host.clone(),
            realm: realm.to_owned(),
            reason,
        })?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            for s in scopes {
                q.append_pair("scope", s);
            }
        }
        let mut rb = self.http.get(url);
        if let Some(c) = &self.credentials {
            rb = rb.header(AUTHORIZATION, sensitive(&Secret::new(c.basic_header())));
        }
        let resp = self.send(what, rb).await?;
        if !resp.status().is_success() {
            return Err(self.unexpected(what, resp).await);
        }
        let body: auth::TokenResponse = resp
            .json()
            .await
            .map_err(|e| self.protocol(what, format!("token response: {e}")))?;
        body.into_token()
            .ok_or_else(|| self.protocol(what, "the token response has no token"))
    }

    /// `HEAD /v2/<repo>/blobs/<digest>`: is the blob already in `repo`?
    pub async fn blob_exists(&self, repo: &str, digest: &Digest) -> Result<bool, RegistryError> {
        let what = format!("check blob {digest} in {repo}");
        let resp = self
            .send(
                &what,
                self.request(
                    Method::HEAD,
                    self.url(&format!("/v2/{repo}/blobs/{digest}")),
                ),
            )
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.unexpected(&what, resp).await),
        }
    }

    /// `HEAD /v2/<repo>/manifests/<reference>`: the digest a tag (or digest) currently names,
    /// `None` when there is none.
    pub async fn manifest_digest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<Digest>, RegistryError> {
        let what = format!("look up {repo}:{reference}");
        let rb = self
            .request(
                Method::HEAD,
                self.url(&format!("/v2/{repo}/manifests/{reference}")),
            )
            .header(ACCEPT, MANIFEST_ACCEPT);
        let resp = self.send(&what, rb).await?;
        match resp.status() {
            s if s.is_success() => content_digest(resp.headers())
                .map(Some)
                .ok_or_else(|| self.protocol(&what, "no valid Docker-Content-Digest header")),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(self.unexpected(&what, resp).await),
        }
    }

    /// `GET /v2/<repo>/manifests/<reference>`: media type and exact bytes, `None` when absent.
    pub async fn get_manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<(String, Bytes)>, RegistryError> {
        let what = format!("fetch manifest {repo}:{reference}");
        let rb = self
            .request(
                Method::GET,
                self.url(&format!("/v2/{repo}/manifests/{reference}")),
            )
            .header(ACCEPT, MANIFEST_ACCEPT);
        let resp = self.send(&what, rb).await?;
        match resp.status() {
            s if s.is_success() => {
                let media_type = resp
                    .headers()
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let bytes = resp.bytes().await.map_err(|e| self.http_error(&what, e))?;
                Ok(Some((media_type, bytes)))
            }
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(self.unexpected(&what, resp).await),
        }
    }

    /// `PUT /v2/<repo>/manifests/<reference>` with the manifest's own media type; checks that
    /// the registry computed the same digest we did.
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        doc: &ManifestDoc,
    ) -> Result<(), RegistryError> {
        let what = format!("push manifest {} as {repo}:{reference}", doc.digest);
        let rb = self
            .request(
                Method::PUT,
                self.url(&format!("/v2/{repo}/manifests/{reference}")),
            )
            .header(CONTENT_TYPE, &doc.media_type)
            .body(doc.bytes.clone());
        let resp = self.send(&what, rb).await?;
        if !resp.status().is_success() {
            return Err(self.unexpected(&what, resp).await);
        }
        match content_digest(resp.headers()) {
            Some(d) if d != doc.digest => {
                Err(self.protocol(&what, format!("it stored the manifest as {d}")))
            }
            _ => Ok(()),
        }
    }
}

/// A header value that HTTP-level debug logs print as `Sensitive`.
fn sensitive(secret: &Secret) -> reqwest::header::HeaderValue {
    let mut v = reqwest::header::HeaderValue::from_str(secret.expose())
        .unwrap_or_else(|_| reqwest::header::HeaderValue::from_static(""));
    v.set_sensitive(true);
    v
}

pub(crate) fn content_digest(headers: &HeaderMap) -> Option<Digest> {
    headers
        .get(DOCKER_CONTENT_DIGEST)?
        .to_str()
        .ok()
        .and_then(|s| Digest::parse(s.trim()).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_plain_http() {
        let ok = [
            ("http://127.0.0.1:5000", "127.0.0.1:5000"),
            ("http://localhost:5000/", "localhost:5000"),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com",
                "123456789012.dkr.ecr.us-east-1.amazonaws.com",
            ),
            ("https://registry.example:8443", "registry.example:8443"),
        ];
        for (endpoint, host) in ok {
            assert_eq!(
                RegistryClient::new(endpoint, None).unwrap().host(),
                host,
                "{endpoint}"
            );
        }
        let err = RegistryClient::new("http://registry.example", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("only allowed for a loopback"), "{err}");
    }
}
