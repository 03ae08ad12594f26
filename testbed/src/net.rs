//! Shared networking helpers: free loopback ports, a plain HTTP client that ignores proxy
//! settings, bounded readiness polling, and random ids in the shapes AWS and GitHub use.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use rand::Rng;

/// A TCP port on 127.0.0.1 that was free a moment ago (bound, read, released).
///
/// For servers in this process prefer binding `127.0.0.1:0` and keeping the listener; this is
/// for child processes that must be told a port. Another process can take the port between
/// this call and the child's bind, so launchers retry on a new port when the child fails.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port on 127.0.0.1")
}

/// An HTTP client for talking to local servers: no proxy from the environment, short timeouts.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("build a reqwest client")
}

/// Polls `probe` every 50 ms until it returns `Ok(true)`, `Err` (give up at once) or `limit`
/// passes (an error naming `what`).
pub(crate) async fn wait_until<F, Fut>(what: &str, limit: Duration, mut probe: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if probe().await? {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("{what} was not ready after {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A random lowercase UUID (v4 layout), the shape of AWS request ids and GitHub `jti`s.
pub fn random_uuid() -> String {
    let mut b: [u8; 16] = rand::rng().random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `n` random characters from `[A-Za-z0-9]`.
pub fn random_token(n: usize) -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
