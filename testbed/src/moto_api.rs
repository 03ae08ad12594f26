//! Raw AWS-protocol calls against moto, for tests that must set up state with services the main
//! crate has no SDK for (IAM roles and OIDC providers) or that want ECR's registry password.
//! Requests carry a dummy SigV4 `Authorization` header: moto routes on its credential scope and
//! does not check the signature.

use anyhow::{Context, Result, bail};
use base64::Engine;
use serde_json::Value;

use crate::moto::Moto;
use crate::net::http_client;

/// The access key in the dummy signature; moto maps it to its default account.
pub const DUMMY_ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
/// The region of requests that name none (`Moto::json`, `moto_json`).
pub const DEFAULT_REGION: &str = "us-east-1";

/// ECR's registry login as moto hands it out.
#[derive(Debug, Clone, PartialEq)]
pub struct EcrAuthorization {
    /// The raw `authorizationToken`: base64 of `user:password`.
    pub token: String,
    /// Always `AWS`.
    pub username: String,
    /// `<registry id>-auth-token` in moto.
    pub password: String,
    /// `https://<account>.dkr.ecr.<region>.amazonaws.com`.
    pub proxy_endpoint: String,
    /// Unix seconds; moto always says 1420070400.
    pub expires_at: f64,
}

/// The password moto's ECR gives for registry (account) `account_id`.
pub fn moto_ecr_password(account_id: &str) -> String {
    format!("{account_id}-auth-token")
}

/// A dummy SigV4 `Authorization` value naming `service`, signed by `access_key`.
pub fn dummy_authorization(access_key: &str, service: &str) -> String {
    dummy_authorization_in(access_key, DEFAULT_REGION, service)
}

/// The same, scoped to `region` (moto keeps one backend per account and region).
pub fn dummy_authorization_in(access_key: &str, region: &str, service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential={access_key}/20260101/{region}/{service}/aws4_request, \
         SignedHeaders=host, Signature=0"
    )
}

/// The text of the first `<tag>...</tag>` in `xml`.
pub fn xml_value<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(&xml[start..end])
}

impl Moto {
    /// POSTs an AWS query-protocol request (`Action`, `Version`, `params`) for `service` (the
    /// signing name: `iam`, `sts`, `elasticloadbalancing`...) and returns the XML body; a
    /// non-2xx answer is an error carrying the body.
    pub async fn query(
        &self,
        service: &str,
        action: &str,
        version: &str,
        params: &[(&str, &str)],
    ) -> Result<String> {
        let mut form: Vec<(&str, &str)> = vec![("Action", action), ("Version", version)];
        form.extend_from_slice(params);
        let body = serde_urlencoded::to_string(&form)?;
        let resp = http_client()
            .post(format!("{}/", self.endpoint))
            .header(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .header(
                "authorization",
                dummy_authorization(DUMMY_ACCESS_KEY, service),
            )
            .body(body)
            .send()
            .await
            .with_context(|| format!("moto {service} {action}"))?;
        let status = resp.status();
        let text = resp.text().await?;
        if !status.is_success() {
            bail!("moto {service} {action} answered {status}: {text}");
        }
        Ok(text)
    }

    /// POSTs an AWS JSON-protocol (1.1) request, e.g. `json("ecr",
    /// "AmazonEC2ContainerRegistry_V20150921.CreateRepository", &body)`.
    pub async fn json(&self, service: &str, target: &str, body: &Value) -> Result<Value> {
        moto_json(&self.endpoint, service, target, body).await
    }

    /// `json` in `region`.
    pub async fn json_in(
        &self,
        region: &str,
        service: &str,
        target: &str,
        body: &Value,
    ) -> Result<Value> {
        moto_json_in(&self.endpoint, region, service, target, body).await
    }

    /// Queues exact `DescribeImageScanFindings` answers in `region` (moto's
    /// `/moto-api/static/ecr/scan-finding-results`): each result is the whole response body and
    /// applies to the image its `repositoryName` and `imageId` name, once that image has been
    /// scanned (`StartImageScan`); until then moto answers `ScanNotFoundException`.
    pub async fn ecr_scan_results(&self, region: &str, results: Vec<Value>) -> Result<()> {
        let body = serde_json::json!({ "results": results, "region": region });
        let resp = http_client()
            .post(format!(
                "{}/moto-api/static/ecr/scan-finding-results",
                self.endpoint
            ))
            .json(&body)
            .send()
            .await
            .context("moto scan-finding-results")?;
        if !resp.status().is_success() {
            bail!(
                "moto scan-finding-results answered {}: {}",
                resp.status(),
                resp.text().await?
            );
        }
        Ok(())
    }

    /// Creates IAM role `name` with trust policy `trust_policy_json`; returns its ARN
    /// (`arn:aws:iam::123456789012:role/<name>`).
    pub async fn iam_create_role(&self, name: &str, trust_policy_json: &str) -> Result<String> {
        let xml = self
            .query(
                "iam",
                "CreateRole",
                "2010-05-08",
                &[
                    ("RoleName", name),
                    ("AssumeRolePolicyDocument", trust_policy_json),
                ],
            )
            .await?;
        xml_value(&xml, "Arn")
            .map(str::to_owned)
            .with_context(|| format!("no <Arn> in CreateRole answer: {xml}"))
    }

    /// Creates an IAM OIDC provider for `url` (e.g. `https://token.actions.githubusercontent.com`);
    /// returns its ARN (`arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com`).
    pub async fn iam_create_oidc_provider(
        &self,
        url: &str,
        client_ids: &[&str],
        thumbprints: &[&str],
    ) -> Result<String> {
        let mut owned: Vec<(String, String)> = vec![("Url".into(), url.into())];
        for (i, id) in client_ids.iter().enumerate() {
            owned.push((format!("ClientIDList.member.{}", i + 1), (*id).into()));
        }
        for (i, t) in thumbprints.iter().enumerate() {
            owned.push((format!("ThumbprintList.member.{}", i + 1), (*t).into()));
        }
        let params: Vec<(&str, &str)> = owned
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let xml = self
            .query("iam", "CreateOpenIDConnectProvider", "2010-05-08", &params)
            .await?;
        xml_value(&xml, "OpenIDConnectProviderArn")
            .map(str::to_owned)
            .with_context(|| format!("no <OpenIDConnectProviderArn> in answer: {xml}"))
    }

    /// ECR `GetAuthorizationToken` for moto's default account, decoded.
    pub async fn ecr_authorization(&self) -> Result<EcrAuthorization> {
        let v = self
            .json(
                "ecr",
                "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken",
                &serde_json::json!({}),
            )
            .await?;
        let data = &v["authorizationData"][0];
        let token = data["authorizationToken"]
            .as_str()
            .context("no authorizationToken")?
            .to_owned();
        let decoded = base64::engine::general_purpose::STANDARD.decode(&token)?;
        let decoded = String::from_utf8(decoded)?;
        let (username, password) = decoded
            .split_once(':')
            .context("authorizationToken is not user:password")?;
        Ok(EcrAuthorization {
            username: username.to_owned(),
            password: password.to_owned(),
            proxy_endpoint: data["proxyEndpoint"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            expires_at: data["expiresAt"].as_f64().unwrap_or_default(),
            token,
        })
    }
}

/// An AWS JSON-protocol (1.1) request to the moto server at `endpoint` (see [`Moto::json`]); for
/// tasks that outlive a borrow of the `Moto`.
pub async fn moto_json(endpoint: &str, service: &str, target: &str, body: &Value) -> Result<Value> {
    moto_json_in(endpoint, DEFAULT_REGION, service, target, body).await
}

/// `moto_json` in `region`.
pub async fn moto_json_in(
    endpoint: &str,
    region: &str,
    service: &str,
    target: &str,
    body: &Value,
) -> Result<Value> {
    let resp = http_client()
        .post(format!("{endpoint}/"))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", target)
        .header(
            "authorization",
            dummy_authorization_in(DUMMY_ACCESS_KEY, region, service),
        )
        .body(body.to_string())
        .send()
        .await
        .with_context(|| format!("moto {target}"))?;
    let status = resp.status();
    let text = resp.text().await?;
    if !status.is_success() {
        bail!("moto {target} answered {status}: {text}");
    }
    serde_json::from_str(&text).with_context(|| format!("moto {target} body: {text}"))
}
