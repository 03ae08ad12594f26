//! ECS calls that carry a whole task definition, sent as the raw AWS JSON 1.1 they are on the
//! wire. `DescribeTaskDefinition` and `RegisterTaskDefinition` go through here instead of the
//! typed SDK client because the SDK's structs have no serde and drop fields they do not know:
//! a definition read, re-imaged and registered must keep every field the user set, including
//! ones ECS added after this binary was built. Requests are signed with SigV4 from the same
//! credentials the SDK clients use.

use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_credential_types::provider::ProvideCredentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use serde_json::Value;

use crate::retry::{Retry, RetryPolicy, retry};

const TARGET_PREFIX: &str = "AmazonEC2ContainerServiceV20141113";

#[derive(Debug, thiserror::Error)]
pub enum RawEcsError {
    #[error("ECS {operation} failed ({code}): {message}")]
    Service { operation: String, status: u16, code: String, message: String },
    #[error("ECS {operation}: no answer ({detail})")]
    Transport { operation: String, detail: String },
    #[error("ECS {operation}: cannot sign the request: {detail}")]
    Signing { operation: String, detail: String },
    #[error("ECS {operation}: the answer is not JSON: {detail}")]
    BadResponse { operation: String, detail: String },
}

impl RawEcsError {
    pub fn code(&self) -> Option<&str> {
        match self {
            RawEcsError::Service { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Throttling, 5xx and the network clear with time; validation and access errors do not.
    pub fn classify(&self) -> Retry {
        match self {
            RawEcsError::Service { status, code, .. } if *status >= 500 || code == "ThrottlingException" || code == "ServerException" => Retry::Transient,
            RawEcsError::Transport { .. } => Retry::Transient,
            _ => Retry::Fatal,
        }
    }
}

/// A JSON 1.1 client for ECS.
#[derive(Clone)]
pub struct RawEcs {
    config: SdkConfig,
    endpoint: String,
    http: reqwest::Client,
    retry: RetryPolicy,
}

impl RawEcs {
    /// `endpoint`: the ECS endpoint override (`AWS_ENDPOINT_URL_ECS` / `AWS_ENDPOINT_URL`), or
    /// `None` for the region's public endpoint.
    pub fn new(config: &SdkConfig, endpoint: Option<&str>) -> Self {
        let region = config.region().map(|r| r.as_ref().to_owned()).unwrap_or_else(|| "us-east-1".into());
        let endpoint = endpoint.map(|e| e.trim_end_matches('/').to_owned()).unwrap_or_else(|| format!("https://ecs.{region}.amazonaws.com"));
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("a client with a timeout always builds");
        RawEcs { config: config.clone(), endpoint, http, retry: RetryPolicy::default() }
    }

    /// `DescribeTaskDefinition` with its tags, as the JSON ECS returned.
    pub async fn describe_task_definition(&self, task_definition: &str) -> Result<Value, RawEcsError> {
        self.call("DescribeTaskDefinition", &serde_json::json!({ "taskDefinition": task_definition, "include": ["TAGS"] })).await
    }

    /// `RegisterTaskDefinition` with a rendered request; returns the registered definition.
    pub async fn register_task_definition(&self, request: &Value) -> Result<Value, RawEcsError> {
        self.call("RegisterTaskDefinition", request).await
    }

    /// One call, retried while transient.
    pub async fn call(&self, operation: &str, body: &Value) -> Result<Value, RawEcsError> {
        let body = serde_json::to_vec(body).expect("a JSON value always serialises");
        retry(&self.retry, RawEcsError::classify, || self.send(operation, &body)).await.map_err(|r| r.error)
    }

    async fn send(&self, operation: &str, body: &[u8]) -> Result<Value, RawEcsError> {
        let target = format!("{TARGET_PREFIX}.{operation}");
        let url = format!("{}/", self.endpoint);
        let headers = self.sign(operation, &url, &target, body).await?;
        let mut request = self.http.post(&url).body(body.to_vec());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let transport = |e: reqwest::Error| RawEcsError::Transport { operation: operation.to_owned(), detail: e.to_string() };
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(transport)?;
        let json: Value = serde_json::from_str(if text.is_empty() { "{}" } else { &text })
            .map_err(|e| RawEcsError::BadResponse { operation: operation.to_owned(), detail: e.to_string() })?;
        if (200..300).contains(&status) {
            return Ok(json);
        }
        // `__type` may carry a namespace prefix (`com.amazonaws.ecs#ClientException`).
        let code = json.get("__type").and_then(Value::as_str).unwrap_or("UnknownError");
        let code = code.rsplit('#').next().unwrap_or(code).to_owned();
        let message = json.get("message").or_else(|| json.get("Message")).and_then(Value::as_str).unwrap_or_default().to_owned();
        Err(RawEcsError::Service { operation: operation.to_owned(), status, code, message })
    }

    /// The headers of a SigV4-signed JSON 1.1 request.
    async fn sign(&self, operation: &str, url: &str, target: &str, body: &[u8]) -> Result<Vec<(String, String)>, RawEcsError> {
        let fail = |detail: String| RawEcsError::Signing { operation: operation.to_owned(), detail };
        let provider = self.config.credentials_provider().ok_or_else(|| fail("no credentials".into()))?;
        let credentials = provider.provide_credentials().await.map_err(|e| fail(e.to_string()))?;
        let identity = credentials.into();
        let region = self.config.region().map(|r| r.as_ref().to_owned()).unwrap_or_else(|| "us-east-1".into());
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&region)
            .name("ecs")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| fail(e.to_string()))?
            .into();
        let mut headers = vec![("content-type".to_owned(), "application/x-amz-json-1.1".to_owned()), ("x-amz-target".to_owned(), target.to_owned())];
        let signable = SignableRequest::new("POST", url, headers.iter().map(|(k, v)| (k.as_str(), v.as_str())), SignableBody::Bytes(body)).map_err(|e| fail(e.to_string()))?;
        let (instructions, _signature) = sign(signable, &params).map_err(|e| fail(e.to_string()))?.into_parts();
        headers.extend(instructions.headers().map(|(k, v)| (k.to_owned(), v.to_owned())));
        Ok(headers)
    }
}
