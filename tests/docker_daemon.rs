//! The `docker-daemon:` source end to end: the built binary's `push` subcommand exports an image
//! from a small fake of the two Docker Engine endpoints it uses (`GET /images/{name}/json`,
//! `GET /images/get?names=`), served on a unix socket named by `DOCKER_HOST`, and pushes it to
//! Debian's docker-registry. The fake serves a `docker save` tar built by the fixtures, in
//! chunked transfer encoding as the Engine does; the digest must match a push of the same tar
//! as `docker-archive:`, and an unknown image must fail naming the image and the socket.

mod common;
#[path = "image_fixtures.rs"]
mod fixtures;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::{ActionRun, Run};
use fixtures::*;
use oidc_ecs_deploy::image::Digest;
use testbed::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

/// A fake Engine holding one image under one name; records each request line.
struct FakeEngine {
    socket: PathBuf,
    requests: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl FakeEngine {
    fn start(name: &str, id: &str, tar: Vec<u8>) -> FakeEngine {
        let dir = tempfile::Builder::new()
            .prefix("fake-docker-")
            .tempdir()
            .unwrap();
        let socket = dir.path().join("docker.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (name, id, tar) = (name.to_owned(), id.to_owned(), Arc::new(tar));
        let seen = requests.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (name, id, tar, seen) = (name.clone(), id.clone(), tar.clone(), seen.clone());
                tokio::spawn(async move { serve(stream, &name, &id, &tar, &seen).await });
            }
        });
        FakeEngine {
            socket,
            requests,
            _dir: dir,
        }
    }

    fn docker_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// One request per connection, answered and closed.
async fn serve(
    mut stream: UnixStream,
    name: &str,
    id: &str,
    tar: &[u8],
    seen: &Mutex<Vec<String>>,
) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.unwrap_or(0) == 0 {
            return;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let line = head.lines().next().unwrap_or_default().to_owned();
    seen.lock().unwrap().push(line.clone());
    let target = line.split(' ').nth(1).unwrap_or_default();
    let encoded_name = name.replace('/', "%2F").replace(':', "%3A");
    let not_found = format!(r#"{{"message":"No such image: {name}x"}}"#);
    if target == format!("/images/{name}/json") {
        let body = format!(r#"{{"Id":"{id}","RepoTags":["{name}"]}}"#);
        respond(&mut stream, "200 OK", body.as_bytes(), false).await;
    } else if target == format!("/images/get?names={encoded_name}") {
        respond(&mut stream, "200 OK", tar, true).await;
    } else if target.starts_with("/images/") {
        let missing = target
            .trim_start_matches("/images/")
            .trim_end_matches("/json");
        let body = format!(r#"{{"message":"No such image: {missing}"}}"#);
        respond(&mut stream, "404 Not Found", body.as_bytes(), false).await;
    } else {
        respond(&mut stream, "404 Not Found", not_found.as_bytes(), false).await;
    }
}

async fn respond(stream: &mut UnixStream, status: &str, body: &[u8], chunked: bool) {
    let kind = if chunked {
        "application/x-tar"
    } else {
        "application/json"
    };
    let length = if chunked {
        "Transfer-Encoding: chunked".to_owned()
    } else {
        format!("Content-Length: {}", body.len())
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\n{length}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    if chunked {
        for chunk in body.chunks(64 * 1024) {
            stream
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await
                .unwrap();
            stream.write_all(chunk).await.unwrap();
            stream.write_all(b"\r\n").await.unwrap();
        }
        stream.write_all(b"0\r\n\r\n").await.unwrap();
    } else {
        stream.write_all(body).await.unwrap();
    }
    let _ = stream.shutdown().await;
}

/// `oidc-ecs-deploy push` with `DOCKER_HOST`, outside any GitHub runner.
async fn push(docker_host: &str, source: &str, reg: &Registry, repo: &str) -> Run {
    let out = ActionRun::cli([
        "push",
        "--source",
        source,
        "--registry",
        reg.endpoint(),
        "--repository",
        repo,
        "--tag",
        "v1",
    ])
    .env("DOCKER_HOST", docker_host)
    .env("RUST_LOG", "info")
    .run()
    .await;
    eprintln!("--- {source}:\n{}", out.dump());
    out
}

fn digest_line(out: &Run) -> Option<String> {
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix("image-digest=").map(str::to_owned))
}

fn save_tar(dir: &Path, name: &str) -> (PathBuf, Vec<u8>, String) {
    let (path, config, _) = docker_archive(dir, name, &[120_000, 300_000], false);
    let id = Digest::of(&config).to_string();
    (path.clone(), std::fs::read(path).unwrap(), id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_exported_from_the_engine_is_pushed_with_the_archive_digest() {
    let reg = Registry::start_anonymous().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (tar_path, tar, id) = save_tar(dir.path(), "app:v1");
    let engine = FakeEngine::start("app:v1", &id, tar);

    let out = push(
        &engine.docker_host(),
        "docker-daemon:app:v1",
        &reg,
        "from-daemon",
    )
    .await;
    out.assert_code(0);
    let digest = digest_line(&out).expect("image-digest on stdout");
    let (status, _, body) = fetch_manifest(&reg, "from-daemon", "v1").await;
    assert_eq!(status, 200);
    assert_eq!(
        Digest::of(&body).to_string(),
        digest,
        "the registry holds what was reported"
    );
    assert_eq!(
        engine.requests(),
        [
            "GET /images/app:v1/json HTTP/1.1",
            "GET /images/get?names=app%3Av1 HTTP/1.1"
        ],
        "one inspect, one export"
    );
    assert!(
        out.stderr.contains(&id),
        "the log names the Engine's image Id"
    );

    // The same bytes read as a docker-archive file give the same manifest.
    let archive = push(
        &engine.docker_host(),
        &format!("docker-archive:{}", tar_path.display()),
        &reg,
        "from-file",
    )
    .await;
    assert_eq!(digest_line(&archive).as_deref(), Some(digest.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_image_names_the_image_and_the_socket() {
    let reg = Registry::start_anonymous().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_, tar, id) = save_tar(dir.path(), "app:v1");
    let engine = FakeEngine::start("app:v1", &id, tar);

    let out = push(&engine.docker_host(), "docker-daemon:nope:v9", &reg, "app").await;
    assert_eq!(out.code, 2, "an unknown image is bad input");
    let log = out.stderr;
    assert!(
        log.contains("\"nope:v9\"") && log.contains(&engine.socket.display().to_string()),
        "{log}"
    );
    assert!(
        log.contains("No such image"),
        "the Engine's own words: {log}"
    );
    assert_eq!(
        engine.requests().len(),
        1,
        "no export after a failed inspect"
    );
    assert_eq!(fetch_manifest(&reg, "app", "v1").await.0, 404);

    // No Engine at all: the socket is named, with what to do.
    let gone = push(
        "unix:///nonexistent/docker.sock",
        "docker-daemon:app:v1",
        &reg,
        "app",
    )
    .await;
    assert_eq!(gone.code, 2);
    let log = gone.stderr;
    assert!(
        log.contains("/nonexistent/docker.sock") && log.contains("cannot connect"),
        "{log}"
    );
}
