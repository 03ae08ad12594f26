//! Tests of `OidcIssuer`: the runner's token contract, signatures verifiable from the JWKS,
//! claims merging, and fault injection.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use testbed::{GITHUB_ISSUER, OidcIssuer, http_client};

async fn request(issuer: &OidcIssuer, audience: Option<&str>, bearer: &str) -> (u16, Value) {
    let mut url = issuer.request_url();
    if let Some(a) = audience {
        url.push_str(&format!("&audience={a}"));
    }
    let resp = http_client()
        .get(url)
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn verify(issuer_jwks: &Value, token: &str, aud: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    let jwk: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(issuer_jwks["keys"][0].clone()).unwrap();
    assert_eq!(header.kid, jwk.common.key_id);
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&[aud]);
    v.set_issuer(&[GITHUB_ISSUER]);
    let from_jwk =
        jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(&jwk).unwrap(), &v).unwrap();
    let pem = DecodingKey::from_rsa_pem(testbed::oidc::TEST_PUBLIC_KEY_PEM.as_bytes()).unwrap();
    jsonwebtoken::decode::<Value>(token, &pem, &v).unwrap();
    from_jwk.claims
}

#[tokio::test]
async fn issues_signed_tokens_like_the_runner() {
    let issuer = OidcIssuer::start(json!({"repository": "acme/api", "environment": "prod"}))
        .await
        .unwrap();
    assert!(issuer.request_url().contains("?api-version=2.0"));
    let (status, body) = request(&issuer, Some("sts.amazonaws.com"), issuer.request_token()).await;
    assert_eq!(status, 200);
    let token = body["value"].as_str().unwrap();
    assert_eq!(body["count"].as_u64().unwrap() as usize, token.len());

    let jwks: Value = http_client()
        .get(format!("{}/.well-known/jwks", issuer.endpoint()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks, issuer.jwks());
    let claims = verify(&jwks, token, "sts.amazonaws.com");
    assert_eq!(claims["sub"], "repo:acme/api:environment:prod");
    assert_eq!(claims["repository_owner"], "acme");
    assert_eq!(claims["ref"], "refs/heads/main");
    assert_eq!(
        claims["exp"].as_u64().unwrap(),
        claims["iat"].as_u64().unwrap() + 300
    );
    for k in [
        "jti",
        "sha",
        "run_id",
        "workflow",
        "event_name",
        "actor",
        "job_workflow_ref",
    ] {
        assert!(claims.get(k).is_some(), "missing {k}");
    }

    // No audience: GitHub's default, https://github.com/<owner>.
    let (_, body) = request(&issuer, None, issuer.request_token()).await;
    let claims = verify(
        &jwks,
        body["value"].as_str().unwrap(),
        "https://github.com/acme",
    );
    assert_eq!(claims["aud"], "https://github.com/acme");

    let discovery: Value = http_client()
        .get(format!(
            "{}/.well-known/openid-configuration",
            issuer.endpoint()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], GITHUB_ISSUER);
    assert_eq!(
        discovery["jwks_uri"],
        format!("{}/.well-known/jwks", issuer.endpoint())
    );
}

#[tokio::test]
async fn bearer_is_required_and_failures_are_injected_in_order() {
    let issuer = OidcIssuer::start(json!({})).await.unwrap();
    assert_eq!(request(&issuer, Some("a"), "wrong").await.0, 401);
    issuer.fail_next(2, 503);
    assert_eq!(
        request(&issuer, Some("a"), issuer.request_token()).await.0,
        503
    );
    assert_eq!(
        request(&issuer, Some("a"), issuer.request_token()).await.0,
        503
    );
    assert_eq!(
        request(&issuer, Some("a"), issuer.request_token()).await.0,
        200
    );
    assert_eq!(issuer.request_count(), 4);
    let seen: Vec<u16> = issuer.requests().iter().map(|r| r.status).collect();
    assert_eq!(seen, [401, 503, 503, 200]);
    assert!(!issuer.requests()[0].authorized);
    assert_eq!(issuer.requests()[1].audience.as_deref(), Some("a"));
}

#[tokio::test]
async fn set_claims_and_mint() {
    let issuer = OidcIssuer::start(json!({"repository": "acme/api"}))
        .await
        .unwrap();
    issuer.set_claims(
        json!({"repository": "acme/web", "event_name": "pull_request", "ref": "refs/pull/7/merge"}),
    );
    let (_, body) = request(&issuer, Some("sts.amazonaws.com"), issuer.request_token()).await;
    let claims = verify(
        &issuer.jwks(),
        body["value"].as_str().unwrap(),
        "sts.amazonaws.com",
    );
    assert_eq!(claims["sub"], "repo:acme/web:pull_request");

    let minted = issuer.mint(json!({"sub": "repo:acme/web:ref:refs/tags/v1", "actor": null}));
    let claims = verify(&issuer.jwks(), &minted, "sts.amazonaws.com");
    assert_eq!(claims["sub"], "repo:acme/web:ref:refs/tags/v1");
    assert_eq!(claims["repository"], "acme/web");
    assert!(claims.get("actor").is_none());
    assert_eq!(issuer.request_count(), 1, "mint is not a request");
}
