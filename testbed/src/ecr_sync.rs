//! `EcrSync`: makes moto's ECR API see what is pushed to the registry, so that moto + registry
//! behave as one ECR for the calls that look at images (`DescribeImages`,
//! `DescribeImageScanFindings`). docker-registry posts a notification for every manifest push
//! (its `notifications:` config); this listener fetches the manifest the event names and
//! `PutImage`s the same bytes into moto (in the region it was started for), then starts a scan
//! when ECR would scan the push by itself: the repository scans on push, or a rule of the
//! registry's scanning configuration covers the repository (basic `SCAN_ON_PUSH`; enhanced
//! `SCAN_ON_PUSH` or `CONTINUOUS_SCAN`, where the scan stands for Amazon Inspector's). moto scans
//! only on `StartImageScan`; its default findings are one HIGH, CVE-9999-9999, and
//! `Moto::ecr_scan_results` replaces them. Delivery is asynchronous, as ECR's own scan is: tests
//! wait with `wait_for`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Result, bail};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use base64::Engine;
use serde_json::{Value, json};

use crate::moto_api::moto_json_in;
use crate::net::http_client;

const ECR_TARGET: &str = "AmazonEC2ContainerRegistry_V20150921";

/// Media types of manifests and indexes: everything else a registry notifies about is a blob.
const MANIFEST_TYPES: [&str; 4] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

#[derive(Clone)]
struct Shared {
    moto: String,
    region: String,
    basic_auth: Option<String>,
    synced: Arc<Mutex<Vec<(String, String, String)>>>,
    errors: Arc<Mutex<Vec<String>>>,
}

/// The notification listener; dropping it stops it.
pub struct EcrSync {
    url: String,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for EcrSync {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl EcrSync {
    /// Listen on a free loopback port; `credentials` log in to the registry to read manifests;
    /// images go to moto's ECR in `region`.
    pub async fn start(
        moto_endpoint: &str,
        region: &str,
        credentials: Option<(&str, &str)>,
    ) -> Result<EcrSync> {
        let basic_auth = credentials.map(|(u, p)| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        });
        let shared = Shared {
            moto: moto_endpoint.to_owned(),
            region: region.to_owned(),
            basic_auth,
            synced: Arc::default(),
            errors: Arc::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/events", listener.local_addr()?);
        let app = Router::new()
            .route("/events", post(events))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(EcrSync { url, shared, task })
    }

    /// The URL to put in the registry's `notifications.endpoints[].url`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `(repository, tag, digest)` of every manifest put into moto so far.
    pub fn synced(&self) -> Vec<(String, String, String)> {
        self.shared.synced.lock().unwrap().clone()
    }

    /// Wait (bounded) until `repository:tag` is in moto; errors name what went wrong meanwhile.
    pub async fn wait_for(&self, repository: &str, tag: &str, limit: Duration) -> Result<String> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some((_, _, digest)) = self
                .synced()
                .into_iter()
                .find(|(r, t, _)| r == repository && t == tag)
            {
                return Ok(digest);
            }
            if tokio::time::Instant::now() >= deadline {
                bail!(
                    "{repository}:{tag} did not reach moto within {limit:?}; sync errors: {:?}",
                    self.shared.errors.lock().unwrap()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn events(State(shared): State<Shared>, body: Bytes) -> StatusCode {
    let Ok(envelope) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    for event in envelope["events"].as_array().into_iter().flatten() {
        let target = &event["target"];
        let media_type = target["mediaType"].as_str().unwrap_or_default();
        let (Some(tag), Some(url)) = (target["tag"].as_str(), target["url"].as_str()) else {
            continue;
        };
        if event["action"] != "push" || !MANIFEST_TYPES.contains(&media_type) {
            continue;
        }
        let repository = target["repository"].as_str().unwrap_or_default();
        let digest = target["digest"].as_str().unwrap_or_default();
        if let Err(e) = sync_one(&shared, repository, tag, digest, url, media_type).await {
            shared
                .errors
                .lock()
                .unwrap()
                .push(format!("{repository}:{tag}: {e:#}"));
        }
    }
    // Always 200: a failed sync is recorded for `wait_for`, not retried by the registry forever.
    StatusCode::OK
}

async fn sync_one(
    shared: &Shared,
    repository: &str,
    tag: &str,
    digest: &str,
    url: &str,
    media_type: &str,
) -> Result<()> {
    let mut request = http_client().get(url).header("accept", media_type);
    if let Some(auth) = &shared.basic_auth {
        request = request.header("authorization", auth);
    }
    let response = request.send().await?;
    if !response.status().is_success() {
        bail!("GET {url} answered {}", response.status());
    }
    let manifest = response.text().await?;
    // moto invents a digest unless given one; ECR's is the manifest's sha256, as the registry's.
    let put = json!({"repositoryName": repository, "imageManifest": manifest, "imageTag": tag, "imageManifestMediaType": media_type, "imageDigest": digest});
    let ecr = |action: &str, body: Value| {
        let target = format!("{ECR_TARGET}.{action}");
        async move { moto_json_in(&shared.moto, &shared.region, "ecr", &target, &body).await }
    };
    let answer = ecr("PutImage", put).await?;
    let digest = answer["image"]["imageId"]["imageDigest"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let described = ecr(
        "DescribeRepositories",
        json!({"repositoryNames": [repository]}),
    )
    .await?;
    let registry = ecr("GetRegistryScanningConfiguration", json!({})).await?;
    let on_push = described["repositories"][0]["imageScanningConfiguration"]["scanOnPush"] == true;
    if on_push || rule_scans_pushes(&registry["scanningConfiguration"], repository) {
        // A client may have started it first (one scan per image a day): that is the scan.
        if let Err(e) = ecr(
            "StartImageScan",
            json!({"repositoryName": repository, "imageId": {"imageDigest": digest}}),
        )
        .await
            && !format!("{e:#}").contains("LimitExceededException")
        {
            return Err(e);
        }
    }
    shared
        .synced
        .lock()
        .unwrap()
        .push((repository.to_owned(), tag.to_owned(), digest));
    Ok(())
}

/// Whether a rule of a registry scanning configuration (`{"scanType", "rules": [{"scanFrequency",
/// "repositoryFilters": [{"filter"}]}]}`) has ECR scan a push to `repository` by itself.
fn rule_scans_pushes(configuration: &Value, repository: &str) -> bool {
    configuration["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|rule| {
            matches!(
                rule["scanFrequency"].as_str(),
                Some("SCAN_ON_PUSH" | "CONTINUOUS_SCAN")
            ) && rule["repositoryFilters"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|f| wildcard(f["filter"].as_str().unwrap_or_default(), repository))
        })
}

/// ECR's repository filters: `*` matches any run of characters.
fn wildcard(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => text.strip_prefix(head).is_some_and(|tail| {
            (0..=tail.len())
                .filter(|i| tail.is_char_boundary(*i))
                .any(|i| wildcard(rest, &tail[i..]))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_scan_the_repositories_their_filters_match() {
        let config = json!({"scanType": "ENHANCED", "rules": [
            {"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{"filter": "team-*", "filterType": "WILDCARD"}]},
            {"scanFrequency": "MANUAL", "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}]},
        ]});
        assert!(rule_scans_pushes(&config, "team-api"));
        assert!(!rule_scans_pushes(&config, "other"));
        assert!(!rule_scans_pushes(
            &json!({"scanType": "BASIC", "rules": []}),
            "team-api"
        ));
        for (pattern, text, expected) in [
            ("a*c", "abc", true),
            ("a*c", "ab", false),
            ("*", "", true),
            ("x*y*z", "xzy", false),
            ("exact", "exact", true),
        ] {
            assert_eq!(wildcard(pattern, text), expected, "{pattern} ~ {text}");
        }
    }
}
