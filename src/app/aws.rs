//! The AWS SDK configuration the stages after identity share: the session's credentials and
//! region, with the standard endpoint overrides (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`)
//! that aws-config reads from the environment. An assumed role's credentials are renewed before
//! they expire (`refresh`); the environment's are used as they are.

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_config::identity::IdentityCache;

use super::authenticate::Session;
use super::refresh;

pub async fn sdk_config(session: &Session) -> SdkConfig {
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(session.region.clone()))
        // One HTTP client for every stage's SDK clients: one pool, roots read once (`crate::tls`).
        .http_client(crate::tls::sdk_http_client())
        .timeout_config(crate::retry::sdk_timeouts());
    let loader = match &session.renewal {
        Some(renewal) => loader
            .credentials_provider(refresh::RenewingCredentials::new(
                &session.credentials,
                Arc::new(renewal.clone()),
            ))
            // The SDK's default buffer (10 s) is too short for a renewal. The cache asks again
            // `buffer` minus a jitter of up to half the buffer before expiry; twice the renewal
            // margin makes sure it asks by the time the provider renews, so the SDK clients switch
            // to the new credentials together with the raw ECS client (which asks every time).
            // Until then the provider answers with what it holds.
            .identity_cache(
                IdentityCache::lazy()
                    .buffer_time(2 * refresh::RENEW_BEFORE)
                    .load_timeout(refresh::RENEW_TIMEOUT)
                    .build(),
            ),
        None => loader.credentials_provider(refresh::sdk_credentials(
            &session.credentials,
            refresh::STATIC,
        )),
    };
    loader.load().await
}
