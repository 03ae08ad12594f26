//! Content addresses: `Digest` (`sha256:<64 lowercase hex>`, the only algorithm we push) and
//! `VerifyingReader`, which hashes and counts a blob while it streams and refuses it the moment
//! it is known to differ from its descriptor, so a corrupt source never completes an upload.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncRead, ReadBuf};

/// A validated `sha256:<hex>` digest. Other algorithms are refused at parse time: ECR and the
/// OCI layouts that buildx writes only use sha256, and a digest we cannot recompute is one we
/// cannot verify.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("digest {0:?} is not of the form <algorithm>:<hex>")]
    Malformed(String),
    #[error("digest {0:?} uses an unsupported algorithm (only sha256 is supported)")]
    UnsupportedAlgorithm(String),
    #[error("digest {0:?} must have 64 lowercase hex characters after `sha256:`")]
    BadHex(String),
}

impl Digest {
    pub fn parse(s: &str) -> Result<Digest, DigestError> {
        let (alg, hex) = s
            .split_once(':')
            .ok_or_else(|| DigestError::Malformed(s.to_owned()))?;
        if alg != "sha256" {
            if alg.is_empty() || hex.is_empty() {
                return Err(DigestError::Malformed(s.to_owned()));
            }
            return Err(DigestError::UnsupportedAlgorithm(s.to_owned()));
        }
        Self::from_hex(hex).map_err(|_| DigestError::BadHex(s.to_owned()))
    }

    /// From the 64 hex characters alone (the file name under `blobs/sha256/`).
    pub fn from_hex(hex: &str) -> Result<Digest, DigestError> {
        let ok = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !ok {
            return Err(DigestError::BadHex(hex.to_owned()));
        }
        Ok(Digest {
            hex: hex.to_owned(),
        })
    }

    /// The sha256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest {
            hex: hex::encode(Sha256::digest(bytes)),
        }
    }

    pub fn hex(&self) -> &str {
        &self.hex
    }

    pub fn algorithm(&self) -> &'static str {
        "sha256"
    }

    /// The first 12 hex characters, for log lines.
    pub fn short(&self) -> &str {
        &self.hex[..12]
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Incremental sha256 plus a byte count.
#[derive(Clone, Default)]
pub struct Hasher {
    sha: Sha256,
    len: u64,
}

impl Hasher {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn update(&mut self, bytes: &[u8]) {
        self.sha.update(bytes);
        self.len += bytes.len() as u64;
    }
    pub fn len(&self) -> u64 {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn finish(self) -> (Digest, u64) {
        (
            Digest {
                hex: hex::encode(self.sha.finalize()),
            },
            self.len,
        )
    }
}

/// Why a blob's bytes were refused. Its message names the blob, what the descriptor promised and
/// what the source held.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    #[error(
        "blob {expected} is corrupt in the source: its bytes hash to {actual} \
         (the descriptor says {expected}, {size} bytes)"
    )]
    Digest {
        expected: Digest,
        actual: Digest,
        size: u64,
    },
    #[error(
        "blob {expected} is corrupt in the source: it has {actual} bytes, the descriptor says {size}"
    )]
    Size {
        expected: Digest,
        size: u64,
        actual: u64,
    },
    #[error(
        "blob {expected} is corrupt in the source: it is longer than the {size} bytes its descriptor says"
    )]
    TooLong { expected: Digest, size: u64 },
}

/// Where a `VerifyingReader` leaves its refusal (or the source's own read error), so that a
/// caller whose read error got wrapped by an HTTP client can still tell "the source was
/// corrupt" or "the source could not be read" from "the network failed".
#[derive(Clone, Default, Debug)]
pub struct MismatchSlot(Arc<Mutex<SlotState>>);

#[derive(Default, Debug)]
struct SlotState {
    mismatch: Option<Mismatch>,
    read_error: Option<(io::ErrorKind, String)>,
}

impl MismatchSlot {
    pub fn get(&self) -> Option<Mismatch> {
        self.0
            .lock()
            .expect("mismatch slot poisoned")
            .mismatch
            .clone()
    }

    /// The error reading the source itself failed with, if it did.
    pub fn read_error(&self) -> Option<io::Error> {
        let state = self.0.lock().expect("mismatch slot poisoned");
        state
            .read_error
            .as_ref()
            .map(|(kind, msg)| io::Error::new(*kind, msg.clone()))
    }

    fn set(&self, m: Mismatch) {
        self.0.lock().expect("mismatch slot poisoned").mismatch = Some(m);
    }

    fn set_read_error(&self, e: &io::Error) {
        self.0.lock().expect("mismatch slot poisoned").read_error = Some((e.kind(), e.to_string()));
    }
}

/// An `AsyncRead` that hashes and counts what passes through it. When the count reaches the
/// descriptor's size it checks the digest *before* handing out the last bytes, so a reader that
/// stops at exactly `size` bytes (an HTTP body with a Content-Length) still never sends a blob
/// that does not match; a source that ends short, or goes on past `size`, fails the same way.
/// The error is an `io::Error` of kind `InvalidData` wrapping a [`Mismatch`].
pub struct VerifyingReader<R> {
    inner: R,
    expected: Digest,
    size: u64,
    hasher: Option<Hasher>,
    slot: MismatchSlot,
}

impl<R> VerifyingReader<R> {
    pub fn new(inner: R, expected: Digest, size: u64) -> Self {
        VerifyingReader {
            inner,
            expected,
            size,
            hasher: Some(Hasher::new()),
            slot: MismatchSlot::default(),
        }
    }

    /// A handle that holds the mismatch once the reader has refused the blob.
    pub fn mismatch_slot(&self) -> MismatchSlot {
        self.slot.clone()
    }

    /// Bytes verified so far.
    pub fn bytes_read(&self) -> u64 {
        self.hasher.as_ref().map_or(self.size, Hasher::len)
    }

    fn fail(&self, m: Mismatch) -> io::Error {
        self.slot.set(m.clone());
        io::Error::new(io::ErrorKind::InvalidData, m)
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for VerifyingReader<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(m) = this.slot.get() {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, m)));
        }
        let before = buf.filled().len();
        if let Err(e) = std::task::ready!(Pin::new(&mut this.inner).poll_read(cx, buf)) {
            this.slot.set_read_error(&e);
            return Poll::Ready(Err(e));
        }
        let new = &buf.filled()[before..];
        let Some(hasher) = this.hasher.as_mut() else {
            // Already verified at `size` bytes: only EOF may follow.
            if new.is_empty() {
                return Poll::Ready(Ok(()));
            }
            buf.set_filled(before);
            let m = Mismatch::TooLong {
                expected: this.expected.clone(),
                size: this.size,
            };
            return Poll::Ready(Err(this.fail(m)));
        };
        if new.is_empty() {
            let (actual, len) = this.hasher.take().expect("hasher present").finish();
            let m = if len != this.size {
                Mismatch::Size {
                    expected: this.expected.clone(),
                    size: this.size,
                    actual: len,
                }
            } else if actual != this.expected {
                // Only an empty blob gets here: others are checked on reaching `size`.
                Mismatch::Digest {
                    expected: this.expected.clone(),
                    actual,
                    size: len,
                }
            } else {
                return Poll::Ready(Ok(()));
            };
            return Poll::Ready(Err(this.fail(m)));
        }
        if hasher.len() + new.len() as u64 > this.size {
            buf.set_filled(before);
            let m = Mismatch::TooLong {
                expected: this.expected.clone(),
                size: this.size,
            };
            return Poll::Ready(Err(this.fail(m)));
        }
        hasher.update(new);
        if hasher.len() == this.size {
            let (actual, size) = this.hasher.take().expect("hasher present").finish();
            if actual != this.expected {
                buf.set_filled(before);
                let m = Mismatch::Digest {
                    expected: this.expected.clone(),
                    actual,
                    size,
                };
                return Poll::Ready(Err(this.fail(m)));
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// Hash a whole reader (used where a source does not state digests, like `docker save` layers).
pub async fn hash_reader<R: AsyncRead + Unpin>(mut r: R) -> io::Result<(Digest, u64)> {
    use tokio::io::AsyncReadExt;
    let mut hasher = Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            return Ok(hasher.finish());
        }
        hasher.update(&buf[..n]);
    }
}

#[cfg(test)]
#[path = "digest_tests.rs"]
mod tests;
