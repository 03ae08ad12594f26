//! Which servers we trust: one process-wide rustls client configuration for every HTTPS client
//! (reqwest's through [`reqwest_config`], the AWS SDK's through [`sdk_http_client`]), whose root
//! certificates are read at most once per process, and only when a TLS handshake first needs
//! them. A run that only speaks plain http (a loopback registry, a local test bed) never reads
//! them at all.
//!
//! The roots come from where OpenSSL would look, as rustls-native-certs finds them:
//! `SSL_CERT_FILE` (a PEM bundle) and `SSL_CERT_DIR` when set, otherwise the system's bundle and
//! certificate directory (`/etc/ssl/certs` on Debian; the action's image ships that bundle).
//!
//! What can go wrong is a [`TrustError`]: no usable root at all (say what to install or set),
//! or a server whose certificate no root vouches for. Neither changes on a retry, so
//! [`is_trust_failure`] lets the retry classifiers stop at once.

use std::error::Error as StdError;
use std::fmt;
use std::sync::{Arc, OnceLock};

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self as smithy_tls, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder as SdkClientBuilder, Connector, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use base64::Engine as _;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, RootCertStore, SignatureScheme};

/// Why a TLS connection was refused on trust grounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustError {
    /// Not one usable root certificate was found where we looked.
    NoRoots {
        /// Where we looked ([`RootsSource::describe`]).
        searched: String,
        /// What went wrong reading it (a missing file, an unreadable directory), if anything.
        problems: Vec<String>,
    },
    /// The server's certificate chains to no root we trust.
    NotTrusted { roots: usize, searched: String },
}

impl fmt::Display for TrustError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrustError::NoRoots { searched, problems } => {
                write!(f, "no root CA certificates found in {searched}")?;
                if !problems.is_empty() {
                    write!(f, " ({})", problems.join("; "))?;
                }
                f.write_str(
                    ", so no HTTPS server can be trusted: install the ca-certificates package, \
                     or set SSL_CERT_FILE to a PEM bundle of root certificates",
                )
            }
            TrustError::NotTrusted { roots, searched } => write!(
                f,
                "the server's certificate is not trusted: it is not issued by any of the \
                 {roots} root CA certificates from {searched} (a server with a private CA needs \
                 that CA in SSL_CERT_FILE)"
            ),
        }
    }
}

impl StdError for TrustError {}

/// Where roots are read from, as the environment says (`SSL_CERT_FILE`, `SSL_CERT_DIR`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootsSource {
    pub cert_file: Option<String>,
    pub cert_dir: Option<String>,
}

impl RootsSource {
    fn from_env() -> RootsSource {
        let var = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
        RootsSource {
            cert_file: var("SSL_CERT_FILE"),
            cert_dir: var("SSL_CERT_DIR"),
        }
    }

    /// The place named in an error: what the user set, or the system's store.
    pub fn describe(&self) -> String {
        match (&self.cert_file, &self.cert_dir) {
            (Some(file), Some(dir)) => format!("SSL_CERT_FILE={file} and SSL_CERT_DIR={dir}"),
            (Some(file), None) => format!("SSL_CERT_FILE={file}"),
            (None, Some(dir)) => format!("SSL_CERT_DIR={dir}"),
            (None, None) => {
                "the system's CA bundle (e.g. /etc/ssl/certs/ca-certificates.crt)".to_owned()
            }
        }
    }
}

/// The roots, once read: a verifier over them, and the certificates themselves (the AWS SDK's
/// client takes them as PEM).
#[derive(Debug)]
struct Roots {
    verifier: Arc<WebPkiServerVerifier>,
    certs: Vec<CertificateDer<'static>>,
    searched: String,
}

static ROOTS: OnceLock<Result<Roots, TrustError>> = OnceLock::new();

/// The process's roots, read on first use.
fn roots() -> Result<&'static Roots, TrustError> {
    ROOTS
        .get_or_init(|| {
            let source = RootsSource::from_env();
            let found = rustls_native_certs::load_native_certs();
            let problems = found.errors.iter().map(|e| e.to_string()).collect();
            build_roots(found.certs, problems, &source.describe())
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Keeps the certificates webpki accepts as trust anchors; none at all is [`TrustError::NoRoots`].
fn build_roots(
    certs: Vec<CertificateDer<'static>>,
    problems: Vec<String>,
    searched: &str,
) -> Result<Roots, TrustError> {
    let mut store = RootCertStore::empty();
    let certs: Vec<_> = certs
        .into_iter()
        .filter(|cert| store.add(cert.clone()).is_ok())
        .collect();
    if certs.is_empty() {
        return Err(TrustError::NoRoots {
            searched: searched.to_owned(),
            problems,
        });
    }
    for problem in &problems {
        tracing::debug!("while reading root CA certificates: {problem}");
    }
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider())
        .build()
        .map_err(|e| TrustError::NoRoots {
            searched: searched.to_owned(),
            problems: vec![e.to_string()],
        })?;
    Ok(Roots {
        verifier,
        certs,
        searched: searched.to_owned(),
    })
}

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .clone()
}

/// Verifies server certificates against the process's roots, reading them at the first
/// certificate it is asked about. Signatures need no roots, so a handshake's other steps never
/// trigger the read.
#[derive(Debug)]
struct LazyRootsVerifier {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for LazyRootsVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let roots = roots().map_err(as_rustls)?;
        roots
            .verifier
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map_err(|e| match e {
                rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
                    as_rustls(TrustError::NotTrusted {
                        roots: roots.certs.len(),
                        searched: roots.searched.clone(),
                    })
                }
                other => other,
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

fn as_rustls(error: TrustError) -> rustls::Error {
    rustls::Error::Other(OtherError(Arc::new(error)))
}

/// The rustls configuration every reqwest client uses (pass it to
/// `ClientBuilder::tls_backend_preconfigured`): TLS 1.2 and 1.3 on aws-lc-rs, the lazily read
/// roots, and ALPN offering HTTP/2 then HTTP/1.1 as reqwest's own configuration would.
/// Building it reads no file.
pub fn reqwest_config() -> rustls::ClientConfig {
    static CONFIG: OnceLock<rustls::ClientConfig> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = provider();
            let verifier = LazyRootsVerifier {
                algorithms: provider.signature_verification_algorithms,
            };
            let mut config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("aws-lc-rs supports TLS 1.2 and 1.3")
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth();
            config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            config
        })
        .clone()
}

/// Whether `error`, or anything it was caused by, is a refusal on trust grounds (no roots, or
/// a certificate that is not trusted, expired or for another name): a retry meets the same
/// certificate and the same roots, so it is not worth one.
pub fn is_trust_failure(error: &(dyn StdError + 'static)) -> bool {
    causes(error).any(|e| {
        e.is::<TrustError>()
            || matches!(
                e.downcast_ref::<rustls::Error>(),
                Some(rustls::Error::InvalidCertificate(_))
            )
    })
}

/// The trust failure behind `error`, told as a [`TrustError`]: ours as it is, and a rustls
/// "unknown issuer" (from the AWS SDK's verifier, which is built over our roots) as
/// [`TrustError::NotTrusted`]. `None` when trust is not what failed, or when it failed for
/// another certificate reason (expired, another name), which rustls's own words say best.
pub fn explain(error: &(dyn StdError + 'static)) -> Option<TrustError> {
    causes(error).find_map(|e| {
        if let Some(ours) = e.downcast_ref::<TrustError>() {
            return Some(ours.clone());
        }
        match e.downcast_ref::<rustls::Error>() {
            Some(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)) => {
                let roots = ROOTS.get()?.as_ref().ok()?;
                Some(TrustError::NotTrusted {
                    roots: roots.certs.len(),
                    searched: roots.searched.clone(),
                })
            }
            _ => None,
        }
    })
}

/// The error and its causes; an `io::Error`'s payload counts as its cause (hyper-rustls nests
/// the rustls error inside one, and `io::Error::source` skips it).
fn causes<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |&e| match e.downcast_ref::<std::io::Error>() {
        Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
        None => match e.downcast_ref::<rustls::Error>() {
            Some(rustls::Error::Other(OtherError(inner))) => {
                Some(inner.as_ref() as &(dyn StdError + 'static))
            }
            _ => e.source(),
        },
    })
}

/// The HTTP client every AWS SDK configuration shares: plain http goes through a connector
/// without TLS (no roots read), https through the SDK's rustls connector given the process's
/// roots (read once, here or by [`reqwest_config`]'s verifier, whichever needs them first).
/// Its connection pool is the process's: made for the binary's one runtime (a library user
/// running several runtimes would see a pooled connection of a finished one fail, and retried).
pub fn sdk_http_client() -> SharedHttpClient {
    static CLIENT: OnceLock<SharedHttpClient> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            SharedHttpClient::new(SdkHttpClient {
                plain: SdkClientBuilder::new().build_with_connector_fn(|settings, components| {
                    sdk_connector(settings, components).build_http()
                }),
                tls: SdkClientBuilder::new().build_with_connector_fn(|settings, components| {
                    sdk_connector(settings, components)
                        .tls_provider(smithy_tls::Provider::Rustls(
                            smithy_tls::rustls_provider::CryptoMode::AwsLc,
                        ))
                        .tls_context(sdk_tls_context())
                        .build()
                }),
            })
        })
        .clone()
}

/// A connector builder as the SDK's default client sets one up: the operation's timeouts, the
/// runtime's sleep, and the proxy the environment names (`HTTPS_PROXY`, `NO_PROXY`...).
fn sdk_connector(
    settings: Option<&HttpConnectorSettings>,
    components: Option<&RuntimeComponents>,
) -> ConnectorBuilder {
    let mut builder = Connector::builder();
    builder.set_connector_settings(settings.cloned());
    if let Some(components) = components {
        builder.set_sleep_impl(components.sleep_impl());
    }
    builder.set_proxy_config(Some(ProxyConfig::from_env()));
    builder
}

/// The SDK's TLS context over our roots (never its own read of them). Only asked for once an
/// https request found the roots loadable.
fn sdk_tls_context() -> TlsContext {
    let mut store = TrustStore::empty().with_native_roots(false);
    for cert in roots().map(|r| r.certs.as_slice()).unwrap_or_default() {
        store.add_pem_certificate(pem(cert));
    }
    TlsContext::builder()
        .with_trust_store(store)
        .build()
        .expect("a trust store of parsed certificates is a valid TLS context")
}

/// One certificate as PEM.
fn pem(cert: &CertificateDer<'_>) -> Vec<u8> {
    let body = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
    let mut text = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        text.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        text.push('\n');
    }
    text.push_str("-----END CERTIFICATE-----\n");
    text.into_bytes()
}

#[derive(Debug)]
struct SdkHttpClient {
    plain: SharedHttpClient,
    tls: SharedHttpClient,
}

impl HttpClient for SdkHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(BySchemeConnector {
            plain: self.plain.http_connector(settings, components),
            tls: self.tls.clone(),
            settings: settings.clone(),
            components: components.clone(),
        })
    }
}

/// Sends http requests through the plain connector and https ones through the TLS connector,
/// which is made (and the roots read) only when the first https request comes.
#[derive(Debug)]
struct BySchemeConnector {
    plain: SharedHttpConnector,
    tls: SharedHttpClient,
    settings: HttpConnectorSettings,
    components: RuntimeComponents,
}

impl HttpConnector for BySchemeConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        if !request.uri().starts_with("https:") {
            return self.plain.call(request);
        }
        if let Err(e) = roots() {
            // A fault of this machine's setup, not of the request or the network.
            return HttpConnectorFuture::ready(Err(ConnectorError::user(Box::new(e))));
        }
        self.tls
            .http_connector(&self.settings, &self.components)
            .call(request)
    }
}

#[cfg(test)]
#[path = "tls_tests.rs"]
mod tests;
