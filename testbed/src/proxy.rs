//! `FaultProxy`: an HTTP/1 proxy on a free loopback port in front of an AWS endpoint (moto).
//! Requests its `Matcher` selects each consume the next planned `Fault`; once the plan is
//! exhausted they are forwarded upstream verbatim (or, with no upstream, get the last fault
//! again). Other requests are always forwarded. With a [`Chaos`] source (`FaultProxy::chaos`)
//! the matched requests beyond the plan are faulted at random from a fixed seed instead.
//! `StsFault` is the proxy for STS's `AssumeRoleWithWebIdentity`.
//!
//! The proxy is transparent to redirects and upload sessions: a `Location` naming the upstream
//! is rewritten to name the proxy, so a registry's upload session continues through it.

use std::collections::VecDeque;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};

use anyhow::Result;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::chaos::Chaos;
use crate::fault::{Canned, Fault, STS_XMLNS};
use crate::net::http_client;

/// Which requests get faults.
#[derive(Clone)]
pub enum Matcher {
    /// Every request.
    All,
    /// Query-protocol requests whose `Action` (form body or query string) is this.
    QueryAction(String),
    /// JSON-protocol requests whose `X-Amz-Target` header ends with this (e.g. `.UpdateService`).
    AmzTarget(String),
    /// Anything else.
    Custom(Arc<dyn Fn(&RecordedRequest) -> bool + Send + Sync>),
}

impl Matcher {
    /// Whether the request's head is enough to decide (the body need not be read first).
    fn needs_body(&self) -> bool {
        matches!(self, Matcher::QueryAction(_) | Matcher::Custom(_))
    }

    fn matches(&self, r: &RecordedRequest) -> bool {
        match self {
            Matcher::All => true,
            Matcher::QueryAction(a) => r.action().as_deref() == Some(a.as_str()),
            Matcher::AmzTarget(t) => r
                .header("x-amz-target")
                .is_some_and(|v| v.ends_with(t.as_str())),
            Matcher::Custom(f) => f(r),
        }
    }
}

/// A request the proxy matched, and what it did with it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    /// Path and query string.
    pub path: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// The fault's name, or `forwarded`.
    pub outcome: String,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The form fields of the body followed by those of the query string.
    pub fn form(&self) -> Vec<(String, String)> {
        let mut fields: Vec<(String, String)> =
            serde_urlencoded::from_bytes(&self.body).unwrap_or_default();
        if let Some((_, q)) = self.path.split_once('?') {
            fields
                .extend(serde_urlencoded::from_str::<Vec<(String, String)>>(q).unwrap_or_default());
        }
        fields
    }

    /// The first form field `key` (e.g. `RoleArn`, `RoleSessionName`, `DurationSeconds`).
    pub fn form_value(&self, key: &str) -> Option<String> {
        self.form()
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The query-protocol `Action`.
    pub fn action(&self) -> Option<String> {
        self.form_value("Action")
    }

    /// What names this request the same way in every run: the AWS JSON operation
    /// (`X-Amz-Target`), else the method and the path from its registry route on (`blobs/...`,
    /// `manifests/...`: the repository left out), an upload session's id and state left out,
    /// its `digest` kept; other query strings are dropped.
    pub fn stable_key(&self) -> String {
        if let Some(target) = self.header("x-amz-target") {
            return target.to_owned();
        }
        let (path, query) = self.path.split_once('?').unwrap_or((&self.path, ""));
        let route = ["/blobs/", "/manifests/"]
            .iter()
            .find_map(|r| path.find(r).map(|at| &path[at + 1..]))
            .unwrap_or(path);
        let route = match route.strip_prefix("blobs/uploads/") {
            Some(_) => "blobs/uploads/",
            None => route,
        };
        let digest: Option<(String, String)> =
            serde_urlencoded::from_str::<Vec<(String, String)>>(query)
                .unwrap_or_default()
                .into_iter()
                .find(|(k, _)| k == "digest");
        match digest {
            Some((_, d)) => format!("{} {route} {d}", self.method),
            None => format!("{} {route}", self.method),
        }
    }
}

struct ProxyState {
    endpoint: String,
    upstream: Option<String>,
    chaos: Option<Mutex<Chaos>>,
    matcher: Matcher,
    xmlns: String,
    plan: Mutex<VecDeque<Fault>>,
    last: Mutex<Option<Fault>>,
    matched: Mutex<Vec<RecordedRequest>>,
    client: reqwest::Client,
}

impl ProxyState {
    /// The fault for the next matched request; once the plan is spent, the chaos source's
    /// draw when there is one, else `Forward` (with an upstream) or the last fault again.
    fn next_fault(&self, request: &RecordedRequest) -> Fault {
        if let Some(f) = self.plan.lock().unwrap().pop_front() {
            *self.last.lock().unwrap() = Some(f.clone());
            return f;
        }
        if let Some(chaos) = &self.chaos {
            return chaos.lock().unwrap().next_fault(request);
        }
        match (&self.upstream, self.last.lock().unwrap().clone()) {
            (Some(_), _) | (None, None) => Fault::Forward,
            (None, Some(last)) => last,
        }
    }
}

/// A fault-injecting proxy; dropping it stops it.
pub struct FaultProxy {
    endpoint: String,
    state: Arc<ProxyState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// Starts a proxy forwarding to `upstream` (`http://127.0.0.1:PORT`), faulting the requests
    /// `matcher` selects per `plan`; query errors use namespace `xmlns` (`fault::STS_XMLNS`...).
    pub async fn start(
        upstream: Option<String>,
        plan: Vec<Fault>,
        matcher: Matcher,
        xmlns: &str,
    ) -> Result<FaultProxy> {
        Self::launch(upstream, plan, None, matcher, xmlns).await
    }

    /// Starts a proxy forwarding to `upstream` that faults the requests `matcher` selects as
    /// `chaos` draws (query errors in namespace `xmlns`).
    pub async fn chaos(
        upstream: &str,
        chaos: Chaos,
        matcher: Matcher,
        xmlns: &str,
    ) -> Result<FaultProxy> {
        Self::launch(
            Some(upstream.to_owned()),
            vec![],
            Some(chaos),
            matcher,
            xmlns,
        )
        .await
    }

    async fn launch(
        upstream: Option<String>,
        plan: Vec<Fault>,
        chaos: Option<Chaos>,
        matcher: Matcher,
        xmlns: &str,
    ) -> Result<FaultProxy> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(ProxyState {
            endpoint: endpoint.clone(),
            upstream: upstream.map(|u| u.trim_end_matches('/').to_owned()),
            chaos: chaos.map(Mutex::new),
            matcher,
            xmlns: xmlns.to_owned(),
            plan: Mutex::new(plan.into()),
            last: Mutex::new(None),
            matched: Mutex::new(Vec::new()),
            client: http_client(),
        });
        let accept_state = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = accept_state.clone();
                tokio::spawn(async move {
                    let reset = Arc::new(AtomicBool::new(false));
                    let io = TokioIo::new(ResetOnDrop {
                        stream,
                        reset: reset.clone(),
                    });
                    let svc = service_fn(move |req| handle(state.clone(), reset.clone(), req));
                    let _ = http1::Builder::new().serve_connection(io, svc).await;
                });
            }
        });
        Ok(FaultProxy {
            endpoint,
            state,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// How many requests the matcher selected (faulted or forwarded).
    pub fn request_count(&self) -> usize {
        self.state.matched.lock().unwrap().len()
    }

    /// The requests the matcher selected, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.matched.lock().unwrap().clone()
    }

    /// Appends faults to the plan.
    pub fn push(&self, faults: impl IntoIterator<Item = Fault>) {
        self.state.plan.lock().unwrap().extend(faults);
    }

    /// Planned faults not yet used.
    pub fn remaining(&self) -> usize {
        self.state.plan.lock().unwrap().len()
    }
}

/// The proxy for STS: faults `AssumeRoleWithWebIdentity` requests, forwards everything else.
pub struct StsFault(FaultProxy);

impl StsFault {
    /// Faults the `AssumeRoleWithWebIdentity` requests per `plan`, then forwards them to
    /// `upstream` (moto); without an upstream the last fault repeats.
    pub async fn start(upstream: Option<String>, plan: Vec<Fault>) -> Result<StsFault> {
        let matcher = Matcher::QueryAction("AssumeRoleWithWebIdentity".into());
        Ok(StsFault(
            FaultProxy::start(upstream, plan, matcher, STS_XMLNS).await?,
        ))
    }
}

impl Deref for StsFault {
    type Target = FaultProxy;
    fn deref(&self) -> &FaultProxy {
        &self.0
    }
}

type ReplyBody = BoxBody<Bytes, std::io::Error>;
type Reply = Response<ReplyBody>;

fn full(bytes: Bytes) -> ReplyBody {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

fn reset_error(what: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        format!("testbed: injected connection reset {what}"),
    )
}

/// Whether `rec` is matched, and its fault (`Forward` when not matched).
fn decide(state: &ProxyState, rec: &RecordedRequest) -> (bool, Fault) {
    if state.matcher.matches(rec) {
        (true, state.next_fault(rec))
    } else {
        (false, Fault::Forward)
    }
}

async fn handle(
    state: Arc<ProxyState>,
    reset: Arc<AtomicBool>,
    req: Request<Incoming>,
) -> std::io::Result<Reply> {
    let (parts, body) = req.into_parts();
    let mut rec = RecordedRequest {
        method: parts.method.to_string(),
        path: parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".into()),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: Bytes::new(),
        outcome: "forwarded".into(),
    };
    // Decided from the head when it is enough, so a reset can come in the middle of the body.
    let early = (!state.matcher.needs_body()).then(|| decide(&state, &rec));
    rec.body = match &early {
        Some((_, Fault::ResetMidRequest)) => {
            let length = rec
                .header("content-length")
                .and_then(|l| l.parse::<usize>().ok())
                .unwrap_or(0);
            read_part(body, length / 2).await
        }
        _ => body
            .collect()
            .await
            .map_err(std::io::Error::other)?
            .to_bytes(),
    };
    let (matched, fault) = match early {
        Some(decided) => decided,
        None => decide(&state, &rec),
    };
    if !matches!(fault, Fault::Forward) {
        rec.outcome = fault.name();
    }
    if matched {
        state.matched.lock().unwrap().push(rec.clone());
    }
    match fault {
        Fault::ConnectionReset | Fault::ResetMidRequest => {
            reset.store(true, Ordering::SeqCst);
            Err(reset_error("before the answer"))
        }
        Fault::ForwardThenReset => {
            let _ = forward(&state, &parts, rec.body).await;
            reset.store(true, Ordering::SeqCst);
            Err(reset_error("after forwarding"))
        }
        Fault::Stall(d) => {
            tokio::time::sleep(d).await;
            reset.store(true, Ordering::SeqCst);
            Err(reset_error("after a stall"))
        }
        Fault::ResetMidResponse => {
            let (head, body) = forward(&state, &parts, rec.body).await.into_parts();
            let bytes = body
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            reset.store(true, Ordering::SeqCst);
            Ok(Response::from_parts(head, CutBody::new(bytes).boxed()))
        }
        Fault::Delay(d) => {
            tokio::time::sleep(d).await;
            Ok(forward(&state, &parts, rec.body).await)
        }
        Fault::Forward => Ok(forward(&state, &parts, rec.body).await),
        other => Ok(reply(
            other
                .canned(&state.xmlns)
                .expect("answering faults have a canned response"),
        )),
    }
}

/// Reads at least `want` bytes of `body` (or all of it, if shorter) and drops the rest.
async fn read_part(mut body: Incoming, want: usize) -> Bytes {
    let mut got = Vec::new();
    while got.len() < want.max(1) {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    got.extend_from_slice(data);
                }
            }
            _ => break,
        }
    }
    Bytes::from(got)
}

/// An answer body that announces its full length, sends the first half, then fails: hyper
/// aborts the connection, and the client sees the body cut off.
struct CutBody {
    full_length: u64,
    first: Option<Bytes>,
}

impl CutBody {
    fn new(bytes: Bytes) -> CutBody {
        let half = bytes.slice(..bytes.len() / 2);
        CutBody {
            full_length: bytes.len() as u64,
            first: Some(half),
        }
    }
}

impl Body for CutBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut TaskContext<'_>,
    ) -> Poll<Option<std::result::Result<Frame<Bytes>, std::io::Error>>> {
        match self.first.take() {
            Some(half) if !half.is_empty() => Poll::Ready(Some(Ok(Frame::data(half)))),
            _ => Poll::Ready(Some(Err(reset_error("in the middle of the answer")))),
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.full_length)
    }
}

fn reply(c: Canned) -> Reply {
    let mut b = Response::builder().status(c.status);
    for (k, v) in &c.headers {
        b = b.header(k, v);
    }
    b.body(full(Bytes::from(c.body)))
        .expect("valid canned response")
}

fn hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "proxy-connection"
            | "content-length"
    )
}

async fn forward(state: &ProxyState, parts: &hyper::http::request::Parts, body: Bytes) -> Reply {
    let Some(upstream) = &state.upstream else {
        return reply(Canned {
            status: 502,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: "testbed FaultProxy: no upstream and no fault planned\n".into(),
        });
    };
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut rb = state
        .client
        .request(parts.method.clone(), format!("{upstream}{path}"));
    for (k, v) in &parts.headers {
        if !hop_by_hop(k.as_str()) && k != hyper::header::HOST {
            rb = rb.header(k, v);
        }
    }
    let resp = match rb.body(body).send().await {
        Ok(r) => r,
        Err(e) => {
            return reply(Canned {
                status: 502,
                headers: vec![("Content-Type".into(), "text/plain".into())],
                body: format!("testbed FaultProxy: upstream {upstream} failed: {e}\n"),
            });
        }
    };
    let mut b = Response::builder().status(resp.status());
    for (k, v) in resp.headers() {
        if hop_by_hop(k.as_str()) {
            continue;
        }
        // An upload session or redirect naming the upstream continues through the proxy.
        match v.to_str() {
            Ok(text) if k == hyper::header::LOCATION && text.starts_with(upstream.as_str()) => {
                b = b.header(k, format!("{}{}", state.endpoint, &text[upstream.len()..]));
            }
            _ => b = b.header(k, v),
        }
    }
    let bytes = resp.bytes().await.unwrap_or_default();
    b.body(full(bytes)).expect("valid forwarded response")
}

/// A TCP stream that, when flagged, is closed with `SO_LINGER` 0: the peer sees a reset.
struct ResetOnDrop {
    stream: TcpStream,
    reset: Arc<AtomicBool>,
}

impl Drop for ResetOnDrop {
    fn drop(&mut self) {
        if self.reset.load(Ordering::SeqCst) {
            let _ = self.stream.set_zero_linger();
        }
    }
}

impl AsyncRead for ResetOnDrop {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResetOnDrop {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
