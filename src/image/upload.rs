//! Blob uploads: cross-repository mount, and the two upload forms of the distribution spec.
//! Monolithic is `POST` then one `PUT <location>?digest=` whose body streams from disk with an
//! explicit Content-Length (ECR drops chunks after the first PATCH, so this is its form).
//! Chunked `PATCH`es bounded chunks with Content-Range, then closes with an empty `PUT`.
//! Either way the body passes through the `VerifyingReader`, so a corrupt source fails the
//! request before its last bytes leave, and the error says so rather than "connection reset".

use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION};
use reqwest::{Body, Method, Response, StatusCode, Url};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::io::ReaderStream;

use super::digest::{Digest, MismatchSlot, VerifyingReader};
use super::registry::{RegistryClient, content_digest};
use super::registry_error::RegistryError;

/// Read size when streaming a blob body: few syscalls, bounded memory per upload.
const STREAM_CHUNK: usize = 1024 * 1024;

/// What a mount request did.
#[derive(Debug)]
pub enum Mount {
    Mounted,
    /// Not mounted (the source repository lacks it, or the registry does not mount): the
    /// registry opened an upload session instead, at this location.
    NotMounted(Url),
}

impl RegistryClient {
    /// `POST /v2/<repo>/blobs/uploads/?mount=<digest>&from=<from>`.
    pub async fn mount_blob(
        &self,
        repo: &str,
        digest: &Digest,
        from: &str,
    ) -> Result<Mount, RegistryError> {
        let what = format!("mount blob {digest} from {from} into {repo}");
        let mut url = self.url(&format!("/v2/{repo}/blobs/uploads/"));
        url.query_pairs_mut()
            .append_pair("mount", &digest.to_string())
            .append_pair("from", from);
        let resp = self
            .send(
                &what,
                self.request(Method::POST, url).header(CONTENT_LENGTH, 0),
            )
            .await?;
        match resp.status() {
            StatusCode::CREATED => Ok(Mount::Mounted),
            StatusCode::ACCEPTED => Ok(Mount::NotMounted(self.location(&what, &resp)?)),
            _ => Err(self.unexpected(&what, resp).await),
        }
    }

    /// `POST /v2/<repo>/blobs/uploads/`: open an upload session.
    pub async fn start_upload(&self, repo: &str, digest: &Digest) -> Result<Url, RegistryError> {
        let what = format!("start upload of blob {digest} to {repo}");
        let url = self.url(&format!("/v2/{repo}/blobs/uploads/"));
        let resp = self
            .send(
                &what,
                self.request(Method::POST, url).header(CONTENT_LENGTH, 0),
            )
            .await?;
        match resp.status() {
            StatusCode::ACCEPTED | StatusCode::CREATED => self.location(&what, &resp),
            _ => Err(self.unexpected(&what, resp).await),
        }
    }

    /// Abandon an upload session we will not use (best effort: the registry expires it anyway).
    pub async fn cancel_upload(&self, location: Url) {
        let _ = self.request(Method::DELETE, location).send().await;
    }

    /// One streamed `PUT <location>?digest=` carrying the whole blob.
    pub async fn upload_monolithic<R>(
        &self,
        repo: &str,
        location: Url,
        reader: VerifyingReader<R>,
        digest: &Digest,
        size: u64,
    ) -> Result<(), RegistryError>
    where
        R: AsyncRead + Unpin + Send + 'static,
    {
        let what = format!("upload blob {digest} ({size} bytes) to {repo}");
        let slot = reader.mismatch_slot();
        let body = Body::wrap_stream(ReaderStream::with_capacity(reader, STREAM_CHUNK));
        let rb = self
            .request(Method::PUT, with_digest(location, digest))
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_LENGTH, size)
            .body(body);
        let resp = match rb.send().await {
            Ok(resp) => resp,
            Err(e) => return Err(corrupt_or(&what, &slot, self.http_error(&what, e))),
        };
        self.finish(&what, &slot, resp, digest).await
    }

    /// `PATCH` chunks of `chunk_size`, then `PUT <location>?digest=` with no body.
    pub async fn upload_chunked<R>(
        &self,
        repo: &str,
        mut location: Url,
        mut reader: VerifyingReader<R>,
        digest: &Digest,
        chunk_size: usize,
    ) -> Result<(), RegistryError>
    where
        R: AsyncRead + Unpin + Send,
    {
        let what = format!("upload blob {digest} in chunks to {repo}");
        let slot = reader.mismatch_slot();
        let mut offset = 0u64;
        let mut buf = vec![0u8; chunk_size.max(1)];
        loop {
            let n = fill(&mut reader, &mut buf)
                .await
                .map_err(|e| match slot.get() {
                    Some(m) => RegistryError::Corrupt {
                        what: what.clone(),
                        source: m,
                    },
                    None => RegistryError::Read {
                        what: what.clone(),
                        source: e,
                    },
                })?;
            if n == 0 {
                break;
            }
            let end = offset + n as u64 - 1;
            let rb = self
                .request(Method::PATCH, location.clone())
                .header(CONTENT_TYPE, "application/octet-stream")
                .header(CONTENT_RANGE, format!("{offset}-{end}"))
                .header(CONTENT_LENGTH, n)
                .body(buf[..n].to_vec());
            let resp = self.send(&what, rb).await?;
            match resp.status() {
                StatusCode::ACCEPTED => location = self.location(&what, &resp)?,
                // ECR's answer (aws/containers-roadmap#2831): it took this chunk as the whole
                // upload, so later chunks would be lost.
                StatusCode::CREATED => {
                    return Err(RegistryError::ChunkedUnsupported {
                        what,
                        registry: self.host().to_owned(),
                        reason: "a PATCH was answered 201 Created instead of 202 Accepted".into(),
                    });
                }
                s if offset == 0 && (s.is_client_error() && s != StatusCode::UNAUTHORIZED) => {
                    let err = self.unexpected(&what, resp).await;
                    return Err(RegistryError::ChunkedUnsupported {
                        what,
                        registry: self.host().to_owned(),
                        reason: err.to_string(),
                    });
                }
                _ => return Err(self.unexpected(&what, resp).await),
            }
            offset = end + 1;
        }
        let rb = self
            .request(Method::PUT, with_digest(location, digest))
            .header(CONTENT_LENGTH, 0);
        let resp = self.send(&what, rb).await?;
        self.finish(&what, &slot, resp, digest).await
    }

    async fn finish(
        &self,
        what: &str,
        slot: &MismatchSlot,
        resp: Response,
        digest: &Digest,
    ) -> Result<(), RegistryError> {
        if let Some(m) = slot.get() {
            return Err(RegistryError::Corrupt {
                what: what.to_owned(),
                source: m,
            });
        }
        if resp.status() != StatusCode::CREATED && !resp.status().is_success() {
            return Err(self.unexpected(what, resp).await);
        }
        match content_digest(resp.headers()) {
            Some(d) if &d != digest => {
                Err(self.protocol(what, format!("it stored the blob as {d}")))
            }
            _ => Ok(()),
        }
    }

    fn location(&self, what: &str, resp: &Response) -> Result<Url, RegistryError> {
        let loc = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| self.protocol(what, "no Location header on the upload session"))?;
        self.resolve(loc)
            .map_err(|reason| self.protocol(what, reason))
    }
}

fn with_digest(mut location: Url, digest: &Digest) -> Url {
    location
        .query_pairs_mut()
        .append_pair("digest", &digest.to_string());
    location
}

/// A body error is usually our verifier refusing the source: say that, not "error sending".
fn corrupt_or(what: &str, slot: &MismatchSlot, other: RegistryError) -> RegistryError {
    if let Some(m) = slot.get() {
        return RegistryError::Corrupt {
            what: what.to_owned(),
            source: m,
        };
    }
    match slot.read_error() {
        Some(e) => RegistryError::Read {
            what: what.to_owned(),
            source: e,
        },
        None => other,
    }
}

/// Read until `buf` is full or EOF; returns the bytes read.
async fn fill<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        let k = r.read(&mut buf[n..]).await?;
        if k == 0 {
            break;
        }
        n += k;
    }
    Ok(n)
}
