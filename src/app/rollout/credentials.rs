//! Before acting: when the credentials would expire before the wait (and a rollback) could
//! end, an assumed role's are renewed on the way (say so); credentials that cannot be renewed
//! get a warning, since then neither could finish.

use aws_config::SdkConfig;

use crate::app::Console;
use crate::inputs::RolloutConfig;
use crate::rollout::rollback::ROLLBACK_WAIT;
use crate::runner::Annotation;

/// Say it (info for renewable credentials, a warning otherwise) when the credentials expire
/// before `wait-for-minutes` plus a rollback could end.
pub async fn warn_if_they_expire(aws: &SdkConfig, cfg: &RolloutConfig, console: &mut Console) {
    use aws_credential_types::provider::ProvideCredentials;
    let Some(provider) = aws.credentials_provider() else {
        return;
    };
    let Ok(credentials) = provider.provide_credentials().await else {
        return;
    };
    let Some(expiry) = credentials.expiry() else {
        return;
    };
    let needed = std::time::SystemTime::now() + cfg.wait + ROLLBACK_WAIT;
    if expiry < needed {
        let left = expiry
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default()
            .as_secs()
            / 60;
        if credentials
            .get_property::<crate::app::refresh::Renewable>()
            .is_some()
        {
            tracing::info!(
                "the AWS credentials expire in {left} minutes, before the wait could end: they will be renewed (a fresh OIDC token, the role assumed again) shortly before they expire"
            );
            return;
        }
        let text = format!(
            "the AWS credentials expire in {left} minutes, before `wait-for-minutes` ({}) plus a rollback ({} minutes) could end; raise `role-duration-seconds` or lower `wait-for-minutes`",
            cfg.wait.as_secs() / 60,
            ROLLBACK_WAIT.as_secs() / 60
        );
        let _ = console
            .workflow
            .warning(&text, &Annotation::titled("Rollout"));
    }
}
