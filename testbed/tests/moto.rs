//! Tests of `Moto`: it starts, answers STS/IAM/ECR as documented in `moto.rs`, resets, and its
//! process dies with the handle.

use testbed::moto_api::xml_value;
use testbed::{MOTO_ACCOUNT_ID, Moto, http_client};

async fn assume(
    moto: &Moto,
    role_arn: &str,
    session: &str,
    duration: Option<&str>,
) -> (u16, String) {
    let mut form = vec![
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", "2011-06-15"),
        ("RoleArn", role_arn),
        ("RoleSessionName", session),
        ("WebIdentityToken", "not.even.a-jwt"),
    ];
    if let Some(d) = duration {
        form.push(("DurationSeconds", d));
    }
    // No Authorization header: the SDK sends none for this operation.
    let resp = http_client()
        .post(format!("{}/", moto.endpoint()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(&form).unwrap())
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn sts_assume_role_with_web_identity_accepts_any_token() {
    let moto = Moto::shared().await.unwrap();
    assert!(moto.endpoint().starts_with("http://127.0.0.1:"));
    let (status, xml) = assume(
        moto,
        "arn:aws:iam::123456789012:role/deploy-sts-test",
        "gh-run-1",
        Some("900"),
    )
    .await;
    assert_eq!(status, 200, "{xml}");
    let key = xml_value(&xml, "AccessKeyId").unwrap();
    assert!(key.starts_with("ASIA") && key.len() == 20, "{key}");
    assert_eq!(xml_value(&xml, "SecretAccessKey").unwrap().len(), 40);
    assert!(
        xml_value(&xml, "SessionToken")
            .unwrap()
            .starts_with("FQoGZXIvYXdzE")
    );
    assert!(xml_value(&xml, "Expiration").unwrap().ends_with('Z'));
    assert_eq!(
        xml_value(&xml, "AssumedRoleId").unwrap(),
        "ARO123EXAMPLE123:gh-run-1"
    );
    assert_eq!(
        xml_value(&xml, "Arn").unwrap(),
        "arn:aws:sts::123456789012:assumed-role/deploy-sts-test/gh-run-1"
    );
    assert_eq!(xml_value(&xml, "PackedPolicySize").unwrap(), "6");
    assert!(xml_value(&xml, "SubjectFromWebIdentityToken").is_none());

    // The account comes from the RoleArn, existing or not.
    let (_, other) = assume(moto, "arn:aws:iam::111122223333:role/elsewhere", "s2", None).await;
    assert_eq!(
        xml_value(&other, "Arn").unwrap(),
        "arn:aws:sts::111122223333:assumed-role/elsewhere/s2"
    );
}

#[tokio::test]
async fn iam_helpers_and_ecr_token() {
    let moto = Moto::shared().await.unwrap();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}"#;
    let arn = moto
        .iam_create_role("iam-helper-test-role", trust)
        .await
        .unwrap();
    assert_eq!(arn, "arn:aws:iam::123456789012:role/iam-helper-test-role");
    let provider = moto
        .iam_create_oidc_provider(
            "https://token.actions.githubusercontent.com",
            &["sts.amazonaws.com"],
            &["6938fd4d98bab03faadb97b34396831e3780aea1"],
        )
        .await;
    // Shared server: another run may have created it already.
    match provider {
        Ok(p) => assert_eq!(
            p,
            "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
        ),
        Err(e) => assert!(e.to_string().contains("EntityAlreadyExists"), "{e:#}"),
    }
    let role = moto
        .query(
            "iam",
            "GetRole",
            "2010-05-08",
            &[("RoleName", "iam-helper-test-role")],
        )
        .await
        .unwrap();
    assert!(
        role.contains("sts%3AAssumeRoleWithWebIdentity")
            || role.contains("sts:AssumeRoleWithWebIdentity"),
        "{role}"
    );

    let auth = moto.ecr_authorization().await.unwrap();
    assert_eq!(auth.username, "AWS");
    assert_eq!(auth.password, format!("{MOTO_ACCOUNT_ID}-auth-token"));
    assert_eq!(auth.token, "QVdTOjEyMzQ1Njc4OTAxMi1hdXRoLXRva2Vu");
    assert_eq!(
        auth.proxy_endpoint,
        "https://123456789012.dkr.ecr.us-east-1.amazonaws.com"
    );
    assert_eq!(auth.expires_at, 1420070400.0);
}

#[tokio::test]
async fn own_server_resets_and_dies_on_drop() {
    if std::env::var_os(testbed::moto::MOTO_URL_ENV).is_some() {
        return; // an external server is never reset or stopped
    }
    let moto = Moto::start().await.unwrap();
    moto.iam_create_role("reset-me", "{}").await.unwrap();
    moto.reset().await.unwrap();
    let gone = moto
        .query("iam", "GetRole", "2010-05-08", &[("RoleName", "reset-me")])
        .await;
    assert!(gone.unwrap_err().to_string().contains("NoSuchEntity"));
    let url = format!("{}/moto-api/", moto.endpoint());
    drop(moto);
    assert!(
        http_client().get(url).send().await.is_err(),
        "moto still answers after drop"
    );
}
