//! The `testbed` binary, for the README's demo: `testbed up --state FILE [--claims JSON]`
//! starts moto, a docker-registry that accepts moto's ECR login, and the fake OIDC issuer,
//! writes their endpoints as `KEY=VALUE` lines to FILE (atomically, once all are ready), and
//! stays in the foreground until SIGINT or SIGTERM, when it stops them and removes FILE.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use testbed::{EcsSimulator, Moto, OidcIssuer, Registry};

const USAGE: &str = "usage: testbed up --state FILE [--claims JSON]
       testbed mint [--claims JSON]

Starts moto server, docker-registry (login AWS / <account>-auth-token, as moto's ECR hands out;
its pushes are mirrored into moto's ECR), the ECS simulator and a fake GitHub OIDC issuer; writes
KEY=VALUE lines to FILE once all answer:
  ACTIONS_ID_TOKEN_REQUEST_URL, ACTIONS_ID_TOKEN_REQUEST_TOKEN, AWS_ENDPOINT_URL, AWS_REGION,
  AWS_ENDPOINT_URL_ECS, AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2, AWS_ENDPOINT_URL_CLOUDWATCH_LOGS,
  ECS_SIMULATOR_URL (admin API: POST /_sim/seed ...), TESTBED_MOTO_URL, REGISTRY, REGISTRY_URL,
  REGISTRY_USER, REGISTRY_PASSWORD, REGISTRY_LOG (its access log), OIDC_ISSUER_URL
and runs until SIGINT/SIGTERM. `mint` prints one token signed with the issuer's test key, for
the `web-identity-token-file` input. --claims: JSON object merged over the default token claims.";

struct Args {
    command: String,
    state: Option<PathBuf>,
    claims: serde_json::Value,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args> {
    let command = args.next().unwrap_or_default();
    if command != "up" && command != "mint" {
        bail!("{USAGE}");
    }
    let (mut state, mut claims) = (None, serde_json::json!({}));
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .with_context(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--state" => state = Some(PathBuf::from(value()?)),
            "--claims" => {
                claims = serde_json::from_str(&value()?).context("--claims is not JSON")?;
                if !claims.is_object() {
                    bail!("--claims must be a JSON object");
                }
            }
            "-h" | "--help" => bail!("{USAGE}"),
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    if command == "up" && state.is_none() {
        bail!("--state is required\n{USAGE}");
    }
    Ok(Args {
        command,
        state,
        claims,
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = parse(std::env::args().skip(1))?;
    if args.command == "mint" {
        let issuer = OidcIssuer::start(serde_json::json!({})).await?;
        println!("{}", issuer.mint(args.claims));
        return Ok(());
    }
    let state = args.state.expect("checked in parse");
    let moto = Moto::start().await?;
    let registry = Registry::start_synced_with_moto(&moto).await?;
    let ecs = EcsSimulator::start().await?;
    let issuer = OidcIssuer::start(args.claims).await?;
    let (user, password) = registry.credentials().unwrap_or_default();
    let lines = [
        ("ACTIONS_ID_TOKEN_REQUEST_URL", issuer.request_url()),
        (
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            issuer.request_token().to_owned(),
        ),
        ("AWS_ENDPOINT_URL", moto.endpoint().to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("ECS_SIMULATOR_URL", ecs.endpoint().to_owned()),
        ("TESTBED_MOTO_URL", moto.endpoint().to_owned()),
        ("REGISTRY", registry.host().to_owned()),
        ("REGISTRY_URL", registry.endpoint().to_owned()),
        ("REGISTRY_USER", user.to_owned()),
        ("REGISTRY_PASSWORD", password.to_owned()),
        ("REGISTRY_LOG", registry.log_path().display().to_string()),
        ("OIDC_ISSUER_URL", issuer.endpoint().to_owned()),
    ];
    let text: String = lines
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .chain(ecs.env())
        .map(|(k, v)| format!("{k}={v}\n"))
        .collect();
    let tmp = state.with_extension("tmp");
    std::fs::write(&tmp, &text).with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, &state).with_context(|| format!("write {}", state.display()))?;
    eprint!("testbed up; state in {}:\n{text}", state.display());

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    let _ = std::fs::remove_file(&state);
    drop((issuer, ecs, registry, moto));
    eprintln!("testbed stopped");
    Ok(())
}
