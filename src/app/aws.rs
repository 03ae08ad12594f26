//! The AWS SDK configuration the stages after identity share: the session's credentials and
//! region, with the standard endpoint overrides (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`)
//! that aws-config reads from the environment.

use aws_config::SdkConfig;

use super::authenticate::Session;

pub async fn sdk_config(session: &Session) -> SdkConfig {
    let c = &session.credentials;
    let credentials = aws_credential_types::Credentials::new(
        c.access_key_id.expose(),
        c.secret_access_key.expose(),
        c.session_token.as_ref().map(|t| t.expose().to_owned()),
        c.expiration,
        "oidc-ecs-deploy",
    );
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(session.region.clone()))
        .credentials_provider(credentials)
        .load()
        .await
}
