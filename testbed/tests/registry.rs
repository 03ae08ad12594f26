//! Tests of `Registry`: basic auth is enforced, anonymous is open, and moto's ECR login works.

use base64::Engine;
use testbed::{Moto, Registry, http_client};

async fn status(url: &str, auth: Option<(&str, &str)>) -> u16 {
    let mut req = http_client().get(url);
    if let Some((u, p)) = auth {
        req = req.basic_auth(u, Some(p));
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn basic_auth_is_required() {
    let reg = Registry::start("alice", "s3cret").await.unwrap();
    assert_eq!(reg.endpoint(), format!("http://{}", reg.host()));
    let v2 = format!("{}/v2/", reg.endpoint());
    assert_eq!(status(&v2, None).await, 401);
    assert_eq!(status(&v2, Some(("alice", "wrong"))).await, 401);
    assert_eq!(status(&v2, Some(("alice", "s3cret"))).await, 200);
    let storage = reg.storage_dir();
    assert!(storage.is_dir());
    drop(reg);
    assert!(!storage.exists(), "temp dir left behind");
    assert!(
        http_client().get(&v2).send().await.is_err(),
        "registry still answers after drop"
    );
}

#[tokio::test]
async fn anonymous_is_open() {
    let reg = Registry::start_anonymous().await.unwrap();
    assert_eq!(status(&format!("{}/v2/", reg.endpoint()), None).await, 200);
    assert!(reg.credentials().is_none());
}

#[tokio::test]
async fn moto_ecr_login_works_against_it() {
    let moto = Moto::shared().await.unwrap();
    let reg = Registry::start_for_moto_ecr(moto).await.unwrap();
    let auth = moto.ecr_authorization().await.unwrap();
    // The ECR token, used as Docker clients do: `Authorization: Basic <token>`.
    let resp = http_client()
        .get(format!("{}/v2/", reg.endpoint()))
        .header("authorization", format!("Basic {}", auth.token))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&auth.token)
        .unwrap();
    assert_eq!(decoded, b"AWS:123456789012-auth-token");

    let other = Registry::start_for_ecr_account("111122223333")
        .await
        .unwrap();
    assert_eq!(
        other.credentials(),
        Some(("AWS", "111122223333-auth-token"))
    );
}
