//! What goes over the wire, seen by a byte relay in front of the real docker-registry: a
//! monolithic blob upload is one PUT with a Content-Length (never chunked transfer encoding,
//! which ECR does not take), and when a registry answers a chunked PATCH with 201 the way ECR
//! does (aws/containers-roadmap#2831) the push falls back to the monolithic form and still lands
//! every byte. The relay passes the client's Host header through, so the registry's upload
//! Locations point back at the relay and every request of the push crosses it.

#[path = "image_fixtures.rs"]
mod fixtures;

use std::sync::{Arc, Mutex};

use fixtures::*;
use oidc_ecs_deploy::image::{BlobOutcome, Digest, PushOptions, SourceRef, UploadMode, push};
use testbed::Registry;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone)]
struct Head {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone)]
enum Mode {
    /// Pass everything through.
    Plain,
    /// Answer every PATCH with `201 Created` itself and drop its body, as ECR does.
    PatchCreated,
    /// Play a token-auth registry: without `Authorization: Bearer <token>` answer 401 with a
    /// Bearer challenge whose realm is this relay's `/token`, which hands out the token to
    /// callers presenting Basic `user:password`.
    /// The token changes after `uses` authorized requests (it "expires"); the old one is
    /// then refused like a missing one.
    Bearer {
        token: Arc<Mutex<String>>,
        basic: String,
        uses: Arc<std::sync::atomic::AtomicUsize>,
    },
    /// Answer the first `count` requests with this method and status with an error of its own.
    Fail {
        method: &'static str,
        status: u16,
        count: Arc<std::sync::atomic::AtomicUsize>,
    },
}

struct Relay {
    endpoint: String,
    heads: Arc<Mutex<Vec<Head>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Relay {
    /// Relay to `upstream` (`127.0.0.1:PORT`), changing what `mode` says.
    async fn start(upstream: &str, mode: Mode) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let heads = Arc::new(Mutex::new(Vec::new()));
        let (upstream, log, me) = (upstream.to_owned(), heads.clone(), endpoint.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (upstream, log, mode, me) =
                    (upstream.clone(), log.clone(), mode.clone(), me.clone());
                tokio::spawn(async move {
                    let _ = relay(client, &upstream, log, &mode, &me).await;
                });
            }
        });
        Relay {
            endpoint,
            heads,
            task,
        }
    }

    fn heads(&self) -> Vec<Head> {
        self.heads.lock().unwrap().clone()
    }
}

async fn relay(
    client: TcpStream,
    upstream: &str,
    log: Arc<Mutex<Vec<Head>>>,
    mode: &Mode,
    me: &str,
) -> std::io::Result<()> {
    let server = TcpStream::connect(upstream).await?;
    let (cr, cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let cw = Arc::new(tokio::sync::Mutex::new(cw));
    let back = cw.clone();
    let down = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = sr.read(&mut buf).await {
            if n == 0 || back.lock().await.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    });
    let mut cr = BufReader::new(cr);
    loop {
        let mut raw = Vec::new();
        loop {
            let mut line = String::new();
            if cr.read_line(&mut line).await? == 0 {
                down.abort();
                return Ok(());
            }
            raw.extend_from_slice(line.as_bytes());
            if line == "\r\n" {
                break;
            }
        }
        let text = String::from_utf8_lossy(&raw).into_owned();
        let mut lines = text.split("\r\n");
        let mut first = lines.next().unwrap_or_default().split(' ');
        let head = Head {
            method: first.next().unwrap_or_default().to_owned(),
            path: first.next().unwrap_or_default().to_owned(),
            headers: lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                .collect(),
        };
        log.lock().unwrap().push(head.clone());
        if head.header("transfer-encoding").is_some() {
            // Not framed by Content-Length: pass the rest through untouched (the test then
            // fails on the recorded header).
            sw.write_all(&raw).await?;
            tokio::io::copy(&mut cr, &mut sw).await?;
            return Ok(());
        }
        let len: u64 = head
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if let Some(answer) = intercept(mode, &head, me) {
            tokio::io::copy(&mut (&mut cr).take(len), &mut tokio::io::sink()).await?;
            cw.lock().await.write_all(answer.as_bytes()).await?;
            continue;
        }
        sw.write_all(&raw).await?;
        tokio::io::copy(&mut (&mut cr).take(len), &mut sw).await?;
    }
}

/// The answer the relay gives itself, if any.
fn intercept(mode: &Mode, head: &Head, me: &str) -> Option<String> {
    match mode {
        Mode::Plain => None,
        Mode::PatchCreated if head.method == "PATCH" => Some(format!(
            "HTTP/1.1 201 Created\r\nLocation: {}\r\nContent-Length: 0\r\n\r\n",
            head.path
        )),
        Mode::PatchCreated => None,
        Mode::Fail {
            method,
            status,
            count,
        } => {
            use std::sync::atomic::Ordering;
            let take = head.method == *method
                && count
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
            take.then(|| {
                let body = format!(
                    r#"{{"errors":[{{"code":"UNKNOWN","message":"injected {status}"}}]}}"#
                );
                format!(
                    "HTTP/1.1 {status} Injected\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
            })
        }
        Mode::Bearer { token, basic, uses } => {
            let auth = head.header("authorization").unwrap_or_default();
            let current = token.lock().unwrap().clone();
            let token = &current;
            if head.path.starts_with("/token") {
                let (status, body) = if auth == basic {
                    (
                        "200 OK",
                        format!(r#"{{"token":"{token}","expires_in":300}}"#),
                    )
                } else {
                    (
                        "401 Unauthorized",
                        r#"{"details":"bad credentials"}"#.to_owned(),
                    )
                };
                return Some(format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                ));
            }
            if auth == format!("Bearer {token}") {
                use std::sync::atomic::Ordering;
                if uses.fetch_sub(1, Ordering::SeqCst) == 1 {
                    *token_cell(mode).lock().unwrap() = format!("{token}-next");
                }
                return None;
            }
            let body =
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#;
            Some(format!(
                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"{me}/token\",service=\"relay\"\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ))
        }
    }
}

fn bearer(token: &str, creds: &oidc_ecs_deploy::image::Credentials, uses: usize) -> Mode {
    Mode::Bearer {
        token: Arc::new(Mutex::new(token.to_owned())),
        basic: creds.basic_header(),
        uses: Arc::new(uses.into()),
    }
}

fn token_cell(mode: &Mode) -> &Arc<Mutex<String>> {
    match mode {
        Mode::Bearer { token, .. } => token,
        _ => unreachable!("only the Bearer mode has a token"),
    }
}

fn blob_puts(heads: &[Head]) -> Vec<Head> {
    heads
        .iter()
        .filter(|h| h.method == "PUT" && h.path.contains("/blobs/uploads/"))
        .cloned()
        .collect()
}

#[tokio::test]
async fn monolithic_upload_is_one_put_with_a_content_length() {
    init_logs();
    let reg = Registry::start("AWS", "pw").await.unwrap();
    let relay = Relay::start(reg.host(), Mode::Plain).await;
    let mut layout = OciLayout::create();
    let img = layout.image(&[3 * 1024 * 1024 + 5, 10], "amd64");
    layout.add_entry(&img.manifest, None);
    let image = SourceRef::parse(&format!("oci:{}", layout.path().display()))
        .unwrap()
        .open()
        .await
        .unwrap();
    let creds = oidc_ecs_deploy::image::Credentials::new("AWS", "pw");
    let client = oidc_ecs_deploy::image::RegistryClient::new(&relay.endpoint, Some(creds)).unwrap();
    push(
        &image,
        &client,
        "wire",
        &["t".into()],
        &PushOptions::default(),
    )
    .await
    .unwrap();

    let heads = relay.heads();
    assert!(
        !heads.iter().any(|h| h.method == "PATCH"),
        "no chunks in monolithic mode"
    );
    let puts = blob_puts(&heads);
    assert_eq!(puts.len(), image.blobs.len());
    for put in &puts {
        let digest = put
            .path
            .split("digest=")
            .nth(1)
            .unwrap()
            .replace("%3A", ":");
        let blob = image
            .blobs
            .iter()
            .find(|b| b.descriptor.digest.to_string() == digest)
            .unwrap();
        assert_eq!(
            put.header("content-length"),
            Some(blob.descriptor.size.to_string().as_str()),
            "{put:?}"
        );
        assert_eq!(put.header("transfer-encoding"), None, "{put:?}");
    }
    assert_eq!(
        fetch_manifest(&reg, "wire", "t").await.2,
        img.manifest_bytes
    );

    // The same push again (same client, so the login is one GET): one HEAD of the tag, and
    // nothing else.
    let before = relay.heads().len();
    let again = push(
        &image,
        &client,
        "wire",
        &["t".into()],
        &PushOptions::default(),
    )
    .await
    .unwrap();
    assert!(again.up_to_date);
    let rest: Vec<String> = relay.heads()[before..]
        .iter()
        .map(|h| format!("{} {}", h.method, h.path))
        .collect();
    assert_eq!(rest, vec!["GET /v2/", "HEAD /v2/wire/manifests/t"]);
}

#[tokio::test]
async fn chunked_upload_falls_back_when_a_patch_is_answered_201() {
    init_logs();
    let reg = Registry::start_anonymous().await.unwrap();
    let relay = Relay::start(reg.host(), Mode::PatchCreated).await;
    let mut layout = OciLayout::create();
    let img = layout.image(&[500_000, 70_000], "amd64");
    layout.add_entry(&img.manifest, None);
    let image = SourceRef::parse(&format!("oci:{}", layout.path().display()))
        .unwrap()
        .open()
        .await
        .unwrap();
    let client = oidc_ecs_deploy::image::RegistryClient::new(&relay.endpoint, None)
        .unwrap()
        .with_upload_mode(UploadMode::Chunked {
            chunk_size: 64 * 1024,
        });
    let report = push(
        &image,
        &client,
        "ecrish",
        &["t".into()],
        &PushOptions::default(),
    )
    .await
    .unwrap();
    assert!(
        report
            .blobs
            .iter()
            .all(|b| matches!(b.outcome, BlobOutcome::Uploaded { .. }))
    );

    let heads = relay.heads();
    let patches = heads.iter().filter(|h| h.method == "PATCH").count();
    assert_eq!(
        patches,
        image.blobs.len(),
        "one PATCH per blob, then the fallback"
    );
    let puts = blob_puts(&heads);
    assert!(
        puts.iter()
            .all(|p| p.header("content-length").is_some_and(|l| l != "0")),
        "{puts:?}"
    );
    for layer in &img.layers {
        let (status, bytes) = fetch_blob(&reg, "ecrish", &layer.digest).await;
        assert_eq!((status, Digest::of(&bytes)), (200, layer.digest.clone()));
    }
    assert_eq!(
        fetch_manifest(&reg, "ecrish", "t").await.2,
        img.manifest_bytes
    );
}

#[tokio::test]
async fn bearer_token_flow() {
    init_logs();
    let reg = Registry::start_anonymous().await.unwrap();
    let creds = oidc_ecs_deploy::image::Credentials::new("AWS", "pw");
    let mode = bearer("tok-123", &creds, 1_000_000);
    let relay = Relay::start(reg.host(), mode).await;
    let mut layout = OciLayout::create();
    let img = layout.image(&[40_000], "amd64");
    layout.add_entry(&img.manifest, None);
    let image = SourceRef::parse(&format!("oci:{}", layout.path().display()))
        .unwrap()
        .open()
        .await
        .unwrap();

    let client = oidc_ecs_deploy::image::RegistryClient::new(&relay.endpoint, Some(creds)).unwrap();
    let opts = PushOptions {
        mount_from: vec!["base".into()],
        ..PushOptions::default()
    };
    push(&image, &client, "team/app", &["v1".into()], &opts)
        .await
        .unwrap();
    assert_eq!(
        fetch_manifest(&reg, "team/app", "v1").await.2,
        img.manifest_bytes
    );

    let heads = relay.heads();
    let token_req = heads
        .iter()
        .find(|h| h.path.starts_with("/token"))
        .expect("a token request");
    assert!(token_req.path.contains("service=relay"), "{token_req:?}");
    assert!(
        token_req
            .path
            .contains("scope=repository%3Ateam%2Fapp%3Apull%2Cpush"),
        "{token_req:?}"
    );
    assert!(
        token_req.path.contains("scope=repository%3Abase%3Apull"),
        "{token_req:?}"
    );
    let after_login: Vec<&Head> = heads
        .iter()
        .skip_while(|h| !h.path.starts_with("/token"))
        .skip(1)
        .collect();
    assert!(!after_login.is_empty());
    assert!(
        after_login
            .iter()
            .all(|h| h.header("authorization") == Some("Bearer tok-123")),
        "{after_login:?}"
    );

    let wrong = oidc_ecs_deploy::image::Credentials::new("AWS", "nope");
    let client = oidc_ecs_deploy::image::RegistryClient::new(&relay.endpoint, Some(wrong)).unwrap();
    let err = push(
        &image,
        &client,
        "team/app",
        &["v1".into()],
        &PushOptions::default(),
    )
    .await
    .unwrap_err();
    eprintln!("bearer 401: {err}");
    assert!(err.to_string().contains("401 Unauthorized"), "{err}");
}

fn fail(method: &'static str, status: u16, count: usize) -> Mode {
    Mode::Fail {
        method,
        status,
        count: Arc::new(count.into()),
    }
}

#[tokio::test]
async fn transient_failures_are_retried_and_fatal_ones_are_not() {
    init_logs();
    let reg = Registry::start_anonymous().await.unwrap();
    let mut layout = OciLayout::create();
    let img = layout.image(&[80_000], "amd64");
    layout.add_entry(&img.manifest, None);
    let image = SourceRef::parse(&format!("oci:{}", layout.path().display()))
        .unwrap()
        .open()
        .await
        .unwrap();
    let retry = oidc_ecs_deploy::image::RetryPolicy {
        max_attempts: 3,
        base_delay: std::time::Duration::from_millis(10),
        max_delay: std::time::Duration::from_millis(40),
    };
    let opts = PushOptions {
        concurrency: 1,
        retry,
        ..PushOptions::default()
    };

    // Two 503s on blob/manifest PUTs: retried, and the push lands.
    let relay = Relay::start(reg.host(), fail("PUT", 503, 2)).await;
    let client = oidc_ecs_deploy::image::RegistryClient::new(&relay.endpoint, None).unwrap();
    push(&image, &client, "retry", &["t".into()], &opts)
        .await
        .unwrap();
    assert_eq!(
        fetch_manifest(&reg, "retry", "t").await.2,
        img.manifest_bytes
    );

    // A 400 is final at once; endless 503s give up after the budget, naming the count.
    let relay = Relay::start(reg.host(), fail("POST", 400, 100)).await;
    let client = oidc_ecs_deploy::image::RegistryClient::new(&relay.endpoint, None).unwrap();
    let err = push(&image, &client, "fatal", &["t".into()], &opts)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("answered 400 (UNKNOWN: injected 400)"),
        "{err}"
    );
    assert_eq!(
        relay.heads().iter().filter(|h| h.method == "POST").count(),
        1
    );

    let relay = Relay::start(reg.host(), fail("POST", 503, 100)).await;
    let client = oidc_ecs_deploy::image::RegistryClient::new(&relay.endpoint, None).unwrap();
    let err = push(&image, &client, "flaky", &["t".into()], &opts)
        .await
        .unwrap_err();
    let chain = format!(
        "{err}: {}",
        std::error::Error::source(&err)
            .map(|s| s.to_string())
            .unwrap_or_default()
    );
    eprintln!("gave up: {chain}");
    assert!(
        chain.contains("gave up after 3 attempts") && chain.contains("503"),
        "{chain}"
    );
    assert_eq!(fetch_manifest(&reg, "flaky", "t").await.0, 404);
}

#[tokio::test]
async fn an_expired_bearer_token_is_renewed_mid_push() {
    init_logs();
    let reg = Registry::start_anonymous().await.unwrap();
    let creds = oidc_ecs_deploy::image::Credentials::new("AWS", "pw");
    // The token "expires" after 3 authorized requests, in the middle of the blob uploads.
    let relay = Relay::start(reg.host(), bearer("tok-1", &creds, 3)).await;
    let mut layout = OciLayout::create();
    let img = layout.image(&[40_000, 50_000, 60_000], "amd64");
    layout.add_entry(&img.manifest, None);
    let image = SourceRef::parse(&format!("oci:{}", layout.path().display()))
        .unwrap()
        .open()
        .await
        .unwrap();
    let client = oidc_ecs_deploy::image::RegistryClient::new(&relay.endpoint, Some(creds)).unwrap();
    let opts = PushOptions {
        concurrency: 1,
        ..PushOptions::default()
    };
    push(&image, &client, "renew", &["v1".into()], &opts)
        .await
        .unwrap();
    assert_eq!(
        fetch_manifest(&reg, "renew", "v1").await.2,
        img.manifest_bytes
    );
    let heads = relay.heads();
    let token_requests = heads
        .iter()
        .filter(|h| h.path.starts_with("/token"))
        .count();
    assert_eq!(token_requests, 2, "login, then one renewal");
    assert!(
        heads
            .iter()
            .any(|h| h.header("authorization") == Some("Bearer tok-1-next"))
    );
}

/// Not an assertion: how long each request of a small-blob upload takes on loopback.
#[tokio::test]
#[ignore]
async fn request_timing_probe() {
    let reg = Registry::start("AWS", "pw").await.unwrap();
    let client = client_for(&reg);
    client.login("probe", &[]).await.unwrap();
    for i in 0..5 {
        let data = random_bytes(1000);
        let d = Digest::of(&data);
        let t = std::time::Instant::now();
        client.blob_exists("probe", &d).await.unwrap();
        let head = t.elapsed();
        let t = std::time::Instant::now();
        let loc = client.start_upload("probe", &d).await.unwrap();
        let post = t.elapsed();
        let t = std::time::Instant::now();
        let r = oidc_ecs_deploy::image::VerifyingReader::new(
            std::io::Cursor::new(data),
            d.clone(),
            1000,
        );
        client
            .upload_monolithic("probe", loc, r, &d, 1000)
            .await
            .unwrap();
        eprintln!("{i}: HEAD {head:?} POST {post:?} PUT {:?}", t.elapsed());
    }
}
