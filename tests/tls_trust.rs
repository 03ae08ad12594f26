//! Which servers the built binary trusts, end to end over loopback TLS ([`TlsFront`], a test-only
//! CA): the roots come from `SSL_CERT_FILE` / `SSL_CERT_DIR` (set per run: each run is its own
//! process), for reqwest's clients (the OIDC token request) and the AWS SDK's (STS) alike. A
//! server whose CA is among them is trusted; one whose CA is not is refused at once (no retry)
//! saying the certificate is not trusted; with no roots at all the run stops with what to
//! install or set, exits 2 (not a panic's 101), and nothing is written. A run
//! that speaks only plain http needs no roots at all. GitHub's API behind an untrusted
//! certificate costs one warning and one connection, never the deploy.

mod common;
#[path = "common/github_bed.rs"]
mod github_bed;

use common::{ACCOUNT, ActionRun, Run, role_arn, unique};
use github_bed::{Github, bed, production_job, warnings};
use serde_json::json;
use testbed::{Moto, OTHER_CA_PEM, OidcIssuer, Scenario, StsFault, TEST_CA_PEM, TlsFront};

/// What the run's process reads its roots from.
enum Roots {
    /// `SSL_CERT_FILE` holds this PEM bundle.
    Bundle(&'static str),
    /// `SSL_CERT_FILE` names a file that does not exist.
    Missing,
}

/// Points the run's `SSL_CERT_FILE` at `roots`, and `SSL_CERT_DIR` at an empty directory, so
/// nothing from this machine's store is trusted.
fn with_roots(run: ActionRun, roots: Roots) -> ActionRun {
    let dir = run.scratch().join("no-certs");
    std::fs::create_dir_all(&dir).expect("create the empty cert dir");
    let file = match roots {
        Roots::Bundle(pem) => run.file("roots.pem", pem),
        Roots::Missing => run.scratch().join("missing-roots.pem"),
    };
    run.env("SSL_CERT_FILE", file.to_str().unwrap())
        .env("SSL_CERT_DIR", dir.to_str().unwrap())
}

/// The test bed of one case: an OIDC issuer and a counting STS proxy to moto, both on plain
/// http, with a TLS front for each.
struct Bed {
    issuer: OidcIssuer,
    issuer_tls: TlsFront,
    sts: StsFault,
    sts_tls: TlsFront,
}

impl Bed {
    async fn start() -> Bed {
        let moto = Moto::shared().await.expect("start moto");
        let issuer = OidcIssuer::start(json!({ "repository": "octo-org/payments" }))
            .await
            .expect("start the OIDC issuer");
        let sts = StsFault::start(Some(moto.endpoint().to_owned()), vec![])
            .await
            .expect("start the STS proxy");
        let issuer_tls = TlsFront::start(issuer.endpoint()).await.unwrap();
        let sts_tls = TlsFront::start(sts.endpoint()).await.unwrap();
        Bed {
            issuer,
            issuer_tls,
            sts,
            sts_tls,
        }
    }

    /// A job of octo-org/payments whose token request goes to `issuer` and whose STS calls go
    /// to `sts` (either may be a TLS front's endpoint).
    fn job(&self, issuer: &str, sts: &str, roots: Roots) -> ActionRun {
        let run = ActionRun::new()
            .oidc(&self.issuer)
            .env(
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                &format!("{issuer}/token?api-version=2.0"),
            )
            .aws(sts)
            .with("role-to-assume", &role_arn(&unique("tls")))
            .with("aws-region", "us-east-1");
        with_roots(run, roots)
    }
}

/// A run that stopped on a trust failure: exit 2 (this machine's configuration, nothing changed;
/// not a panic's 101), the reason on stderr, no output or exported variable, no retry.
fn assert_stopped_on_trust(run: &Run, reason: &[&str]) {
    run.assert_code(2)
        .assert_stderr_has(reason)
        .assert_nothing_written();
    assert!(
        !run.stderr.contains("attempts"),
        "a trust failure was retried\n{}",
        run.dump()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_whose_ca_is_in_ssl_cert_file_are_trusted_by_both_clients() {
    let bed = Bed::start().await;
    let run = bed
        .job(
            bed.issuer_tls.endpoint(),
            bed.sts_tls.endpoint(),
            Roots::Bundle(TEST_CA_PEM),
        )
        .run()
        .await;

    run.assert_code(0);
    assert_eq!(
        run.output("aws-account-id"),
        Some(ACCOUNT),
        "{}",
        run.dump()
    );
    assert_eq!(bed.issuer.request_count(), 1, "the token came over TLS");
    assert_eq!(bed.sts.requests().len(), 1, "STS was called over TLS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_service_whose_ca_is_not_trusted_is_refused_once_and_sts_is_never_called() {
    let bed = Bed::start().await;
    let run = bed
        .job(
            bed.issuer_tls.endpoint(),
            bed.sts.endpoint(),
            Roots::Bundle(OTHER_CA_PEM),
        )
        .run()
        .await;

    assert_stopped_on_trust(
        &run,
        &["the server's certificate is not trusted", "SSL_CERT_FILE="],
    );
    assert_eq!(bed.issuer_tls.connections(), 1, "one handshake, no retry");
    assert_eq!(bed.issuer.request_count(), 0);
    assert!(bed.sts.requests().is_empty(), "STS was called");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sts_endpoint_whose_ca_is_not_trusted_is_refused_once() {
    let bed = Bed::start().await;
    let run = bed
        .job(
            bed.issuer.endpoint(),
            bed.sts_tls.endpoint(),
            Roots::Bundle(OTHER_CA_PEM),
        )
        .run()
        .await;

    assert_stopped_on_trust(
        &run,
        &[
            "could not connect to STS securely: the server's certificate is not trusted",
            "SSL_CERT_FILE=",
        ],
    );
    assert_eq!(bed.sts_tls.connections(), 1, "one handshake, no retry");
    assert!(bed.sts.requests().is_empty(), "a request got through");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_roots_at_all_the_token_request_stops_saying_what_to_install() {
    let bed = Bed::start().await;
    let run = bed
        .job(
            bed.issuer_tls.endpoint(),
            bed.sts.endpoint(),
            Roots::Missing,
        )
        .run()
        .await;

    assert_stopped_on_trust(
        &run,
        &[
            "no root CA certificates found in SSL_CERT_FILE=",
            "missing-roots.pem",
            "install the ca-certificates package, or set SSL_CERT_FILE to a PEM bundle",
        ],
    );
    assert_eq!(bed.issuer.request_count(), 0);
    assert!(bed.sts.requests().is_empty(), "STS was called");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_roots_at_all_sts_over_https_is_never_dialled() {
    let bed = Bed::start().await;
    let run = bed
        .job(
            bed.issuer.endpoint(),
            bed.sts_tls.endpoint(),
            Roots::Missing,
        )
        .run()
        .await;

    assert_stopped_on_trust(
        &run,
        &[
            "could not connect to STS securely: no root CA certificates found in SSL_CERT_FILE=",
            "install the ca-certificates package",
        ],
    );
    assert_eq!(bed.sts_tls.connections(), 0, "dialled without roots");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_http_run_needs_no_roots() {
    let bed = Bed::start().await;
    let run = bed
        .job(bed.issuer.endpoint(), bed.sts.endpoint(), Roots::Missing)
        .run()
        .await;

    run.assert_code(0);
    assert_eq!(
        run.output("aws-account-id"),
        Some(ACCOUNT),
        "{}",
        run.dump()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_github_api_whose_ca_is_not_trusted_is_one_warning_and_the_deploy_goes_on() {
    let bed = bed(json!({}), Scenario::HealthyRolling, Github::Prism).await;
    let github_tls = TlsFront::start(bed.github.endpoint()).await.unwrap();
    let run = production_job(&bed)
        .await
        .env("GITHUB_API_URL", github_tls.endpoint());
    let run = with_roots(run, Roots::Bundle(OTHER_CA_PEM)).run().await;

    run.assert_code(0);
    let warned = warnings(&run);
    assert!(
        warned.iter().any(|w| w.contains("securely")
            && w.contains("certificate is not trusted")
            && !w.contains("attempts")),
        "one warning naming the trust failure, not retried\n{}",
        run.dump()
    );
    assert_eq!(github_tls.connections(), 1, "one handshake, no retry");
    assert!(bed.github.requests().is_empty(), "a request got through");
}
