//! Moto + docker-registry as one ECR: the `authorizationToken` that moto's ECR
//! `GetAuthorizationToken` returns, decoded to `AWS:<password>` as the action will do, logs the
//! push in to the registry (Basic auth, user `AWS`), and the pushed manifest comes back by tag.

#[path = "image_fixtures.rs"]
mod fixtures;

use base64::Engine as _;
use fixtures::*;
use oidc_ecs_deploy::image::{Credentials, Digest, PushOptions, RegistryClient, SourceRef, push};
use testbed::{Moto, Registry};

#[tokio::test]
async fn push_with_the_ecr_authorization_token() {
    init_logs();
    let moto = Moto::shared().await.unwrap();
    let reg = Registry::start_for_moto_ecr(moto).await.unwrap();
    let auth = moto.ecr_authorization().await.unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&auth.token)
        .unwrap();
    let (user, password) = std::str::from_utf8(&decoded)
        .unwrap()
        .split_once(':')
        .unwrap();
    assert_eq!(user, "AWS");

    let mut layout = OciLayout::create();
    let img = layout.image(&[20_000, 30_000], "amd64");
    layout.add_entry(&img.manifest, None);
    let image = SourceRef::parse(&format!("oci:{}", layout.path().display()))
        .unwrap()
        .open()
        .await
        .unwrap();
    let client =
        RegistryClient::new(reg.endpoint(), Some(Credentials::new(user, password))).unwrap();
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let report = push(
        &image,
        &client,
        "service/web",
        &[sha.into()],
        &PushOptions::default(),
    )
    .await
    .unwrap();
    let (status, _, bytes) = fetch_manifest(&reg, "service/web", sha).await;
    assert_eq!(status, 200);
    assert_eq!(Digest::of(&bytes), report.manifest_digest);
    assert_eq!(
        client.manifest_digest("service/web", sha).await.unwrap(),
        Some(report.manifest_digest.clone())
    );
}
