//! Tests for `oidc`: the request against a real local HTTP server (hand-written HTTP/1.1, one
//! connection per request), the retry classification, the environment checks and the token file.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

const JWT: &str =
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOm8vcjpyZWY6cmVmcy9oZWFkcy9tYWluIn0.c2lnbmF0dXJl";
const BEARER: &str = "request-token-123";

/// A token service that answers the scripted (status, body) pairs in turn, repeating the last,
/// and records each request's head.
struct Server {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    async fn start(script: Vec<(u16, String)>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/idtoken?api-version=2.0",
            listener.local_addr().unwrap()
        );
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let n = {
                    let mut seen = seen.lock().unwrap();
                    seen.push(String::from_utf8_lossy(&head).into_owned());
                    seen.len()
                };
                let (status, body) = &script[(n - 1).min(script.len() - 1)];
                let response = format!(
                    "HTTP/1.1 {status} Scripted\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            }
        });
        Server { url, requests }
    }

    fn env(&self) -> EnvVars {
        EnvVars::from_pairs([(URL_VAR, self.url.as_str()), (TOKEN_VAR, BEARER)])
    }

    fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

fn ok_body() -> (u16, String) {
    (200, format!(r#"{{"count":1,"value":"{JWT}"}}"#))
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(2),
    }
}

async fn request(env: &EnvVars, audience: &str) -> Result<Secret, OidcError> {
    request_token(env, audience, &reqwest::Client::new(), &fast()).await
}

#[tokio::test]
async fn success_sends_the_runner_contract() {
    let server = Server::start(vec![ok_body()]).await;
    let token = request(&server.env(), "sts.amazonaws.com").await.unwrap();
    assert_eq!(token.expose(), JWT);

    let requests = server.requests.lock().unwrap();
    let head = requests[0].to_ascii_lowercase();
    assert!(
        head.starts_with("get /idtoken?api-version=2.0&audience=sts.amazonaws.com http/1.1\r\n"),
        "{head}"
    );
    assert!(
        head.contains(&format!(
            "authorization: bearer {}",
            BEARER.to_ascii_lowercase()
        )),
        "{head}"
    );
    assert!(head.contains("accept: application/json"), "{head}");
    assert!(
        head.contains(&format!(
            "user-agent: oidc-ecs-deploy/{}",
            env!("CARGO_PKG_VERSION")
        )),
        "{head}"
    );
}

#[tokio::test]
async fn the_audience_is_encoded_and_a_bare_url_gets_a_question_mark() {
    let server = Server::start(vec![ok_body()]).await;
    let bare = server.url.split('?').next().unwrap();
    let env = EnvVars::from_pairs([(URL_VAR, bare), (TOKEN_VAR, BEARER)]);
    request(&env, "https://example.com/a b&c=d").await.unwrap();
    let head = server.requests.lock().unwrap()[0].clone();
    assert!(
        head.starts_with(
            "GET /idtoken?audience=https%3A%2F%2Fexample.com%2Fa%20b%26c%3Dd HTTP/1.1"
        ),
        "{head}"
    );
}

#[tokio::test]
async fn refused_request_token_is_not_retried() {
    let server = Server::start(vec![(401, r#"{"message":"Token expired"}"#.into())]).await;
    let err = request(&server.env(), "sts.amazonaws.com")
        .await
        .unwrap_err();
    assert!(
        matches!(err, OidcError::Refused { status: 401, .. }),
        "{err:?}"
    );
    assert_eq!(server.count(), 1);
    let text = err.to_string();
    assert!(
        text.contains("refused the request token") && text.contains("Token expired"),
        "{text}"
    );
    assert!(!text.contains(BEARER), "{text}");
}

#[tokio::test]
async fn transient_failures_are_retried() {
    let unavailable = (503, "upstream unavailable".to_string());
    let server = Server::start(vec![unavailable.clone(), unavailable, ok_body()]).await;
    let token = request(&server.env(), "sts.amazonaws.com").await.unwrap();
    assert_eq!(token.expose(), JWT);
    assert_eq!(server.count(), 3);
}

#[tokio::test]
async fn permanent_unavailability_says_how_hard_we_tried() {
    let server = Server::start(vec![(503, "upstream unavailable".into())]).await;
    let err = request(&server.env(), "sts.amazonaws.com")
        .await
        .unwrap_err();
    assert_eq!(server.count(), 5);
    let OidcError::GaveUp {
        attempts, ref last, ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(attempts, 5);
    assert!(
        matches!(**last, OidcError::Status { status: 503, .. }),
        "{last:?}"
    );
    assert!(
        err.to_string()
            .starts_with("the OIDC token request failed after 5 attempts over "),
        "{err}"
    );
}

#[tokio::test]
async fn an_unreachable_service_is_transient() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/idtoken?x=1", listener.local_addr().unwrap());
    drop(listener);
    let env = EnvVars::from_pairs([(URL_VAR, url.as_str()), (TOKEN_VAR, BEARER)]);
    let err = request(&env, "sts.amazonaws.com").await.unwrap_err();
    let OidcError::GaveUp {
        attempts: 5,
        ref last,
        ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert!(matches!(**last, OidcError::Transport(_)), "{last:?}");
}

#[tokio::test]
async fn malformed_answers_are_fatal_and_never_show_a_token() {
    let cases = [
        (
            format!("<html>{JWT} oops</html>"),
            "<html><redacted> oops</html>",
        ),
        (
            format!(r#"{{"token":"{JWT}"}}"#),
            "no `value` field (fields: token)",
        ),
        (r#"{"value":""}"#.to_string(), "`value` is empty"),
        ("[1,2]".to_string(), "not an object"),
        (String::new(), "(empty body)"),
    ];
    for (body, want) in cases {
        let server = Server::start(vec![(200, body.clone())]).await;
        let err = request(&server.env(), "sts.amazonaws.com")
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, OidcError::BadResponse { .. }),
            "{body:?}: {err:?}"
        );
        assert!(text.contains(want), "{body:?}: {text}");
        assert!(!text.contains("eyJ"), "{text}");
        assert_eq!(server.count(), 1, "{body:?} was retried");
    }
}

#[tokio::test]
async fn missing_variables_say_what_to_change() {
    let client = reqwest::Client::new();
    let ask = |pairs: Vec<(&str, &str)>| {
        let env = EnvVars::from_pairs(pairs);
        let client = client.clone();
        async move {
            request_token(&env, "sts.amazonaws.com", &client, &fast())
                .await
                .unwrap_err()
        }
    };

    let err = ask(vec![("GITHUB_ACTIONS", "true")]).await;
    assert!(matches!(err, OidcError::PermissionMissing));
    let text = err.to_string();
    assert!(
        text.contains("permissions: id-token: write") && text.contains("fork"),
        "{text}"
    );

    let err = ask(vec![("ACT", "true"), ("GITHUB_ACTIONS", "true")]).await;
    assert!(matches!(err, OidcError::UnderAct));
    let text = err.to_string();
    assert!(
        text.contains("act -s AWS_ACCESS_KEY_ID") && text.contains("web-identity-token-file"),
        "{text}"
    );

    let err = ask(vec![(URL_VAR, "http://127.0.0.1:1/x")]).await;
    assert!(
        err.to_string().starts_with(
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN is not set although ACTIONS_ID_TOKEN_REQUEST_URL is"
        ),
        "{err}"
    );
    let err = ask(vec![(TOKEN_VAR, "t"), (URL_VAR, "  ")]).await;
    assert!(
        err.to_string().starts_with(
            "ACTIONS_ID_TOKEN_REQUEST_URL is not set although ACTIONS_ID_TOKEN_REQUEST_TOKEN is"
        ),
        "{err}"
    );

    let err = ask(vec![(TOKEN_VAR, "t"), (URL_VAR, "not a url")]).await;
    assert!(matches!(err, OidcError::InvalidUrl { .. }), "{err:?}");
}

#[test]
fn classification_table() {
    let status = |status| OidcError::Status {
        status,
        excerpt: String::new(),
    };
    let cases = [
        (status(500), Retry::Transient),
        (status(503), Retry::Transient),
        (status(429), Retry::Transient),
        (status(408), Retry::Transient),
        (status(400), Retry::Fatal),
        (status(404), Retry::Fatal),
        (
            OidcError::Refused {
                status: 403,
                excerpt: String::new(),
            },
            Retry::Fatal,
        ),
        (
            OidcError::BadResponse {
                detail: String::new(),
            },
            Retry::Fatal,
        ),
        (OidcError::PermissionMissing, Retry::Fatal),
        (OidcError::UnderAct, Retry::Fatal),
    ];
    for (error, want) in cases {
        assert_eq!(classify(&error), want, "{error:?}");
    }
}

#[test]
fn token_file_is_trimmed_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("token");
    std::fs::write(&good, format!("  {JWT}\n")).unwrap();
    assert_eq!(read_token_file(&good).unwrap().expose(), JWT);

    let empty = dir.path().join("empty");
    std::fs::write(&empty, " \n").unwrap();
    let cases = [
        (dir.path().join("absent"), "does not exist"),
        (empty, "is empty"),
        (dir.path().to_path_buf(), "could not read"),
    ];
    for (path, want) in cases {
        let text = read_token_file(&path).unwrap_err().to_string();
        assert!(
            text.contains("web-identity-token-file") && text.contains(want),
            "{text}"
        );
    }
}
