//! moto + registry as one ECR: a manifest pushed to the registry reaches moto's ECR API
//! (PutImage with the same bytes, so the same digest), and is scanned when the repository scans
//! on push.

use serde_json::json;
use testbed::{Moto, Registry, http_client};

/// The config blob `{}` and its sha256 (`printf '{}' | sha256sum`): a fixed blob needs no
/// hashing dependency here.
const CONFIG: &[u8] = b"{}";
const CONFIG_DIGEST: &str =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

const ECR: &str = "AmazonEC2ContainerRegistry_V20150921";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_manifest_reaches_moto_and_is_scanned() {
    let moto = Moto::shared().await.unwrap();
    let repo = format!("sync-{}", std::process::id());
    moto.json(
        "ecr",
        &format!("{ECR}.CreateRepository"),
        &json!({"repositoryName": repo, "imageScanningConfiguration": {"scanOnPush": true}}),
    )
    .await
    .unwrap();
    let registry = Registry::start_synced_with_moto(moto).await.unwrap();
    let (user, password) = registry.credentials().unwrap();
    let http = http_client();
    let base = registry.endpoint();

    let digest = CONFIG_DIGEST;
    let start = http
        .post(format!("{base}/v2/{repo}/blobs/uploads/"))
        .basic_auth(user, Some(password))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 202);
    let location = start.headers()["location"].to_str().unwrap().to_owned();
    let sep = if location.contains('?') { '&' } else { '?' };
    let put = http
        .put(format!("{location}{sep}digest={digest}"))
        .basic_auth(user, Some(password))
        .body(CONFIG.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201, "{}", put.text().await.unwrap());

    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest, "size": 2}, "layers": []})
    .to_string();
    let put = http
        .put(format!("{base}/v2/{repo}/manifests/v1"))
        .basic_auth(user, Some(password))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    let pushed = put.headers()["docker-content-digest"]
        .to_str()
        .unwrap()
        .to_owned();

    let synced = registry
        .ecr_sync()
        .unwrap()
        .wait_for(&repo, "v1", std::time::Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(synced, pushed, "moto must hold the same manifest bytes");
    let findings = moto
        .json(
            "ecr",
            &format!("{ECR}.DescribeImageScanFindings"),
            &json!({"repositoryName": repo, "imageId": {"imageDigest": pushed}}),
        )
        .await
        .unwrap();
    assert_eq!(
        findings["imageScanStatus"]["status"], "COMPLETE",
        "{findings}"
    );
    assert_eq!(
        findings["imageScanFindings"]["findings"][0]["severity"], "HIGH",
        "{findings}"
    );
}
