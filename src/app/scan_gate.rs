//! The scan gate as a run performs it. Before anything is uploaded: which scanner covers the
//! repository, refusing at once when none ever will (enhanced scanning whose rules leave the
//! repository out). After the push: wait for the verdict (`image::scan` starts a basic scan
//! when the repository does not scan on push) and turn it into a pass or a refusal whose hint
//! works for that case. It fails closed: no verdict within `scan-wait-minutes` is a refusal.

use crate::failure::{Category, Failure};
use crate::image::Digest;
use crate::image::ecr::RepositoryInfo;
use crate::image::scan::{self, Judgement, ScanOutcome, ScanWait, Scanner};
use crate::inputs::{ImageConfig, Severity};

use super::push_image::ecr_failure;

/// Findings shown in a refusal; the rest are counted.
const SHOWN: usize = 5;

pub fn threshold_name(threshold: Severity) -> String {
    format!("{threshold:?}").to_ascii_uppercase()
}

/// Decide, before any upload: the scanner, or a refusal when no scan of the image would run.
pub async fn decide(
    client: &aws_sdk_ecr::Client,
    repository: &RepositoryInfo,
) -> Result<Scanner, Failure> {
    let scanner = scan::scanner(client, repository).await.map_err(|e| {
        let failure = ecr_failure(&e);
        if e.code() == Some("AccessDeniedException") { failure.hint("the scan gate reads the registry's scanning configuration: allow `ecr:GetRegistryScanningConfiguration` (and `ecr:StartImageScan`, `ecr:DescribeImageScanFindings` on the repository)") } else { failure }
    })?;
    if scanner == (Scanner::Enhanced { covered: false }) {
        let name = &repository.name;
        return Err(Failure::new(Category::Refused, format!("the scan gate cannot pass: the registry uses enhanced scanning (Amazon Inspector) and none of its rules covers repository `{name}`, so no scan of this image would ever run"))
            .detail("nothing was uploaded")
            .hint(format!("add a rule for the repository to the registry's scanning configuration (it replaces the rules there: list them all), e.g.\n  aws ecr put-registry-scanning-configuration --scan-type ENHANCED --rules '[{{\"scanFrequency\":\"SCAN_ON_PUSH\",\"repositoryFilters\":[{{\"filter\":\"{name}\",\"filterType\":\"WILDCARD\"}}]}}]'\nor remove `scan-severity-threshold`")));
    }
    Ok(scanner)
}

/// Wait for the verdict on `digest`; `Ok` carries the line for the job summary.
pub async fn wait(
    client: &aws_sdk_ecr::Client,
    cfg: &ImageConfig,
    digest: &Digest,
    scanner: Scanner,
    threshold: &str,
    fresh_push: bool,
) -> Result<String, Failure> {
    let wait = ScanWait {
        limit: cfg.scan_wait,
        fresh_push,
    };
    let (outcome, activity) = scan::wait_and_judge(
        client,
        &cfg.repository,
        &digest.to_string(),
        scanner,
        threshold,
        wait,
    )
    .await
    .map_err(|e| ecr_failure(&e))?;
    let started = if activity.started {
        "; started by this run"
    } else {
        ""
    };
    match outcome {
        ScanOutcome::Complete(judgement) if judgement.passes() => {
            tracing::info!(
                "scan complete: nothing at or above {threshold} ({}; {scanner}{started})",
                read(&judgement)
            );
            Ok(format!(
                "passed: nothing at or above {threshold} ({}; {scanner}{started})",
                read(&judgement)
            ))
        }
        ScanOutcome::Complete(judgement) => Err(refusal(&judgement, threshold, scanner)),
        ScanOutcome::Pending { status } => {
            let minutes = cfg.scan_wait.as_secs() / 60;
            let unit = if minutes == 1 { "minute" } else { "minutes" };
            let mut failure = Failure::new(
                Category::Refused,
                format!("the image scan gave no verdict within {minutes} {unit} (status {status})"),
            )
            .detail(format!("scanner: {scanner}{started}"));
            if activity.started {
                failure = failure.detail("the scan continues in ECR");
            }
            Err(failure.detail(format!("the image is in {} as {digest}, but no output names it", cfg.repository)).hint(format!(
                "the gate fails closed. Re-run the job once the scan has finished: the re-run uploads nothing and judges that scan.\nOr raise `scan-wait-minutes` (now {minutes}). The scan's state: aws ecr describe-image-scan-findings --repository-name {} --image-id imageDigest={digest}",
                cfg.repository
            )))
        }
        ScanOutcome::Unavailable {
            status,
            description,
        } => {
            let hint = match status.as_str() {
                "UNSUPPORTED_IMAGE" => {
                    "ECR's basic scanning cannot scan this image's operating system or packages: enhanced scanning (Amazon Inspector) covers more;\nor remove `scan-severity-threshold` for this image"
                }
                "SCAN_ELIGIBILITY_EXPIRED" => {
                    "Amazon Inspector no longer rescans this image (its re-scan duration ran out): push a rebuilt image, or lengthen the duration in Inspector's ECR settings"
                }
                "FINDINGS_UNAVAILABLE" => {
                    "Amazon Inspector has no findings for this image: check Inspector's coverage of the repository (Inspector console, Resources coverage)"
                }
                "LIMIT_EXCEEDED" | "FAILED" => {
                    "ECR scans an image with basic scanning at most once a day: push a rebuilt image (a new digest is scanned at once),\nor re-run the job after 24 hours"
                }
                _ => "resolve what the status names, or remove `scan-severity-threshold`",
            };
            Err(Failure::new(
                Category::Refused,
                format!("the image scan could not run ({status}): {description}"),
            )
            .detail(format!("scanner: {scanner}"))
            .hint(hint))
        }
    }
}

fn read(judgement: &Judgement) -> String {
    let plural = if judgement.pages == 1 {
        "page"
    } else {
        "pages"
    };
    format!(
        "{} finding(s) read over {} {plural}",
        judgement.findings, judgement.pages
    )
}

fn refusal(judgement: &Judgement, threshold: &str, scanner: Scanner) -> Failure {
    let headline = match judgement.blocking.first() {
        Some(worst) => format!(
            "the image scan found {} finding(s) at or above {threshold} (worst: {} {})",
            judgement.blocking.len(),
            worst.severity,
            worst.name
        ),
        None => format!(
            "the image scan counts {} finding(s) at or above {threshold}, though none was listed",
            judgement.counted_blocking
        ),
    };
    let mut failure = Failure::new(Category::Refused, headline);
    for f in judgement.blocking.iter().take(SHOWN) {
        failure.details.push(format!(
            "{:<9} {}{}",
            f.severity,
            f.name,
            f.uri
                .as_deref()
                .map(|u| format!("  {u}"))
                .unwrap_or_default()
        ));
    }
    if judgement.blocking.len() > SHOWN {
        failure
            .details
            .push(format!("... and {} more", judgement.blocking.len() - SHOWN));
    }
    let counts: Vec<String> = judgement
        .counts
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    failure.details.push(format!(
        "all findings: {} ({}; {scanner})",
        counts.join(", "),
        read(judgement)
    ));
    failure.hint("fix or upgrade the affected packages and rebuild, or raise `scan-severity-threshold` if the risk is accepted")
}
