//! The report inputs: the GitHub token a Deployment is reported with, and the environment and
//! URL it names.

use super::Validator;
use crate::inputs::ReportConfig;
use crate::secret::Secret;

impl Validator<'_> {
    pub fn report(&mut self) -> Option<ReportConfig> {
        let before = self.problems.len();
        let environment_url = self.http_url("environment-url", "https://shop.example.com");
        let github_token = self.get("github-token").map(Secret::new);
        if github_token.is_none() {
            self.only_with(
                &["deployment-environment", "environment-url"],
                "is set but `github-token` is empty, so no GitHub Deployment is reported",
                "`github-token: ${{ github.token }}` (with `permissions: deployments: write`), or this input removed",
            );
        }
        if self.problems.len() > before {
            return None;
        }
        Some(ReportConfig {
            github_token,
            deployment_environment: self.get("deployment-environment").map(str::to_owned),
            environment_url,
        })
    }
}
