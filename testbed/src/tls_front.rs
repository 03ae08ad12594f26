//! [`TlsFront`]: HTTPS in front of any of the test bed's plain-http servers, for tests of which
//! servers the action trusts. It terminates TLS on a free loopback port with a certificate for
//! 127.0.0.1 / localhost issued by a test-only CA ([`TEST_CA_PEM`]), and pipes the bytes to the
//! server behind it. [`OTHER_CA_PEM`] is a second test-only CA that did not issue it.
//!
//! The fixtures in `fixtures/tls_*.pem` were made once with the openssl CLI (P-256 keys, valid
//! 2025-01-01 to 2125-01-01) and are TEST ONLY: their private keys are public.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// The test-only CA that issued [`TlsFront`]'s certificate (PEM).
pub const TEST_CA_PEM: &str = include_str!("fixtures/tls_test_ca.pem");
/// A test-only CA that did not (PEM): a client trusting only it refuses [`TlsFront`].
pub const OTHER_CA_PEM: &str = include_str!("fixtures/tls_other_ca.pem");
const SERVER_CERT_PEM: &str = include_str!("fixtures/tls_test_server.pem");
const SERVER_KEY_PEM: &str = include_str!("fixtures/tls_test_server.key.pem");

/// A running TLS front; stops on drop.
#[derive(Debug)]
pub struct TlsFront {
    endpoint: String,
    connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl TlsFront {
    /// HTTPS in front of `upstream` (`http://127.0.0.1:PORT`).
    pub async fn start(upstream: &str) -> Result<TlsFront> {
        let upstream = upstream
            .strip_prefix("http://")
            .with_context(|| format!("{upstream} is not an http:// endpoint"))?
            .trim_end_matches('/')
            .to_owned();
        let acceptor = TlsAcceptor::from(Arc::new(server_config()?));
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("https://127.0.0.1:{}", listener.local_addr()?.port());
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut server).await;
                });
            }
        });
        Ok(TlsFront {
            endpoint,
            connections,
            task,
        })
    }

    /// `https://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// TCP connections accepted so far (a refused handshake counts: it connected).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// TLS 1.2 and 1.3 on aws-lc-rs with the test certificate; HTTP/1.1 only (no ALPN), as the
/// servers behind it speak.
fn server_config() -> Result<rustls::ServerConfig> {
    let certs = CertificateDer::pem_slice_iter(SERVER_CERT_PEM.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .context("test server certificate")?;
    let key =
        PrivateKeyDer::from_pem_slice(SERVER_KEY_PEM.as_bytes()).context("test server key")?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?)
}
