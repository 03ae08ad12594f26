//! `docker-daemon:NAME[:TAG]`: an image exported from the Docker Engine API on its unix socket
//! (`DOCKER_HOST=unix:///path`, else `/var/run/docker.sock`, which the runner mounts into
//! container actions), without the docker CLI. Two calls: `GET /images/{name}/json` (does it
//! exist, and its Id) and `GET /images/get?names={name}` (a `docker save` tar stream), which is
//! streamed into a temporary file, so memory stays flat whatever the image's size, and then read
//! with the docker-archive reader like any `docker save` output.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use tokio::io::AsyncWriteExt;

use super::{LocalImage, SourceError, SourceRef};

/// Where the Engine listens when `DOCKER_HOST` is not set.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// Characters encoded in the name where it is a path segment or a query value (`/` stays in the
/// path: the Engine routes `/images/{name:.*}/json`).
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'?')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}');
const QUERY: &AsciiSet = &PATH.add(b'&').add(b'+').add(b'=').add(b'/').add(b':');

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(
        "DOCKER_HOST={0:?}: only a unix socket (unix:///path) is supported for docker-daemon: sources"
    )]
    UnsupportedHost(String),
    #[error("cannot connect to the Docker Engine at {}: {source}", socket.display())]
    Connect {
        socket: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no image {name:?} in the Docker Engine at {}{}", socket.display(), message.as_deref().map(|m| format!(" (it says: {m})")).unwrap_or_default())]
    NotFound {
        name: String,
        socket: PathBuf,
        message: Option<String>,
    },
    #[error("the Docker Engine at {} answered {what} with {status}: {message}", socket.display())]
    Status {
        what: String,
        socket: PathBuf,
        status: u16,
        message: String,
    },
    #[error("{what} on the Docker Engine at {}: {source}", socket.display())]
    Http {
        what: String,
        socket: PathBuf,
        #[source]
        source: hyper::Error,
    },
    #[error("the Docker Engine at {} sent an answer we cannot use for {what}: {reason}", socket.display())]
    Protocol {
        what: String,
        socket: PathBuf,
        reason: String,
    },
    #[error("cannot write the exported image to {}: {source}", path.display())]
    Spool {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the export of {name:?} is not a readable docker save archive: {source}")]
    Archive {
        name: String,
        #[source]
        source: SourceError,
    },
}

impl DaemonError {
    /// The image or the socket named wrongly (or not mounted): the user's to fix.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            DaemonError::UnsupportedHost(_)
                | DaemonError::Connect { .. }
                | DaemonError::NotFound { .. }
        )
    }
}

/// The socket `DOCKER_HOST` names (`unix:///path`), or the default one.
pub fn socket_path(docker_host: Option<&str>) -> Result<PathBuf, DaemonError> {
    match docker_host.map(str::trim).filter(|h| !h.is_empty()) {
        None => Ok(PathBuf::from(DEFAULT_SOCKET)),
        Some(host) => match host.strip_prefix("unix://") {
            Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
            _ => Err(DaemonError::UnsupportedHost(host.to_owned())),
        },
    }
}

/// An image exported from the Engine. The `docker save` tar lives in a temporary directory as
/// long as this value does: keep it until the push is over.
#[derive(Debug)]
pub struct DaemonExport {
    pub image: LocalImage,
    /// The Engine's image Id (`sha256:...`, the config's digest).
    pub id: String,
    _spool: tempfile::TempDir,
}

/// Export `name` from the Engine listening on `socket` and open it.
pub async fn export(name: &str, socket: &Path) -> Result<DaemonExport, DaemonError> {
    let inspect = format!("/images/{}/json", utf8_percent_encode(name, PATH));
    let (status, body) = get_small(socket, &inspect).await?;
    let id = match status {
        StatusCode::OK => serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("Id").and_then(|i| i.as_str()).map(str::to_owned))
            .ok_or_else(|| DaemonError::Protocol {
                what: format!("GET {inspect}"),
                socket: socket.to_owned(),
                reason: "no \"Id\" in the answer".into(),
            })?,
        StatusCode::NOT_FOUND => {
            return Err(DaemonError::NotFound {
                name: name.to_owned(),
                socket: socket.to_owned(),
                message: engine_message(&body),
            });
        }
        other => {
            return Err(DaemonError::Status {
                what: format!("GET {inspect}"),
                socket: socket.to_owned(),
                status: other.as_u16(),
                message: engine_message(&body).unwrap_or_default(),
            });
        }
    };
    tracing::info!(
        "docker-daemon:{name} is {id}; exporting it from {}",
        socket.display()
    );

    let spool = tempfile::Builder::new()
        .prefix("oidc-ecs-deploy-export-")
        .tempdir()
        .map_err(|e| DaemonError::Spool {
            path: std::env::temp_dir(),
            source: e,
        })?;
    let tar = spool.path().join("docker-save.tar");
    let bytes = save_to(socket, name, &tar).await?;
    tracing::info!(
        "docker-daemon:{name}: exported {:.1} MiB",
        bytes as f64 / (1024.0 * 1024.0)
    );
    let source = SourceRef::DockerArchive {
        path: tar.clone(),
        reference: None,
    };
    let image = source.open().await.map_err(|e| DaemonError::Archive {
        name: name.to_owned(),
        source: e,
    })?;
    Ok(DaemonExport {
        image,
        id,
        _spool: spool,
    })
}

/// One request on a fresh connection (the Engine is local; two requests do not need pooling).
async fn send(
    socket: &Path,
    path_and_query: &str,
) -> Result<hyper::Response<hyper::body::Incoming>, DaemonError> {
    let what = format!("GET {path_and_query}");
    let http = |source| DaemonError::Http {
        what: what.clone(),
        socket: socket.to_owned(),
        source,
    };
    let stream =
        tokio::net::UnixStream::connect(socket)
            .await
            .map_err(|e| DaemonError::Connect {
                socket: socket.to_owned(),
                source: e,
            })?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(http)?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("Docker Engine connection: {e}");
        }
    });
    let request = Request::get(path_and_query)
        .header(hyper::header::HOST, "docker")
        .header(
            hyper::header::USER_AGENT,
            concat!("oidc-ecs-deploy/", env!("CARGO_PKG_VERSION")),
        )
        .body(Empty::<Bytes>::new())
        .map_err(|e| DaemonError::Protocol {
            what: what.clone(),
            socket: socket.to_owned(),
            reason: e.to_string(),
        })?;
    sender.send_request(request).await.map_err(http)
}

/// A small answer (an inspect, an error), read whole.
async fn get_small(socket: &Path, path: &str) -> Result<(StatusCode, Bytes), DaemonError> {
    let response = send(socket, path).await?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| DaemonError::Http {
            what: format!("GET {path}"),
            socket: socket.to_owned(),
            source: e,
        })?;
    Ok((status, body.to_bytes()))
}

/// `GET /images/get?names=NAME` into `out`, frame by frame; the byte count written.
async fn save_to(socket: &Path, name: &str, out: &Path) -> Result<u64, DaemonError> {
    let path = format!("/images/get?names={}", utf8_percent_encode(name, QUERY));
    let response = send(socket, &path).await?;
    let status = response.status();
    let mut body = response.into_body();
    if status != StatusCode::OK {
        let bytes = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        return Err(DaemonError::Status {
            what: format!("GET {path}"),
            socket: socket.to_owned(),
            status: status.as_u16(),
            message: engine_message(&bytes).unwrap_or_default(),
        });
    }
    let spool = |e| DaemonError::Spool {
        path: out.to_owned(),
        source: e,
    };
    let mut file = tokio::fs::File::create(out).await.map_err(spool)?;
    let mut written = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| DaemonError::Http {
            what: format!("GET {path}"),
            socket: socket.to_owned(),
            source: e,
        })?;
        if let Ok(data) = frame.into_data() {
            file.write_all(&data).await.map_err(spool)?;
            written += data.len() as u64;
        }
    }
    file.flush().await.map_err(spool)?;
    Ok(written)
}

/// The Engine's errors are `{"message": "..."}`.
fn engine_message(body: &[u8]) -> Option<String> {
    let text = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message")?.as_str().map(str::to_owned));
    text.or_else(|| {
        let raw = String::from_utf8_lossy(body).trim().to_owned();
        (!raw.is_empty()).then(|| raw.chars().take(200).collect())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_host_picks_the_socket() {
        assert_eq!(socket_path(None).unwrap(), PathBuf::from(DEFAULT_SOCKET));
        assert_eq!(
            socket_path(Some("")).unwrap(),
            PathBuf::from(DEFAULT_SOCKET)
        );
        assert_eq!(
            socket_path(Some("unix:///run/user/1000/docker.sock")).unwrap(),
            PathBuf::from("/run/user/1000/docker.sock")
        );
        assert!(matches!(
            socket_path(Some("tcp://127.0.0.1:2375")),
            Err(DaemonError::UnsupportedHost(_))
        ));
    }

    #[test]
    fn names_are_encoded_for_path_and_query() {
        assert_eq!(
            utf8_percent_encode("ghcr.io/o/app:v1", PATH).to_string(),
            "ghcr.io/o/app:v1"
        );
        assert_eq!(
            utf8_percent_encode("ghcr.io/o/app:v1", QUERY).to_string(),
            "ghcr.io%2Fo%2Fapp%3Av1"
        );
    }
}
