//! Credentials that outlive `role-duration-seconds`: the credentials provider every stage after
//! identity uses. It hands out the session's credentials while they are fresh and, once they are
//! within `RENEW_BEFORE` of their expiration, renews them (a fresh OIDC token, the role assumed
//! again: `authenticate::RoleRenewal`) before handing anything out, so a long rollout watch is
//! never interrupted.
//!
//! The provider keeps its own copy and decides freshness itself: the SDK clients ask through
//! their identity cache (configured in `aws.rs` with the same buffer), but the raw ECS client
//! asks the provider directly for every request it signs. A renewal that fails surfaces as the
//! SDK's credentials error, whose source says what failed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{self, ProvideCredentials, future};

use crate::identity::sts::AwsCredentials;

/// Renew this long before the credentials expire (the SDK's identity cache buffer, 10 s by
/// default, leaves no room for an OIDC request and an STS call with retries; `aws.rs` sets it).
pub const RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);
/// One renewal's limit: an OIDC request and an STS call, each with its own retries.
pub const RENEW_TIMEOUT: Duration = Duration::from_secs(120);
/// The provider name renewable credentials carry; they also carry the `Renewable` property.
pub const RENEWING: &str = "oidc-ecs-deploy-renewing";
/// The provider name of credentials that are not renewed (from the environment).
pub const STATIC: &str = "oidc-ecs-deploy";

/// Marks credentials this provider renews (`Credentials::get_property::<Renewable>()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Renewable;

/// Why a renewal failed; its text is what the user reads in the stage's error.
#[derive(Debug, thiserror::Error)]
#[error("renewing the AWS credentials failed: {0}")]
pub struct RenewError(pub String);

pub type RenewFuture = Pin<Box<dyn Future<Output = Result<AwsCredentials, RenewError>> + Send>>;

/// Something that gets a new set of credentials (and masks it before returning it).
pub trait Renew: Send + Sync + 'static {
    fn renew(&self) -> RenewFuture;
}

/// The session's credentials as the SDK takes them.
pub fn sdk_credentials(c: &AwsCredentials, provider_name: &'static str) -> Credentials {
    let mut credentials = Credentials::new(
        c.access_key_id.expose(),
        c.secret_access_key.expose(),
        c.session_token.as_ref().map(|t| t.expose().to_owned()),
        c.expiration,
        provider_name,
    );
    if provider_name == RENEWING {
        credentials.set_property(Renewable);
    }
    credentials
}

/// Fresh: no expiration, or one further away than `RENEW_BEFORE`.
pub fn fresh(expiry: Option<SystemTime>, now: SystemTime) -> bool {
    expiry.is_none_or(|e| e > now + RENEW_BEFORE)
}

/// The renewing provider. Clones share the current credentials.
#[derive(Clone)]
pub struct RenewingCredentials {
    current: Arc<tokio::sync::Mutex<Credentials>>,
    renew: Arc<dyn Renew>,
}

impl std::fmt::Debug for RenewingCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenewingCredentials")
            .finish_non_exhaustive()
    }
}

impl RenewingCredentials {
    pub fn new(initial: &AwsCredentials, renew: Arc<dyn Renew>) -> Self {
        RenewingCredentials {
            current: Arc::new(tokio::sync::Mutex::new(sdk_credentials(initial, RENEWING))),
            renew,
        }
    }

    async fn get(&self) -> provider::Result {
        // Held across the renewal: concurrent callers wait for it instead of renewing again.
        let mut current = self.current.lock().await;
        if fresh(current.expiry(), SystemTime::now()) {
            return Ok(current.clone());
        }
        let renewed = match tokio::time::timeout(RENEW_TIMEOUT, self.renew.renew()).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(failed(e)),
            Err(_) => {
                return Err(failed(RenewError(format!(
                    "no answer within {} s",
                    RENEW_TIMEOUT.as_secs()
                ))));
            }
        };
        *current = sdk_credentials(&renewed, RENEWING);
        let until = current
            .expiry()
            .map(|t| aws_smithy_types::DateTime::from(t).to_string())
            .unwrap_or_else(|| "(no expiration given)".into());
        tracing::info!("credentials renewed, valid until {until}");
        Ok(current.clone())
    }
}

fn failed(e: RenewError) -> CredentialsError {
    // The raw ECS client shows only the top-level text of a credentials error: log the reason too.
    tracing::error!("{e}");
    CredentialsError::provider_error(e)
}

impl ProvideCredentials for RenewingCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.get())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::secret::Secret;

    fn creds(key: &str, valid_for: Duration) -> AwsCredentials {
        AwsCredentials {
            access_key_id: Secret::new(key),
            secret_access_key: Secret::new(format!("{key}-secret")),
            session_token: Some(Secret::new(format!("{key}-token"))),
            expiration: Some(SystemTime::now() + valid_for),
        }
    }

    /// Counts renewals; answers with `next-N` valid for `valid_for`, or fails.
    struct Fake {
        count: Arc<AtomicU32>,
        valid_for: Duration,
        fail: bool,
    }

    impl Renew for Fake {
        fn renew(&self) -> RenewFuture {
            let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
            let (valid_for, fail) = (self.valid_for, self.fail);
            Box::pin(async move {
                if fail {
                    return Err(RenewError(
                        "STS rejected the web-identity token (ExpiredTokenException): expired"
                            .into(),
                    ));
                }
                Ok(creds(&format!("next-{n}"), valid_for))
            })
        }
    }

    fn provider(
        initial: AwsCredentials,
        valid_for: Duration,
        fail: bool,
    ) -> (RenewingCredentials, Arc<AtomicU32>) {
        let count = Arc::new(AtomicU32::new(0));
        let fake = Fake {
            count: count.clone(),
            valid_for,
            fail,
        };
        (RenewingCredentials::new(&initial, Arc::new(fake)), count)
    }

    #[tokio::test]
    async fn fresh_credentials_are_handed_out_without_renewing() {
        let (p, count) = provider(
            creds("first", Duration::from_secs(3600)),
            Duration::from_secs(3600),
            false,
        );
        for _ in 0..5 {
            let c = p.provide_credentials().await.expect("credentials");
            assert_eq!(c.access_key_id(), "first");
        }
        assert_eq!(count.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn credentials_about_to_expire_are_renewed_once() {
        let (p, count) = provider(
            creds("first", Duration::from_secs(60)),
            Duration::from_secs(3600),
            false,
        );
        let c = p.provide_credentials().await.expect("credentials");
        assert_eq!(c.access_key_id(), "next-1");
        assert_eq!(c.session_token(), Some("next-1-token"));
        assert_eq!(c.get_property::<Renewable>(), Some(&Renewable));
        assert!(
            c.expiry()
                .is_some_and(|e| e > SystemTime::now() + Duration::from_secs(3000))
        );
        // The renewed set is fresh: asked again, the provider does not renew.
        let again = p.clone().provide_credentials().await.expect("credentials");
        assert_eq!(again.access_key_id(), "next-1");
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_renewal_is_a_credentials_error_that_says_why() {
        let (p, count) = provider(
            creds("first", Duration::from_secs(10)),
            Duration::from_secs(3600),
            true,
        );
        let err = p
            .provide_credentials()
            .await
            .expect_err("the renewal fails");
        let source = std::error::Error::source(&err)
            .map(ToString::to_string)
            .unwrap_or_default();
        assert!(
            source.contains("renewing the AWS credentials failed")
                && source.contains("ExpiredTokenException"),
            "{source}"
        );
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn freshness_is_the_renewal_margin() {
        let now = SystemTime::now();
        assert!(fresh(None, now));
        assert!(fresh(
            Some(now + RENEW_BEFORE + Duration::from_secs(1)),
            now
        ));
        assert!(!fresh(Some(now + RENEW_BEFORE), now));
        assert!(!fresh(Some(now - Duration::from_secs(1)), now));
    }
}
