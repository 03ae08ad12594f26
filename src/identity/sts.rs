//! The STS exchange: `AssumeRoleWithWebIdentity` with the job's token, retrying only what is
//! transient (throttling, 5xx, connection failures, IDPCommunicationError) and never a refusal.
//! The SDK's own retries are off so that this module decides, counts and reports every attempt.

use std::time::{Duration, SystemTime};

use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sts::operation::assume_role_with_web_identity::AssumeRoleWithWebIdentityError;

use crate::retry::{self, Retry, RetryPolicy};
use crate::secret::Secret;

/// Temporary credentials of the assumed role. Every secret part is a `Secret`.
#[derive(Debug, Clone)]
pub struct AwsCredentials {
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
    pub expiration: Option<SystemTime>,
}

/// Who the credentials are: the session ARN and its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumedIdentity {
    pub arn: String,
    pub account_id: String,
}

#[derive(Debug)]
pub struct AssumeRequest<'a> {
    pub role_arn: &'a str,
    pub session_name: &'a str,
    pub duration: Duration,
    pub token: &'a Secret,
}

#[derive(Debug, thiserror::Error)]
pub enum StsError {
    /// STS evaluated the role's trust policy and said no.
    #[error("STS refused to let this job assume {role_arn}: {message}")]
    AccessDenied { role_arn: String, message: String },
    /// The token itself was rejected: no OIDC provider in the account, wrong audience, bad signature.
    #[error("STS rejected the web-identity token ({code}): {message}")]
    InvalidToken { code: String, message: String },
    /// A refusal that is a configuration problem of the request: duration above the role's
    /// maximum, a disabled region, a malformed request.
    #[error("STS rejected the request ({code}): {message}")]
    Rejected { code: String, message: String },
    #[error("STS kept failing: {} over {}; last error: {last}", retry::attempts(*attempts), retry::seconds(*elapsed))]
    Exhausted {
        attempts: u32,
        elapsed: Duration,
        last: String,
    },
    #[error("STS answered without credentials or without an assumed-role ARN")]
    IncompleteResponse,
    /// No TLS connection to STS this machine can trust (no roots, or a certificate they do not
    /// vouch for): STS never saw the request.
    #[error("could not connect to STS securely: {0}")]
    Untrusted(crate::tls::TrustError),
}

type CallError = SdkError<AssumeRoleWithWebIdentityError>;

type CallFailure = retry::SdkFailure<AssumeRoleWithWebIdentityError>;

/// Is a failed call worth repeating? The AWS protocol's classification (`crate::retry`):
/// throttling and IDPCommunicationError (STS could not reach GitHub's keys) retry;
/// AccessDenied, InvalidIdentityToken, ExpiredTokenException and validation errors never do.
pub fn classify(error: &CallError) -> Retry {
    retry::classify_sdk(error)
}

/// A short human description of a failed call: the code and message when STS gave them.
fn describe(error: &CallError) -> String {
    retry::describe_sdk(error)
}

/// An STS client for `region`, honouring `AWS_ENDPOINT_URL(_STS)`, with the SDK's retries off.
/// The call is unsigned, so no credentials are loaded.
pub async fn client(region: &str) -> aws_sdk_sts::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_owned()))
        .no_credentials()
        .http_client(crate::tls::sdk_http_client())
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .timeout_config(retry::sdk_timeouts())
        .load()
        .await;
    aws_sdk_sts::Client::new(&config)
}

/// Exchange the token for credentials.
pub async fn assume_role(
    client: &aws_sdk_sts::Client,
    request: &AssumeRequest<'_>,
    policy: &RetryPolicy,
) -> Result<(AwsCredentials, AssumedIdentity), StsError> {
    let call = || async {
        client
            .assume_role_with_web_identity()
            .role_arn(request.role_arn)
            .role_session_name(request.session_name)
            .web_identity_token(request.token.expose())
            .duration_seconds(request.duration.as_secs() as i32)
            .send()
            .await
            .map_err(retry::SdkFailure)
    };
    let classify = |f: &CallFailure| classify(&f.0);
    let output = match retry::retry_named("AssumeRoleWithWebIdentity", policy, classify, call).await
    {
        Ok(output) => output,
        Err(retried) => {
            return Err(into_sts_error(
                request.role_arn,
                retried.attempts,
                retried.elapsed,
                retried.error.0,
            ));
        }
    };
    let creds = output.credentials.ok_or(StsError::IncompleteResponse)?;
    let arn = output
        .assumed_role_user
        .map(|u| u.arn)
        .ok_or(StsError::IncompleteResponse)?;
    let account_id = account_of(&arn).ok_or(StsError::IncompleteResponse)?;
    let credentials = AwsCredentials {
        access_key_id: Secret::new(creds.access_key_id),
        secret_access_key: Secret::new(creds.secret_access_key),
        session_token: Some(Secret::new(creds.session_token)),
        expiration: SystemTime::try_from(creds.expiration).ok(),
    };
    Ok((credentials, AssumedIdentity { arn, account_id }))
}

fn into_sts_error(role_arn: &str, attempts: u32, elapsed: Duration, error: CallError) -> StsError {
    if let SdkError::DispatchFailure(f) = &error
        && let Some(why) = f.as_connector_error().and_then(|e| crate::tls::explain(e))
    {
        return StsError::Untrusted(why);
    }
    if classify(&error) == Retry::Transient {
        return StsError::Exhausted {
            attempts,
            elapsed,
            last: describe(&error),
        };
    }
    let (code, message) = match &error {
        SdkError::ServiceError(e) => (
            e.err().code().unwrap_or_default().to_owned(),
            e.err().message().unwrap_or_default().to_owned(),
        ),
        _ => (String::new(), describe(&error)),
    };
    match code.as_str() {
        "AccessDenied" => StsError::AccessDenied {
            role_arn: role_arn.to_owned(),
            message,
        },
        "InvalidIdentityToken" | "ExpiredTokenException" => {
            StsError::InvalidToken { code, message }
        }
        "" => StsError::Rejected {
            code: "request failed".into(),
            message,
        },
        _ => StsError::Rejected { code, message },
    }
}

/// Who the given credentials belong to (`GetCallerIdentity`), for credentials that came from the
/// environment rather than from this run's assume. The SDK's standard retries suffice here: the
/// call has no side effects and no refusal worth diagnosing beyond its message.
pub async fn caller_identity(
    region: &str,
    credentials: &AwsCredentials,
) -> Result<AssumedIdentity, StsError> {
    let provider = aws_credential_types::Credentials::new(
        credentials.access_key_id.expose(),
        credentials.secret_access_key.expose(),
        credentials
            .session_token
            .as_ref()
            .map(|t| t.expose().to_owned()),
        credentials.expiration,
        "environment",
    );
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_owned()))
        .credentials_provider(provider)
        .http_client(crate::tls::sdk_http_client())
        .load()
        .await;
    let output = aws_sdk_sts::Client::new(&config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| match &e {
            SdkError::ServiceError(se) => StsError::Rejected {
                code: se
                    .err()
                    .code()
                    .unwrap_or("GetCallerIdentity failed")
                    .to_owned(),
                message: se.err().message().unwrap_or_default().to_owned(),
            },
            other => StsError::Exhausted {
                attempts: 3,
                elapsed: Duration::ZERO,
                last: crate::failure::with_causes(other),
            },
        })?;
    let arn = output.arn.ok_or(StsError::IncompleteResponse)?;
    let account_id = output
        .account
        .or_else(|| account_of(&arn))
        .ok_or(StsError::IncompleteResponse)?;
    Ok(AssumedIdentity { arn, account_id })
}

/// The account of an ARN: its fifth field.
pub fn account_of(arn: &str) -> Option<String> {
    let account = arn.split(':').nth(4)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then(|| account.to_owned())
}

#[cfg(test)]
mod tests {
    use super::account_of;

    #[test]
    fn account_comes_from_the_fifth_field() {
        assert_eq!(
            account_of("arn:aws:sts::123456789012:assumed-role/deploy/gha-1").as_deref(),
            Some("123456789012")
        );
        assert_eq!(
            account_of("arn:aws-cn:sts::111122223333:assumed-role/r/s").as_deref(),
            Some("111122223333")
        );
        assert_eq!(account_of("arn:aws:sts::12:assumed-role/r/s"), None);
        assert_eq!(account_of("nonsense"), None);
    }
}
