//! The identity stage as a run performs it: get the token (GitHub's OIDC service or a file),
//! mask it, read its claims, apply the workflow's guards and the role's trust policy, call STS,
//! mask what comes back before anything else is printed, and publish outputs. Without
//! `role-to-assume` it adopts the environment's credentials instead and says so.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::envvars::EnvVars;
use crate::failure::{Category, Failure};
use crate::identity::claims::Claims;
use crate::identity::diagnose;
use crate::identity::sts::{self, AssumeRequest, AssumedIdentity, AwsCredentials};
use crate::identity::trust::{self, Decision};
use crate::inputs::{IdentityConfig, RoleArn};
use crate::retry::RetryPolicy;
use crate::runner::{
    Annotation, OidcError, Workflow, neutralize_line, read_token_file, request_token,
};
use crate::secret::Secret;

use super::refresh::{Renew, RenewError, RenewFuture};
use super::{Console, failures};

/// What later stages need from the identity stage.
#[derive(Debug)]
pub struct Session {
    pub credentials: AwsCredentials,
    pub identity: AssumedIdentity,
    pub region: String,
    /// How to get new credentials when these expire (`None`: the environment's, not renewable).
    pub renewal: Option<RoleRenewal>,
    /// The OIDC token's claims, when a role was assumed with a token that is a JWT (the job's
    /// `sub` for the summary, its `environment` for GitHub Deployments).
    pub claims: Option<Claims>,
}

/// The identity stage again, for a wait that outlives the credentials: a fresh token the way
/// the first one was got (the OIDC request token is valid for the whole job; a token file is
/// read again), masked, then the same role, session name and duration, and the new credentials
/// masked before they are handed out. Masks go straight to stdout (the runner reads commands
/// at any time), since a renewal runs inside an SDK call, away from the `Console`.
#[derive(Clone)]
pub struct RoleRenewal {
    role_arn: String,
    session_name: String,
    duration: Duration,
    audience: String,
    token_file: Option<PathBuf>,
    region: String,
    env: EnvVars,
    masks: Arc<Mutex<Workflow<Box<dyn Write + Send>>>>,
}

impl std::fmt::Debug for RoleRenewal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleRenewal")
            .field("role_arn", &self.role_arn)
            .field("session_name", &self.session_name)
            .finish_non_exhaustive()
    }
}

impl RoleRenewal {
    fn mask(&self, secrets: &[&Secret]) -> Result<(), RenewError> {
        let mut workflow = self.masks.lock().unwrap_or_else(|e| e.into_inner());
        for s in secrets {
            workflow
                .add_mask(s)
                .map_err(|e| RenewError(format!("cannot print ::add-mask:: ({e})")))?;
        }
        Ok(())
    }

    async fn assume_again(&self) -> Result<AwsCredentials, RenewError> {
        let token = fetch_token(self.token_file.as_deref(), &self.env, &self.audience)
            .await
            .map_err(|e| RenewError(format!("no fresh OIDC token: {e}")))?;
        self.mask(&[&token])?;
        let client = sts::client(&self.region).await;
        let request = AssumeRequest {
            role_arn: &self.role_arn,
            session_name: &self.session_name,
            duration: self.duration,
            token: &token,
        };
        let (credentials, _) = sts::assume_role(&client, &request, &RetryPolicy::default())
            .await
            .map_err(|e| RenewError(e.to_string()))?;
        let mut secrets = vec![&credentials.access_key_id, &credentials.secret_access_key];
        secrets.extend(credentials.session_token.as_ref());
        self.mask(&secrets)?;
        Ok(credentials)
    }
}

impl Renew for RoleRenewal {
    fn renew(&self) -> RenewFuture {
        let this = self.clone();
        Box::pin(async move { this.assume_again().await })
    }
}

async fn fetch_token(
    token_file: Option<&Path>,
    env: &EnvVars,
    audience: &str,
) -> Result<Secret, OidcError> {
    match token_file {
        Some(path) => read_token_file(path),
        None => request_token(env, audience, &http_client()?, &RetryPolicy::default()).await,
    }
}

pub async fn run(
    cfg: &IdentityConfig,
    env: &EnvVars,
    console: &mut Console,
) -> Result<Session, Failure> {
    let session = match &cfg.role {
        Some(role) => assume(cfg, role, env, console).await?,
        None => adopt_environment(cfg, env, console).await?,
    };
    publish(cfg, &session, console)?;
    Ok(session)
}

async fn assume(
    cfg: &IdentityConfig,
    role: &RoleArn,
    env: &EnvVars,
    console: &mut Console,
) -> Result<Session, Failure> {
    // The account is in every ARN printed from here on, refusals included: mask it first.
    mask_account(cfg, &role.account, console)?;
    let token = fetch_token(cfg.token_file.as_deref(), env, &cfg.audience)
        .await
        .map_err(|e| failures::oidc(&e))?;
    console
        .workflow
        .add_mask(&token)
        .map_err(|e| failures::console(&e))?;

    let claims = read_claims(cfg, &token, console)?;
    if let Some(claims) = &claims {
        cfg.guards
            .check(claims)
            .map_err(|refusal| failures::guard(&refusal, claims))?;
        if let Some(policy) = &cfg.trust_policy {
            let evaluation = trust::evaluate(policy, claims);
            match evaluation.decision {
                Decision::Allowed { statement } => tracing::info!(
                    "the trust policy admits this job (statement {})",
                    statement + 1
                ),
                _ => {
                    return Err(failures::diagnosis(diagnose::diagnose_policy(
                        &role.arn,
                        policy,
                        &evaluation,
                        claims,
                        &cfg.audience,
                    )));
                }
            }
        }
    }

    let client = sts::client(&cfg.region).await;
    let request = AssumeRequest {
        role_arn: &role.arn,
        session_name: &cfg.session_name,
        duration: cfg.duration,
        token: &token,
    };
    let (credentials, identity) = match sts::assume_role(&client, &request, &RetryPolicy::default())
        .await
    {
        Ok(pair) => pair,
        Err(sts::StsError::AccessDenied { message, .. }) => {
            let Some(claims) = &claims else {
                return Err(Failure::new(Category::Refused, format!("STS refused to let this job assume {role}: {message}"))
                    .hint("the token's claims could not be read, so the refusal cannot be explained; compare the role's trust policy with the token"));
            };
            let diagnosis = diagnose::diagnose_access_denied(
                &role.arn,
                cfg.trust_policy.as_ref(),
                claims,
                &cfg.audience,
                &message,
            );
            return Err(failures::diagnosis(diagnosis));
        }
        Err(other) => return Err(failures::sts(&other, cfg)),
    };
    mask_credentials(&credentials, console)?;
    tracing::info!("assumed {} as {}", role, identity.arn);
    let renewal = RoleRenewal {
        role_arn: role.arn.clone(),
        session_name: cfg.session_name.clone(),
        duration: cfg.duration,
        audience: cfg.audience.clone(),
        token_file: cfg.token_file.clone(),
        region: cfg.region.clone(),
        env: env.clone(),
        masks: Arc::new(Mutex::new(Workflow::stdio(console.workflow.mode()))),
    };
    Ok(Session {
        credentials,
        identity,
        region: cfg.region.clone(),
        renewal: Some(renewal),
        claims,
    })
}

/// Claims are needed for guards, the trust check and a refusal's diagnosis. A token that is not
/// a JWT cannot be checked: fatal when a check was asked for, a warning otherwise (STS decides).
fn read_claims(
    cfg: &IdentityConfig,
    token: &Secret,
    console: &mut Console,
) -> Result<Option<Claims>, Failure> {
    let claims = match Claims::from_jwt(token.expose()) {
        Ok(c) => c,
        Err(e) if cfg.trust_policy.is_some() || !cfg.guards.is_empty() => {
            return Err(Failure::new(Category::BadInput, format!("the web-identity token's claims cannot be read: {e}"))
                .hint("`trust-policy`, `allowed-branches` and `allowed-environments` need a JWT from GitHub's OIDC service"));
        }
        Err(e) => {
            let _ = console.workflow.warning(
                &format!("the web-identity token's claims cannot be read ({e}); STS will judge it"),
                &Annotation::default(),
            );
            return Ok(None);
        }
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    for warning in claims.sanity_warnings(&cfg.audience, now) {
        let _ = console
            .workflow
            .warning(&warning, &Annotation::titled("OIDC token"));
    }
    let shown: Vec<String> = ["sub", "ref", "environment", "job_workflow_ref"]
        .into_iter()
        // Claim values are the workflow author's text (branch names): never let one start a command.
        .filter_map(|k| {
            claims
                .string(k)
                .map(|v| format!("{k}={}", neutralize_line(v)))
        })
        .collect();
    tracing::info!("OIDC token: {}", shown.join("  "));
    Ok(Some(claims))
}

/// No role: use the credentials the environment holds (a previous step, `act -s`, a laptop), and
/// find out whose they are.
async fn adopt_environment(
    cfg: &IdentityConfig,
    env: &EnvVars,
    console: &mut Console,
) -> Result<Session, Failure> {
    let (Some(key), Some(secret)) = (
        env.non_empty("AWS_ACCESS_KEY_ID"),
        env.non_empty("AWS_SECRET_ACCESS_KEY"),
    ) else {
        let hint = if env.is_true("ACT") {
            "under act, pass credentials as secrets: `act -s AWS_ACCESS_KEY_ID -s AWS_SECRET_ACCESS_KEY -s AWS_SESSION_TOKEN`"
        } else {
            "set `role-to-assume` to exchange the job's OIDC token for a role (the job needs `permissions: id-token: write`),\nor run a step that puts AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment first"
        };
        return Err(Failure::new(
            Category::BadInput,
            "no `role-to-assume` and no AWS credentials in the environment",
        )
        .hint(hint));
    };
    let credentials = AwsCredentials {
        access_key_id: Secret::new(key),
        secret_access_key: Secret::new(secret),
        session_token: env.non_empty("AWS_SESSION_TOKEN").map(Secret::new),
        expiration: None,
    };
    mask_credentials(&credentials, console)?;
    let identity = sts::caller_identity(&cfg.region, &credentials)
        .await
        .map_err(|e| failures::sts(&e, cfg))?;
    mask_account(cfg, &identity.account_id, console)?;
    tracing::info!(
        "no role-to-assume: using the AWS credentials from the environment ({})",
        identity.arn
    );
    Ok(Session {
        credentials,
        identity,
        region: cfg.region.clone(),
        renewal: None,
        claims: None,
    })
}

fn mask_account(cfg: &IdentityConfig, account: &str, console: &mut Console) -> Result<(), Failure> {
    if cfg.mask_account_id {
        console
            .workflow
            .add_mask_str(account)
            .map_err(|e| failures::console(&e))?;
    }
    Ok(())
}

fn mask_credentials(credentials: &AwsCredentials, console: &mut Console) -> Result<(), Failure> {
    let workflow = &mut console.workflow;
    let mut mask = |s: &Secret| workflow.add_mask(s).map_err(|e| failures::console(&e));
    mask(&credentials.access_key_id)?;
    mask(&credentials.secret_access_key)?;
    if let Some(token) = &credentials.session_token {
        mask(token)?;
    }
    Ok(())
}

/// Outputs, optional exported credentials, and the summary.
fn publish(cfg: &IdentityConfig, session: &Session, console: &mut Console) -> Result<(), Failure> {
    console.output("aws-account-id", &session.identity.account_id)?;
    console.output("authenticated-arn", &session.identity.arn)?;
    if cfg.output_env_credentials {
        let c = &session.credentials;
        let mut vars = vec![
            ("AWS_ACCESS_KEY_ID", c.access_key_id.expose()),
            ("AWS_SECRET_ACCESS_KEY", c.secret_access_key.expose()),
            ("AWS_REGION", session.region.as_str()),
            ("AWS_DEFAULT_REGION", session.region.as_str()),
        ];
        if let Some(token) = &c.session_token {
            vars.push(("AWS_SESSION_TOKEN", token.expose()));
        }
        for (name, value) in vars {
            console
                .env_file
                .set(name, value)
                .map_err(|e| failures::runner_file(&e))?;
        }
        tracing::info!(
            "exported AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and AWS_REGION to later steps"
        );
    }
    console
        .summary
        .section(
            "identity",
            &identity_summary(cfg, session, SystemTime::now()),
        )
        .map_err(|e| failures::runner_file(&e))
}

/// The identity section: who the job is (`sub`), which role it became in which account, and
/// until when. Under `mask-aws-account-id` the account is shown as `***` in the ARNs too: a
/// summary is read by people the log's masking does not reach.
fn identity_summary(cfg: &IdentityConfig, session: &Session, now: SystemTime) -> String {
    let account = session.identity.account_id.as_str();
    let hide = |text: &str| {
        if cfg.mask_account_id && !account.is_empty() {
            text.replace(account, "***")
        } else {
            text.to_owned()
        }
    };
    let code = |text: &str| format!("`{}`", text.replace('`', "'"));
    let subject = match session.claims.as_ref().and_then(|c| c.string("sub")) {
        Some(sub) => code(sub),
        None if cfg.role.is_some() => "(the token's claims could not be read)".to_owned(),
        None => "(no OIDC token: credentials from the environment)".to_owned(),
    };
    let role = cfg
        .role
        .as_ref()
        .map(|r| code(&hide(&r.arn)))
        .unwrap_or_else(|| "(none: `role-to-assume` is empty)".to_owned());
    let expires = match session.credentials.expiration {
        Some(at) => {
            let minutes = at
                .duration_since(now)
                .map(|d| d.as_secs() / 60)
                .unwrap_or(0);
            format!(
                "{} (in {minutes} min{})",
                aws_smithy_types::DateTime::from(at),
                if session.renewal.is_some() {
                    ", renewed during long waits"
                } else {
                    ""
                }
            )
        }
        None => "not known (credentials from the environment)".to_owned(),
    };
    let rows = [
        ["job (`sub`)".to_owned(), subject],
        ["role".to_owned(), role],
        ["session".to_owned(), code(&hide(&session.identity.arn))],
        ["account".to_owned(), hide(account)],
        ["region".to_owned(), session.region.clone()],
        ["credentials expire".to_owned(), expires],
    ];
    crate::runner::table(&["identity", ""], rows)
}

/// The OIDC token request's client. Building it reads no certificate (`crate::tls` reads the
/// roots at the first handshake), and a client that cannot be built is an error, not a panic.
fn http_client() -> Result<reqwest::Client, OidcError> {
    crate::retry::http_client()
        .build()
        .map_err(OidcError::Transport)
}
