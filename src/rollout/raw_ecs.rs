//! ECS calls that carry a whole task definition, sent as the raw AWS JSON 1.1 they are on the
//! wire. `DescribeTaskDefinition`, `RegisterTaskDefinition` and `ListTaskDefinitions` go
//! through here instead of the typed SDK client because the SDK's structs have no serde and
//! drop fields they do not know: a definition read, re-imaged and registered must keep every
//! field the user set, including ones ECS added after this binary was built. Requests are
//! signed with SigV4 from the same credentials the SDK clients use.
//!
//! The endpoint is resolved the way the SDK resolves it ([`resolve_endpoint`]: the SDK's own
//! ECS endpoint rules, so partitions such as China's `amazonaws.com.cn`, FIPS and dual-stack
//! come out as the typed clients' do), unless an override (`AWS_ENDPOINT_URL_ECS`) is given.
//!
//! Retries follow `crate::retry`'s classification. Reads are retried while transient.
//! `RegisterTaskDefinition` is not idempotent (each call adds a revision), so it is sent again
//! only when the failed attempt surely did not take effect (no connection, throttled); after an
//! ambiguous failure (a timeout, a reset after sending, a 5xx) the family's newest revisions
//! are compared with the request first, and an identical one is taken as the registration.

use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_ecs::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use serde_json::{Value, json};

use super::canonical::is_identical;
use crate::retry::{self, Delivery, Retry, RetryPolicy};

const TARGET_PREFIX: &str = "AmazonEC2ContainerServiceV20141113";

/// Revisions of the family compared with the request after an ambiguous registration: the
/// one sent, if it was registered, is among the newest (another job may have registered too).
const REVISIONS_COMPARED: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum RawEcsError {
    #[error("ECS {operation} failed ({code}): {message}")]
    Service {
        operation: String,
        status: u16,
        code: String,
        message: String,
    },
    #[error("ECS {operation}: no answer ({detail})")]
    Transport {
        operation: String,
        detail: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("ECS {operation}: cannot sign the request: {detail}")]
    Signing { operation: String, detail: String },
    #[error("ECS {operation}: the answer is not JSON: {detail}")]
    BadResponse { operation: String, detail: String },
    #[error("ECS: no endpoint for this configuration: {detail}")]
    Endpoint { detail: String },
    #[error("{last} (gave up after {} over {})", retry::attempts(*attempts), retry::seconds(*elapsed))]
    GaveUp {
        attempts: u32,
        elapsed: Duration,
        last: Box<RawEcsError>,
    },
}

impl RawEcsError {
    pub fn code(&self) -> Option<&str> {
        match self {
            RawEcsError::Service { code, .. } => Some(code),
            RawEcsError::GaveUp { last, .. } => last.code(),
            _ => None,
        }
    }

    /// The AWS protocol's classification (`crate::retry`).
    pub fn classify(&self) -> Retry {
        match self {
            RawEcsError::Service { status, code, .. } => retry::classify_aws(*status, Some(code)),
            RawEcsError::Transport { source, .. } => retry::classify_transport(source),
            _ => Retry::Fatal,
        }
    }

    /// Whether the failed request can have taken effect.
    pub fn delivery(&self) -> Delivery {
        match self {
            RawEcsError::Service { status, code, .. } => {
                retry::delivery(Some(*status), Some(code), None)
            }
            RawEcsError::Transport { source, .. } => retry::delivery(None, None, Some(source)),
            // Never sent.
            RawEcsError::Signing { .. } | RawEcsError::Endpoint { .. } => Delivery::NotApplied,
            // An answer came (2xx) but could not be read: it may have been applied.
            RawEcsError::BadResponse { .. } | RawEcsError::GaveUp { .. } => Delivery::Ambiguous,
        }
    }
}

/// The ECS endpoint the SDK's rules give for `region` with these settings; `endpoint` (an
/// override such as `AWS_ENDPOINT_URL_ECS`) wins, as it does for the SDK.
pub async fn resolve_endpoint(
    region: &str,
    use_fips: bool,
    use_dual_stack: bool,
    endpoint: Option<&str>,
) -> Result<String, RawEcsError> {
    let fail = |detail: String| RawEcsError::Endpoint { detail };
    let params = Params::builder()
        .region(region)
        .use_fips(use_fips)
        .use_dual_stack(use_dual_stack)
        .set_endpoint(endpoint.map(str::to_owned))
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let resolved = DefaultResolver::new()
        .resolve_endpoint(&params)
        .await
        .map_err(|e| fail(e.to_string()))?;
    Ok(resolved.url().trim_end_matches('/').to_owned())
}

/// A JSON 1.1 client for ECS.
#[derive(Clone)]
pub struct RawEcs {
    config: SdkConfig,
    endpoint_override: Option<String>,
    http: reqwest::Client,
    retry: RetryPolicy,
}

impl RawEcs {
    /// `endpoint`: the ECS endpoint override (`AWS_ENDPOINT_URL_ECS` / `AWS_ENDPOINT_URL`), or
    /// `None` for the one the SDK's rules give (region, partition, FIPS, dual-stack).
    pub fn new(config: &SdkConfig, endpoint: Option<&str>) -> Self {
        // Connect and read limits (`crate::retry`), and a whole-attempt one: answers are small.
        let http = retry::http_client()
            .timeout(retry::request_timeout() * 2)
            .build()
            .expect("a client with timeouts always builds");
        RawEcs {
            config: config.clone(),
            endpoint_override: endpoint.map(str::to_owned),
            http,
            retry: RetryPolicy::default(),
        }
    }

    /// The same client with another retry budget (tests use short waits).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    fn region(&self) -> String {
        self.config
            .region()
            .map(|r| r.as_ref().to_owned())
            .unwrap_or_else(|| "us-east-1".into())
    }

    /// Where requests go: the override, else the SDK's rules for this configuration.
    pub async fn endpoint(&self) -> Result<String, RawEcsError> {
        let endpoint = self
            .endpoint_override
            .as_deref()
            .or(self.config.endpoint_url());
        resolve_endpoint(
            &self.region(),
            self.config.use_fips().unwrap_or(false),
            self.config.use_dual_stack().unwrap_or(false),
            endpoint,
        )
        .await
    }

    /// `DescribeTaskDefinition` with its tags, as the JSON ECS returned.
    pub async fn describe_task_definition(
        &self,
        task_definition: &str,
    ) -> Result<Value, RawEcsError> {
        self.call(
            "DescribeTaskDefinition",
            &json!({ "taskDefinition": task_definition, "include": ["TAGS"] }),
        )
        .await
    }

    /// `RegisterTaskDefinition` with a rendered request; returns the registered definition
    /// (`{"taskDefinition": ..., "tags": ...}`). Never leaves two revisions for one call when
    /// it can tell: see the module doc.
    pub async fn register_task_definition(&self, request: &Value) -> Result<Value, RawEcsError> {
        const OP: &str = "RegisterTaskDefinition";
        let body = serde_json::to_vec(request).expect("a JSON value always serialises");
        retry::retry_unrepeated(
            OP,
            &self.retry,
            RawEcsError::classify,
            RawEcsError::delivery,
            || self.send(OP, &body),
            || self.find_registered(request),
        )
        .await
        .map_err(|r| gave_up(r.error, r.attempts, r.elapsed))
    }

    /// The newest revision of the request's family identical to it, if one of the newest
    /// [`REVISIONS_COMPARED`] is (`None` also when they cannot be read: then registering again
    /// is the only way forward).
    async fn find_registered(&self, request: &Value) -> Option<Value> {
        let family = request.get("family").and_then(Value::as_str)?;
        let listed = self
            .call("ListTaskDefinitions", &json!({ "familyPrefix": family, "sort": "DESC", "status": "ACTIVE", "maxResults": REVISIONS_COMPARED }))
            .await
            .map_err(|e| tracing::warn!("cannot list the revisions of {family}: {e}"))
            .ok()?;
        let arns = listed.get("taskDefinitionArns").and_then(Value::as_array)?;
        // `familyPrefix` matches by prefix: keep this family's revisions only.
        let ours = arns.iter().filter_map(Value::as_str).filter(|arn| {
            arn.rsplit('/')
                .next()
                .and_then(|r| r.rsplit_once(':'))
                .is_some_and(|(f, _)| f == family)
        });
        for arn in ours.take(REVISIONS_COMPARED) {
            let described = self
                .describe_task_definition(arn)
                .await
                .map_err(|e| tracing::warn!("cannot read {arn}: {e}"))
                .ok()?;
            if is_identical(request, &described) {
                tracing::info!(
                    "{arn} is the revision sent: it was registered before the answer was lost"
                );
                return Some(described);
            }
        }
        None
    }

    /// One idempotent call (a read), retried while transient.
    pub async fn call(&self, operation: &str, body: &Value) -> Result<Value, RawEcsError> {
        let body = serde_json::to_vec(body).expect("a JSON value always serialises");
        retry::retry_named(operation, &self.retry, RawEcsError::classify, || {
            self.send(operation, &body)
        })
        .await
        .map_err(|r| gave_up(r.error, r.attempts, r.elapsed))
    }

    async fn send(&self, operation: &str, body: &[u8]) -> Result<Value, RawEcsError> {
        let target = format!("{TARGET_PREFIX}.{operation}");
        let url = format!("{}/", self.endpoint().await?);
        let headers = self.sign(operation, &url, &target, body).await?;
        let mut request = self.http.post(&url).body(body.to_vec());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let transport = |e: reqwest::Error| RawEcsError::Transport {
            operation: operation.to_owned(),
            detail: crate::failure::with_causes(&e),
            source: e,
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(transport)?;
        let json: Value = serde_json::from_str(if text.is_empty() { "{}" } else { &text })
            .map_err(|e| RawEcsError::BadResponse {
                operation: operation.to_owned(),
                detail: e.to_string(),
            })?;
        if (200..300).contains(&status) {
            return Ok(json);
        }
        // `__type` may carry a namespace prefix (`com.amazonaws.ecs#ClientException`).
        let code = json
            .get("__type")
            .and_then(Value::as_str)
            .unwrap_or("UnknownError");
        let code = code.rsplit('#').next().unwrap_or(code).to_owned();
        let message = json
            .get("message")
            .or_else(|| json.get("Message"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        Err(RawEcsError::Service {
            operation: operation.to_owned(),
            status,
            code,
            message,
        })
    }

    /// The headers of a SigV4-signed JSON 1.1 request.
    async fn sign(
        &self,
        operation: &str,
        url: &str,
        target: &str,
        body: &[u8],
    ) -> Result<Vec<(String, String)>, RawEcsError> {
        let fail = |detail: String| RawEcsError::Signing {
            operation: operation.to_owned(),
            detail,
        };
        let provider = self
            .config
            .credentials_provider()
            .ok_or_else(|| fail("no credentials".into()))?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| fail(e.to_string()))?;
        let identity = credentials.into();
        let region = self.region();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&region)
            .name("ecs")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| fail(e.to_string()))?
            .into();
        let mut headers = vec![
            (
                "content-type".to_owned(),
                "application/x-amz-json-1.1".to_owned(),
            ),
            ("x-amz-target".to_owned(), target.to_owned()),
        ];
        let signable = SignableRequest::new(
            "POST",
            url,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(body),
        )
        .map_err(|e| fail(e.to_string()))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| fail(e.to_string()))?
            .into_parts();
        headers.extend(
            instructions
                .headers()
                .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        Ok(headers)
    }
}

/// The last error with the observed effort, when more than one attempt was made.
fn gave_up(error: RawEcsError, attempts: u32, elapsed: Duration) -> RawEcsError {
    if attempts > 1 {
        RawEcsError::GaveUp {
            attempts,
            elapsed,
            last: Box::new(error),
        }
    } else {
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn endpoints_follow_the_sdk_rules() {
        let cases = [
            (
                "us-east-1",
                false,
                false,
                None,
                "https://ecs.us-east-1.amazonaws.com",
            ),
            (
                "cn-north-1",
                false,
                false,
                None,
                "https://ecs.cn-north-1.amazonaws.com.cn",
            ),
            (
                "cn-northwest-1",
                false,
                false,
                None,
                "https://ecs.cn-northwest-1.amazonaws.com.cn",
            ),
            (
                "us-gov-west-1",
                false,
                false,
                None,
                "https://ecs.us-gov-west-1.amazonaws.com",
            ),
            (
                "us-east-1",
                true,
                false,
                None,
                "https://ecs-fips.us-east-1.amazonaws.com",
            ),
            (
                "eu-west-1",
                false,
                true,
                None,
                "https://ecs.eu-west-1.api.aws",
            ),
            (
                "eu-west-1",
                false,
                false,
                Some("http://127.0.0.1:4566"),
                "http://127.0.0.1:4566",
            ),
        ];
        for (region, fips, dual, endpoint, want) in cases {
            let got = resolve_endpoint(region, fips, dual, endpoint)
                .await
                .unwrap();
            assert_eq!(
                got, want,
                "{region} fips={fips} dual-stack={dual} endpoint={endpoint:?}"
            );
        }
    }
}
