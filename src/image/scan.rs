//! The scan gate's ECR side. Which scanner covers the repository (`GetRegistryScanningConfiguration`:
//! basic scanning, with or without scan on push, or enhanced scanning by Amazon Inspector, and
//! whether one of its rules covers the repository); starting a basic scan when nothing else
//! will (`StartImageScan`); waiting for the scan, bounded; reading every page of findings
//! (`DescribeImageScanFindings`: basic `findings` and Inspector's `enhancedFindings`); judging
//! them against a threshold. `scanner_for` and `judge` are pure and tested with tables.
//!
//! Why each step: without scan on push a basic scan never starts by itself, so waiting alone
//! would only time out; enhanced scanning rejects `StartImageScan` and scans on its own, but
//! only the repositories its rules name; a page holds at most 1000 findings and the worst one
//! may be on the last page.

use std::time::Duration;

use aws_sdk_ecr::operation::describe_image_scan_findings::DescribeImageScanFindingsOutput;
use aws_sdk_ecr::types::ImageIdentifier;

use super::ecr::{EcrError, RepositoryInfo, sdk_error, wildcard_match};

/// Severity order, lowest first, as ECR's basic and enhanced scanning name them.
const SEVERITIES: [&str; 5] = ["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"];

/// A finding ECR or Inspector could not rate (UNDEFINED, UNTRIAGED) ranks below INFORMATIONAL:
/// it does not block.
pub fn severity_rank(severity: &str) -> usize {
    let upper = severity.to_ascii_uppercase();
    SEVERITIES
        .iter()
        .position(|k| *k == upper)
        .map_or(0, |p| p + 1)
}

/// A basic scan that does not show within this long after a push to a scan-on-push repository
/// is started by the gate (the push may have been a re-tag, which ECR does not scan).
const ON_PUSH_GRACE: Duration = Duration::from_secs(20);
/// Polls start at one second apart and slow down to this.
const MAX_POLL: Duration = Duration::from_secs(5);
/// The most findings one `DescribeImageScanFindings` page may hold.
const PAGE_SIZE: i32 = 1000;
/// More pages than this is a registry that keeps answering with a next token.
const MAX_PAGES: usize = 1000;

/// What scans images of the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scanner {
    /// ECR's basic scanning; `on_push`: a push starts a scan by itself.
    Basic { on_push: bool },
    /// Amazon Inspector; `covered`: a rule of the registry's configuration names the repository
    /// (Inspector scans nothing else).
    Enhanced { covered: bool },
}

impl std::fmt::Display for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Scanner::Basic { on_push: true } => "basic scanning, scan on push",
            Scanner::Basic { on_push: false } => {
                "basic scanning without scan on push (the gate starts the scan)"
            }
            Scanner::Enhanced { covered: true } => "enhanced scanning (Amazon Inspector)",
            Scanner::Enhanced { covered: false } => {
                "enhanced scanning (Amazon Inspector), no rule covering this repository"
            }
        })
    }
}

/// One rule of the registry's scanning configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanningRule {
    /// `SCAN_ON_PUSH`, `CONTINUOUS_SCAN` or `MANUAL`.
    pub frequency: String,
    /// Wildcard filters on repository names.
    pub filters: Vec<String>,
}

/// Which scanner covers `repository`, from the registry's scan type and rules and the
/// repository's own (older) scan-on-push flag.
pub fn scanner_for(
    scan_type: &str,
    rules: &[ScanningRule],
    repository: &RepositoryInfo,
) -> Scanner {
    let rule_covers = |frequencies: &[&str]| {
        rules.iter().any(|r| {
            frequencies.contains(&r.frequency.as_str())
                && r.filters
                    .iter()
                    .any(|f| wildcard_match(f, &repository.name))
        })
    };
    if scan_type.eq_ignore_ascii_case("ENHANCED") {
        Scanner::Enhanced {
            covered: rule_covers(&["SCAN_ON_PUSH", "CONTINUOUS_SCAN"]),
        }
    } else {
        Scanner::Basic {
            on_push: repository.scan_on_push || rule_covers(&["SCAN_ON_PUSH"]),
        }
    }
}

/// Ask the registry which scanner covers `repository`.
pub async fn scanner(
    client: &aws_sdk_ecr::Client,
    repository: &RepositoryInfo,
) -> Result<Scanner, EcrError> {
    let output = client
        .get_registry_scanning_configuration()
        .send()
        .await
        .map_err(|e| sdk_error("GetRegistryScanningConfiguration", e))?;
    let configuration = output.scanning_configuration();
    let scan_type = configuration
        .and_then(|c| c.scan_type())
        .map_or("BASIC", |t| t.as_str());
    let rules: Vec<ScanningRule> = configuration
        .map(|c| c.rules())
        .unwrap_or_default()
        .iter()
        .map(|r| ScanningRule {
            frequency: r.scan_frequency().as_str().to_owned(),
            filters: r
                .repository_filters()
                .iter()
                .map(|f| f.filter().to_owned())
                .collect(),
        })
        .collect();
    Ok(scanner_for(scan_type, &rules, repository))
}

/// One finding, as short as a log line allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: String,
    pub name: String,
    pub uri: Option<String>,
}

/// The verdict on a completed scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    /// Findings at or above the threshold, worst first.
    pub blocking: Vec<Finding>,
    /// ECR's severity counts, worst first.
    pub counts: Vec<(String, i32)>,
    /// How many findings the counts put at or above the threshold.
    pub counted_blocking: i32,
    /// Findings read, over every page.
    pub findings: usize,
    pub pages: usize,
}

impl Judgement {
    /// Nothing at or above the threshold, by the findings listed and by ECR's own counts.
    pub fn passes(&self) -> bool {
        self.blocking.is_empty() && self.counted_blocking == 0
    }
}

/// Judge every finding (all pages) and ECR's counts against `threshold`: a severity the counts
/// report at or above it blocks even when no listed finding carries it (fail closed).
pub fn judge(
    findings: Vec<Finding>,
    mut counts: Vec<(String, i32)>,
    threshold: &str,
    pages: usize,
) -> Judgement {
    let floor = severity_rank(threshold);
    let total = findings.len();
    let mut blocking: Vec<Finding> = findings
        .into_iter()
        .filter(|f| severity_rank(&f.severity) >= floor)
        .collect();
    blocking.sort_by_key(|f| std::cmp::Reverse(severity_rank(&f.severity)));
    counts.sort_by_key(|(k, _)| std::cmp::Reverse(severity_rank(k)));
    let counted_blocking = counts
        .iter()
        .filter(|(k, _)| severity_rank(k) >= floor)
        .map(|(_, n)| *n)
        .sum();
    Judgement {
        blocking,
        counts,
        counted_blocking,
        findings: total,
        pages,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanOutcome {
    Complete(Judgement),
    /// No verdict within the wait; `status` is the last one seen.
    Pending {
        status: String,
    },
    /// The scan failed or cannot run for this image.
    Unavailable {
        status: String,
        description: String,
    },
}

/// How the gate waits.
#[derive(Debug, Clone, Copy)]
pub struct ScanWait {
    pub limit: Duration,
    /// This run pushed the manifest (a scan on push is coming), rather than finding it there.
    pub fresh_push: bool,
}

/// What the gate did besides reading, for the log and the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanActivity {
    /// The gate started the scan (`StartImageScan`).
    pub started: bool,
    pub waited: Duration,
}

/// Wait for the scan of `digest` (starting a basic one when nothing else will) and judge it.
pub async fn wait_and_judge(
    client: &aws_sdk_ecr::Client,
    repository: &str,
    digest: &str,
    scanner: Scanner,
    threshold: &str,
    wait: ScanWait,
) -> Result<(ScanOutcome, ScanActivity), EcrError> {
    let began = tokio::time::Instant::now();
    let image = ImageIdentifier::builder().image_digest(digest).build();
    let mut activity = ScanActivity::default();
    let mut interval = Duration::from_secs(1);
    loop {
        activity.waited = began.elapsed();
        let status = match first_page(client, repository, &image).await? {
            Some(page) => {
                let status = page
                    .image_scan_status()
                    .and_then(|s| s.status())
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default();
                match status.as_str() {
                    "COMPLETE" | "ACTIVE" => {
                        return Ok((
                            ScanOutcome::Complete(
                                read_all(client, repository, &image, page, threshold).await?,
                            ),
                            activity,
                        ));
                    }
                    "FAILED"
                    | "UNSUPPORTED_IMAGE"
                    | "SCAN_ELIGIBILITY_EXPIRED"
                    | "FINDINGS_UNAVAILABLE"
                    | "LIMIT_EXCEEDED"
                    | "IMAGE_ARCHIVED" => {
                        let description = page
                            .image_scan_status()
                            .and_then(|s| s.description())
                            .unwrap_or_default()
                            .to_owned();
                        return Ok((
                            ScanOutcome::Unavailable {
                                status,
                                description,
                            },
                            activity,
                        ));
                    }
                    _ => status,
                }
            }
            None => {
                let due = match scanner {
                    Scanner::Basic { on_push } => {
                        !activity.started
                            && (!on_push || !wait.fresh_push || began.elapsed() >= ON_PUSH_GRACE)
                    }
                    Scanner::Enhanced { .. } => false,
                };
                if due {
                    match start(client, repository, &image).await? {
                        Start::Started => {
                            tracing::info!(
                                "started a basic scan of {repository}@{digest} (the repository does not scan on push)"
                            );
                            activity.started = true;
                        }
                        Start::AlreadyScanned => activity.started = true,
                        Start::NotVisibleYet => {}
                        Start::Unsupported(description) => {
                            return Ok((
                                ScanOutcome::Unavailable {
                                    status: "UNSUPPORTED_IMAGE".into(),
                                    description,
                                },
                                activity,
                            ));
                        }
                    }
                }
                if activity.started {
                    "IN_PROGRESS".to_owned()
                } else {
                    "NOT_STARTED".to_owned()
                }
            }
        };
        // The last poll comes at the limit itself: the whole wait is used.
        let remaining = wait.limit.saturating_sub(began.elapsed());
        if remaining.is_zero() {
            activity.waited = began.elapsed();
            return Ok((ScanOutcome::Pending { status }, activity));
        }
        tokio::time::sleep(interval.min(remaining)).await;
        interval = (interval * 2).min(MAX_POLL);
    }
}

/// The first page, or `None` while there is no scan of the image (or the image is not visible
/// yet, just after a push).
async fn first_page(
    client: &aws_sdk_ecr::Client,
    repository: &str,
    image: &ImageIdentifier,
) -> Result<Option<DescribeImageScanFindingsOutput>, EcrError> {
    match client
        .describe_image_scan_findings()
        .repository_name(repository)
        .image_id(image.clone())
        .max_results(PAGE_SIZE)
        .send()
        .await
    {
        Ok(page) => Ok(Some(page)),
        Err(e)
            if e.as_service_error().is_some_and(|s| {
                s.is_scan_not_found_exception() || s.is_image_not_found_exception()
            }) =>
        {
            Ok(None)
        }
        Err(e) => Err(sdk_error("DescribeImageScanFindings", e)),
    }
}

/// Every finding of a completed scan, following `nextToken` to the last page.
async fn read_all(
    client: &aws_sdk_ecr::Client,
    repository: &str,
    image: &ImageIdentifier,
    first: DescribeImageScanFindingsOutput,
    threshold: &str,
) -> Result<Judgement, EcrError> {
    let mut findings = Vec::new();
    let mut counts = None;
    let mut page = first;
    for pages in 1.. {
        collect(&page, &mut findings, &mut counts);
        let Some(token) = page.next_token().map(str::to_owned) else {
            return Ok(judge(
                findings,
                counts.unwrap_or_default(),
                threshold,
                pages,
            ));
        };
        if pages >= MAX_PAGES {
            break;
        }
        page = client
            .describe_image_scan_findings()
            .repository_name(repository)
            .image_id(image.clone())
            .max_results(PAGE_SIZE)
            .next_token(token)
            .send()
            .await
            .map_err(|e| sdk_error("DescribeImageScanFindings", e))?;
    }
    Err(EcrError::Incomplete {
        operation: "DescribeImageScanFindings",
        missing: "a last page (it kept answering with a next token)",
    })
}

/// Add a page's findings; the severity counts describe the whole scan, so the first page's are kept.
/// Inspector findings it marks SUPPRESSED (a suppression rule: an accepted risk) or CLOSED (fixed)
/// do not count.
fn collect(
    page: &DescribeImageScanFindingsOutput,
    findings: &mut Vec<Finding>,
    counts: &mut Option<Vec<(String, i32)>>,
) {
    let Some(scan) = page.image_scan_findings() else {
        return;
    };
    for f in scan.findings() {
        let severity = f
            .severity()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        findings.push(Finding {
            severity,
            name: f.name().unwrap_or("(unnamed)").to_owned(),
            uri: f.uri().map(str::to_owned),
        });
    }
    for f in scan
        .enhanced_findings()
        .iter()
        .filter(|f| !matches!(f.status(), Some("SUPPRESSED" | "CLOSED")))
    {
        let details = f.package_vulnerability_details();
        let name = details
            .and_then(|p| p.vulnerability_id())
            .or(f.title())
            .unwrap_or("(unnamed)")
            .to_owned();
        findings.push(Finding {
            severity: f.severity().unwrap_or_default().to_owned(),
            name,
            uri: details.and_then(|p| p.source_url()).map(str::to_owned),
        });
    }
    if counts.is_none()
        && let Some(map) = scan.finding_severity_counts()
    {
        *counts = Some(
            map.iter()
                .map(|(k, v)| (k.as_str().to_owned(), *v))
                .collect(),
        );
    }
}

enum Start {
    Started,
    /// ECR allows one basic scan per image a day: one already ran (or runs), its findings count.
    AlreadyScanned,
    /// Just pushed: the image is not visible to ECR's API yet.
    NotVisibleYet,
    Unsupported(String),
}

async fn start(
    client: &aws_sdk_ecr::Client,
    repository: &str,
    image: &ImageIdentifier,
) -> Result<Start, EcrError> {
    match client
        .start_image_scan()
        .repository_name(repository)
        .image_id(image.clone())
        .send()
        .await
    {
        Ok(_) => Ok(Start::Started),
        Err(e) => match e.as_service_error() {
            Some(s) if s.is_limit_exceeded_exception() => Ok(Start::AlreadyScanned),
            Some(s) if s.is_image_not_found_exception() => Ok(Start::NotVisibleYet),
            Some(s) if s.is_unsupported_image_type_exception() => Ok(Start::Unsupported(
                s.meta()
                    .message()
                    .unwrap_or("unsupported image type")
                    .to_owned(),
            )),
            _ => Err(sdk_error("StartImageScan", e)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::ecr::TagMutability;

    fn repo(name: &str, scan_on_push: bool) -> RepositoryInfo {
        RepositoryInfo {
            name: name.into(),
            uri: String::new(),
            tag_mutability: TagMutability::Immutable,
            mutability_exclusions: vec![],
            scan_on_push,
        }
    }

    fn rule(frequency: &str, filters: &[&str]) -> ScanningRule {
        ScanningRule {
            frequency: frequency.into(),
            filters: filters.iter().map(|f| f.to_string()).collect(),
        }
    }

    #[test]
    fn the_registry_configuration_names_the_scanner() {
        let cases = [
            ("BASIC", vec![], false, Scanner::Basic { on_push: false }),
            ("BASIC", vec![], true, Scanner::Basic { on_push: true }),
            (
                "BASIC",
                vec![rule("SCAN_ON_PUSH", &["team/*"])],
                false,
                Scanner::Basic { on_push: true },
            ),
            (
                "BASIC",
                vec![rule("SCAN_ON_PUSH", &["other/*"])],
                false,
                Scanner::Basic { on_push: false },
            ),
            (
                "ENHANCED",
                vec![rule("CONTINUOUS_SCAN", &["*"])],
                false,
                Scanner::Enhanced { covered: true },
            ),
            (
                "ENHANCED",
                vec![rule("SCAN_ON_PUSH", &["team/a*"])],
                true,
                Scanner::Enhanced { covered: true },
            ),
            // Inspector ignores the repository's own flag: only its rules choose what it scans.
            (
                "ENHANCED",
                vec![rule("CONTINUOUS_SCAN", &["other/*"])],
                true,
                Scanner::Enhanced { covered: false },
            ),
            (
                "ENHANCED",
                vec![],
                true,
                Scanner::Enhanced { covered: false },
            ),
        ];
        for (scan_type, rules, flag, expected) in cases {
            assert_eq!(
                scanner_for(scan_type, &rules, &repo("team/api", flag)),
                expected,
                "{scan_type} {rules:?} scan_on_push={flag}"
            );
        }
    }

    fn finding(severity: &str, name: &str) -> Finding {
        Finding {
            severity: severity.into(),
            name: name.into(),
            uri: None,
        }
    }

    #[test]
    fn findings_and_counts_are_judged_against_the_threshold() {
        let counts = |pairs: &[(&str, i32)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect::<Vec<_>>()
        };
        // (findings, counts, threshold, passes, blocking names worst first, counted at or above)
        let cases = [
            (
                vec![finding("LOW", "a"), finding("HIGH", "b")],
                counts(&[("LOW", 1), ("HIGH", 1)]),
                "HIGH",
                false,
                vec!["b"],
                1,
            ),
            (
                vec![finding("LOW", "a"), finding("MEDIUM", "b")],
                counts(&[("LOW", 1), ("MEDIUM", 1)]),
                "HIGH",
                true,
                vec![],
                0,
            ),
            (
                vec![finding("HIGH", "h"), finding("CRITICAL", "c")],
                counts(&[]),
                "MEDIUM",
                false,
                vec!["c", "h"],
                0,
            ),
            // The counts say CRITICAL though no listed finding does: fail closed.
            (vec![], counts(&[("CRITICAL", 2)]), "HIGH", false, vec![], 2),
            // Unrated findings never block, whatever the threshold.
            (
                vec![finding("UNDEFINED", "u"), finding("UNTRIAGED", "t")],
                counts(&[("UNDEFINED", 1), ("UNTRIAGED", 1)]),
                "INFORMATIONAL",
                true,
                vec![],
                0,
            ),
            (
                vec![finding("critical", "lower-case")],
                counts(&[]),
                "CRITICAL",
                false,
                vec!["lower-case"],
                0,
            ),
        ];
        for (findings, counts, threshold, passes, names, counted) in cases {
            let j = judge(findings.clone(), counts, threshold, 1);
            assert_eq!(j.passes(), passes, "{findings:?} at {threshold}");
            assert_eq!(
                j.blocking
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>(),
                names,
                "{findings:?} at {threshold}"
            );
            assert_eq!(j.counted_blocking, counted, "{findings:?} at {threshold}");
            assert_eq!(j.findings, findings.len());
        }
    }

    #[test]
    fn severities_rank_in_ecr_order() {
        let ranks: Vec<usize> = [
            "UNDEFINED",
            "INFORMATIONAL",
            "LOW",
            "MEDIUM",
            "HIGH",
            "CRITICAL",
        ]
        .iter()
        .map(|s| severity_rank(s))
        .collect();
        assert!(ranks.windows(2).all(|w| w[0] < w[1]), "{ranks:?}");
        assert_eq!(severity_rank("UNTRIAGED"), severity_rank("UNDEFINED"));
    }
}
