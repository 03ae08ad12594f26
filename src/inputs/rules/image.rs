//! The image inputs: where the image comes from (`image-source`), the repository and tags it is
//! pushed as, the registry, and the scan gate's threshold and wait.

use std::time::Duration;

use super::{Validator, split_list};
use crate::image::push::{valid_repository, valid_tag};
use crate::image::{SourceError, SourceRef};
use crate::inputs::ImageConfig;

/// Where the image to push comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// An OCI layout (directory or tar) or a `docker save` archive on disk.
    Local(SourceRef),
    DockerDaemon {
        name: String,
    },
    /// Promote a tag already in the repository.
    Ecr {
        tag: String,
    },
}

fn parse_image_source(text: &str) -> Result<ImageSource, String> {
    match text.split_once(':') {
        Some(("docker-daemon", "")) | Some(("ecr", "")) => {
            Err(format!("`{text}` names nothing after the colon"))
        }
        Some(("docker-daemon", name)) => Ok(ImageSource::DockerDaemon {
            name: name.to_owned(),
        }),
        Some(("ecr", tag)) if valid_tag(tag) => Ok(ImageSource::Ecr {
            tag: tag.to_owned(),
        }),
        Some(("ecr", tag)) => Err(format!("`{tag}` is not a valid image tag")),
        _ => SourceRef::parse(text)
            .map(ImageSource::Local)
            .map_err(|e| match e {
                SourceError::BadReference { reason, .. } => reason,
                other => other.to_string(),
            }),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

fn parse_severity(text: &str) -> Option<Severity> {
    Some(match text.to_ascii_uppercase().as_str() {
        "INFORMATIONAL" => Severity::Informational,
        "LOW" => Severity::Low,
        "MEDIUM" => Severity::Medium,
        "HIGH" => Severity::High,
        "CRITICAL" => Severity::Critical,
        _ => return None,
    })
}

impl Validator<'_> {
    pub fn image(&mut self) -> Option<Option<ImageConfig>> {
        let before = self.problems.len();
        let create_repository = self.boolean("create-repository");
        let scan_threshold = self.get("scan-severity-threshold").and_then(|t| {
            let s = parse_severity(t);
            if s.is_none() {
                self.problem(
                    "scan-severity-threshold",
                    format!("`{t}` is not a severity"),
                    "one of INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL",
                );
            }
            s
        });
        let scan_wait_minutes = self
            .integer("scan-wait-minutes", 1..=60, "minutes")
            .unwrap_or(10);
        // `rollout()` reads `dry-run` as well and reports a malformed value, once.
        let dry_run = self
            .get("dry-run")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let registry_endpoint = self.get("registry-endpoint").map(str::to_owned);
        if let Some(e) = registry_endpoint
            .as_deref()
            .filter(|e| e.contains(char::is_whitespace) || e.is_empty())
        {
            self.problem(
                "registry-endpoint",
                format!("`{e}` is not a host or URL"),
                "a registry URL such as `https://123456789012.dkr.ecr.us-east-1.amazonaws.com`",
            );
        }
        let Some(source_text) = self.get("image-source") else {
            self.only_with(
                &[
                    "repository",
                    "image-tag",
                    "image-tags",
                    "registry-endpoint",
                    "scan-severity-threshold",
                ],
                "is set but `image-source` is empty, so nothing would be pushed",
                "`image-source` set as well, or this input removed",
            );
            return (self.problems.len() == before).then_some(None);
        };
        let source = parse_image_source(source_text)
            .map_err(|why| self.problem("image-source", why, "`oci:DIR[:REF]`, `docker-archive:FILE`, `docker-daemon:NAME[:TAG]` or `ecr:TAG`"))
            .ok();
        if let Some(ImageSource::Local(local)) = &source
            && !local.path().exists()
        {
            let cwd = std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default();
            self.problem(
                "image-source",
                format!(
                    "`{}` does not exist (working directory: {cwd})",
                    local.path().display()
                ),
                "the path of an OCI layout (directory or tar) or a `docker save` archive",
            );
        }
        let repository = self
            .required("repository", "when `image-source` is set")
            .map(str::to_owned);
        if let Some(r) = repository.as_deref().filter(|r| !valid_repository(r)) {
            self.problem(
                "repository",
                format!("`{r}` is not a valid ECR repository name"),
                "2-256 lowercase letters, digits and `._-/`, e.g. `payments/api`",
            );
        }
        let primary = self
            .get("image-tag")
            .or(self.env.non_empty("GITHUB_SHA"))
            .map(str::to_owned);
        if primary.is_none() {
            self.problem(
                "image-tag",
                "is empty and GITHUB_SHA is not set",
                "a tag, e.g. the commit SHA",
            );
        }
        let mut tags: Vec<String> = primary.into_iter().collect();
        tags.extend(self.get("image-tags").map(split_list).unwrap_or_default());
        for tag in tags
            .iter()
            .filter(|t| !valid_tag(t))
            .cloned()
            .collect::<Vec<_>>()
        {
            self.problem(
                "image-tag",
                format!("`{tag}` is not a valid image tag"),
                "up to 128 characters of letters, digits and `_.-`, not starting with `.` or `-`",
            );
        }
        // A tag named twice (image-tag and again in image-tags) is pushed and reported once.
        let mut seen = std::collections::HashSet::new();
        tags.retain(|t| seen.insert(t.clone()));
        if self.problems.len() > before {
            return None;
        }
        Some(Some(ImageConfig {
            source: source?,
            repository: repository?,
            tags,
            registry_endpoint,
            create_repository,
            scan_threshold,
            scan_wait: Duration::from_secs(scan_wait_minutes * 60),
            dry_run,
        }))
    }
}
