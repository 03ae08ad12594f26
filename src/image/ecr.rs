//! ECR's API side of a push: the registry login (`GetAuthorizationToken`), what the repository
//! promises about its tags (`DescribeRepositories`), creating a missing repository the way a
//! careful platform team would. The scan gate is `scan.rs`. Blobs and manifests
//! themselves go over the registry API (`registry.rs`), as `docker push` does.
//!
//! Each call goes through the crate's retry loop (`crate::retry`, the AWS classification; the
//! client must have the SDK's own retries off), and an error after retries says how many
//! attempts over how long. `CreateRepository` is not idempotent: when a retry is told the
//! repository already exists, the earlier attempt made it, and it is read back instead.

use std::future::Future;
use std::time::Duration;

use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability,
};
use base64::Engine as _;

use crate::retry::{self, Retried, RetryPolicy, SdkFailure};
use crate::secret::Secret;

/// What `GetAuthorizationToken` gives: where the registry is and how to log in to it.
#[derive(Debug, Clone)]
pub struct EcrLogin {
    /// `https://<account>.dkr.ecr.<region>.amazonaws.com`, or the `registry-endpoint` override.
    pub endpoint: String,
    pub username: String,
    pub password: Secret,
}

impl EcrLogin {
    /// The registry host as image references name it (no scheme).
    pub fn host(&self) -> &str {
        self.endpoint
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/')
    }
}

/// The repository's promise about tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagMutability {
    Mutable,
    Immutable,
}

#[derive(Debug, Clone)]
pub struct RepositoryInfo {
    pub name: String,
    pub uri: String,
    pub tag_mutability: TagMutability,
    /// Tag patterns exempt from the repository's mutability setting (`*_WITH_EXCLUSION`).
    pub mutability_exclusions: Vec<String>,
    pub scan_on_push: bool,
}

impl RepositoryInfo {
    /// Whether `tag` may be moved to another digest.
    pub fn tag_is_mutable(&self, tag: &str) -> bool {
        let excluded = self
            .mutability_exclusions
            .iter()
            .any(|pattern| wildcard_match(pattern, tag));
        (self.tag_mutability == TagMutability::Mutable) != excluded
    }
}

/// ECR's exclusion filters: `*` matches any run of characters; nothing else is special.
pub(crate) fn wildcard_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

#[derive(Debug, thiserror::Error)]
pub enum EcrError {
    #[error("ECR {operation} failed ({code}): {message}")]
    Service {
        operation: &'static str,
        code: String,
        message: String,
    },
    #[error("ECR {operation} failed: {detail}")]
    Transport {
        operation: &'static str,
        detail: String,
    },
    #[error("ECR's authorization token is not base64 of `user:password`")]
    MalformedToken,
    #[error("ECR answered {operation} without {missing}")]
    Incomplete {
        operation: &'static str,
        missing: &'static str,
    },
    #[error("{last} (gave up after {} over {})", retry::attempts(*attempts), retry::seconds(*elapsed))]
    GaveUp {
        attempts: u32,
        elapsed: Duration,
        last: Box<EcrError>,
    },
}

impl EcrError {
    pub fn code(&self) -> Option<&str> {
        match self {
            EcrError::Service { code, .. } => Some(code),
            EcrError::GaveUp { last, .. } => last.code(),
            _ => None,
        }
    }
}

/// One ECR call under the crate's retry loop.
async fn call<T, E, F, Fut>(operation: &'static str, send: F) -> Result<T, Retried<SdkFailure<E>>>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E>>>,
{
    let classify = |f: &SdkFailure<E>| retry::classify_sdk(&f.0);
    let attempt = || async { send().await.map_err(SdkFailure) };
    retry::retry_named(operation, &RetryPolicy::default(), classify, attempt).await
}

/// The error of a call that failed, with the effort when it was retried.
fn failed<E: ProvideErrorMetadata + std::error::Error + 'static>(
    operation: &'static str,
    retried: Retried<SdkFailure<E>>,
) -> EcrError {
    let last = sdk_error(operation, retried.error.0);
    if retried.attempts > 1 {
        EcrError::GaveUp {
            attempts: retried.attempts,
            elapsed: retried.elapsed,
            last: Box::new(last),
        }
    } else {
        last
    }
}

pub(crate) fn sdk_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    operation: &'static str,
    error: SdkError<E>,
) -> EcrError {
    match &error {
        SdkError::ServiceError(e) => EcrError::Service {
            operation,
            code: e.err().code().unwrap_or("unknown").to_owned(),
            message: e.err().message().unwrap_or_default().to_owned(),
        },
        other => {
            let mut detail = other.to_string();
            let mut cause = std::error::Error::source(other);
            while let Some(c) = cause {
                detail.push_str(": ");
                detail.push_str(&c.to_string());
                cause = c.source();
            }
            EcrError::Transport { operation, detail }
        }
    }
}

/// Log in: decode `AWS:<password>` from the token. The caller masks the password before
/// printing anything. `endpoint_override` replaces the token's proxy endpoint (a local registry,
/// a pull-through proxy, a mirror).
pub async fn login(
    client: &aws_sdk_ecr::Client,
    endpoint_override: Option<&str>,
) -> Result<EcrLogin, EcrError> {
    const OP: &str = "GetAuthorizationToken";
    let output = call(OP, || client.get_authorization_token().send())
        .await
        .map_err(|e| failed(OP, e))?;
    let data = output
        .authorization_data()
        .first()
        .ok_or(EcrError::Incomplete {
            operation: OP,
            missing: "authorizationData",
        })?;
    let token = data.authorization_token().ok_or(EcrError::Incomplete {
        operation: OP,
        missing: "authorizationToken",
    })?;
    let (username, password) = decode_token(token)?;
    let endpoint = match endpoint_override {
        Some(e) if e.contains("://") => e.trim_end_matches('/').to_owned(),
        Some(host) => format!("https://{}", host.trim_end_matches('/')),
        None => data
            .proxy_endpoint()
            .ok_or(EcrError::Incomplete {
                operation: OP,
                missing: "proxyEndpoint",
            })?
            .trim_end_matches('/')
            .to_owned(),
    };
    Ok(EcrLogin {
        endpoint,
        username,
        password,
    })
}

/// `base64("AWS:<password>")` -> ("AWS", password).
pub fn decode_token(token: &str) -> Result<(String, Secret), EcrError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .map_err(|_| EcrError::MalformedToken)?;
    let text = String::from_utf8(bytes).map_err(|_| EcrError::MalformedToken)?;
    let (user, password) = text.split_once(':').ok_or(EcrError::MalformedToken)?;
    if user.is_empty() || password.is_empty() {
        return Err(EcrError::MalformedToken);
    }
    Ok((user.to_owned(), Secret::new(password)))
}

/// The repository, or `None` when it does not exist.
pub async fn describe_repository(
    client: &aws_sdk_ecr::Client,
    name: &str,
) -> Result<Option<RepositoryInfo>, EcrError> {
    const OP: &str = "DescribeRepositories";
    let output = match call(OP, || {
        client.describe_repositories().repository_names(name).send()
    })
    .await
    {
        Ok(o) => o,
        Err(e)
            if e.error
                .0
                .as_service_error()
                .is_some_and(|s| s.is_repository_not_found_exception()) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(failed(OP, e)),
    };
    let Some(repo) = output
        .repositories()
        .iter()
        .find(|r| r.repository_name() == Some(name))
    else {
        return Ok(None);
    };
    Ok(Some(repository_info(name, repo)))
}

fn repository_info(name: &str, repo: &aws_sdk_ecr::types::Repository) -> RepositoryInfo {
    let tag_mutability = match repo.image_tag_mutability() {
        Some(ImageTagMutability::Immutable | ImageTagMutability::ImmutableWithExclusion) => {
            TagMutability::Immutable
        }
        _ => TagMutability::Mutable,
    };
    RepositoryInfo {
        name: name.to_owned(),
        uri: repo.repository_uri().unwrap_or_default().to_owned(),
        tag_mutability,
        mutability_exclusions: repo
            .image_tag_mutability_exclusion_filters()
            .iter()
            .map(|f| f.filter().to_owned())
            .collect(),
        scan_on_push: repo
            .image_scanning_configuration()
            .is_some_and(|c| c.scan_on_push()),
    }
}

/// The repository `create_repository` makes, as `DescribeRepositories` would then describe it
/// (for a dry run's decisions; its URI is not known before it exists).
pub fn new_repository(name: &str) -> RepositoryInfo {
    RepositoryInfo {
        name: name.to_owned(),
        uri: String::new(),
        tag_mutability: TagMutability::Immutable,
        mutability_exclusions: Vec::new(),
        scan_on_push: true,
    }
}

/// Create the repository as a careful platform team would: immutable tags (a tag names one image
/// forever, so a rollback runs what was tested), scan on push, AES-256 encryption at rest.
pub async fn create_repository(
    client: &aws_sdk_ecr::Client,
    name: &str,
) -> Result<RepositoryInfo, EcrError> {
    const OP: &str = "CreateRepository";
    let encryption = EncryptionConfiguration::builder()
        .encryption_type(EncryptionType::Aes256)
        .build()
        .expect("encryption type is set");
    let created = call(OP, || {
        client
            .create_repository()
            .repository_name(name)
            .image_tag_mutability(ImageTagMutability::Immutable)
            .image_scanning_configuration(
                ImageScanningConfiguration::builder()
                    .scan_on_push(true)
                    .build(),
            )
            .encryption_configuration(encryption.clone())
            .send()
    })
    .await;
    let output = match created {
        Ok(output) => output,
        // An earlier attempt's answer was lost, but it created the repository.
        Err(e)
            if e.attempts > 1
                && e.error
                    .0
                    .as_service_error()
                    .is_some_and(|s| s.is_repository_already_exists_exception()) =>
        {
            tracing::info!("{name}: an earlier CreateRepository attempt created it");
            return describe_repository(client, name)
                .await?
                .ok_or(EcrError::Incomplete {
                    operation: "DescribeRepositories",
                    missing: "the repository CreateRepository made",
                });
        }
        Err(e) => return Err(failed(OP, e)),
    };
    let repo = output.repository().ok_or(EcrError::Incomplete {
        operation: OP,
        missing: "repository",
    })?;
    Ok(repository_info(name, repo))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_decodes_to_user_and_password() {
        let (user, password) = decode_token("QVdTOjEyMzQ1Njc4OTAxMi1hdXRoLXRva2Vu").unwrap();
        assert_eq!(user, "AWS");
        assert_eq!(password.expose(), "123456789012-auth-token");
        for bad in ["", "!!!", "QVdT" /* "AWS" without a colon */] {
            assert!(decode_token(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn exclusion_filters_flip_mutability() {
        let repo = RepositoryInfo {
            name: "app".into(),
            uri: String::new(),
            tag_mutability: TagMutability::Immutable,
            mutability_exclusions: vec!["latest".into(), "dev-*".into()],
            scan_on_push: true,
        };
        assert!(!repo.tag_is_mutable("0123abc"));
        assert!(repo.tag_is_mutable("latest"));
        assert!(repo.tag_is_mutable("dev-42"));
        assert!(!repo.tag_is_mutable("prod-dev-1"));
    }

    #[test]
    fn wildcards_match_like_ecr_filters() {
        let cases = [
            ("a*c", "abc", true),
            ("a*c", "ac", true),
            ("a*c", "ab", false),
            ("*", "", true),
            ("x*y*z", "xyz", true),
            ("x*y*z", "xzy", false),
            ("exact", "exact", true),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(
                wildcard_match(pattern, text),
                expected,
                "{pattern} ~ {text}"
            );
        }
    }
}
