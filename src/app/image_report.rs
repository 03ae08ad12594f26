//! What the image stage tells the user: the plan a dry run prints (stdout, like the rollout's),
//! the step outputs, and the image section of the job summary (the URI, the digest, what
//! happened to each blob, the bytes, the time; for a dry run, what would have happened).

use std::time::Duration;

use crate::failure::Failure;
use crate::image::{BlobAction, BlobOutcome, PushPlan, PushReport, TagState};
use crate::inputs::ImageConfig;
use crate::runner::neutralize_line;

use super::push_image::PushedImage;
use super::{Console, failures};

/// What happened (or, in a dry run, would happen) to the image's blobs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transfer {
    pub uploaded: usize,
    pub present: usize,
    pub mounted: usize,
    pub bytes: u64,
    /// `ecr:TAG`: tags put on a manifest already there; no blob moves.
    pub promoted_from: Option<String>,
}

impl Transfer {
    /// From the HEADs of a plan: what a push would send.
    pub fn planned(plan: &PushPlan) -> Transfer {
        let count = |wanted: fn(&BlobAction) -> bool| {
            plan.blobs.iter().filter(|b| wanted(&b.action)).count()
        };
        Transfer {
            uploaded: count(|a| *a == BlobAction::Upload),
            present: count(|a| *a == BlobAction::Present),
            mounted: count(|a| matches!(a, BlobAction::Mount { .. })),
            bytes: plan.bytes_to_upload(),
            promoted_from: None,
        }
    }

    pub fn pushed(report: &PushReport) -> Transfer {
        Transfer {
            uploaded: report.count(|o| matches!(o, BlobOutcome::Uploaded { .. })),
            present: report.count(|o| matches!(o, BlobOutcome::Skipped)),
            mounted: report.count(|o| matches!(o, BlobOutcome::Mounted { .. })),
            bytes: report.uploaded_bytes(),
            promoted_from: None,
        }
    }

    pub fn promoted(from: &str) -> Transfer {
        Transfer {
            promoted_from: Some(from.to_owned()),
            ..Transfer::default()
        }
    }
}

/// A finished or planned image stage, as the summary shows it.
pub struct ImageSection<'a> {
    pub pushed: &'a PushedImage,
    pub transfer: &'a Transfer,
    /// The repository was (in a dry run: would be) created.
    pub created_repository: bool,
    pub scan: Option<String>,
    pub elapsed: Duration,
    pub dry_run: bool,
}

/// The dry run's plan on stdout: the repository, each tag, each blob, the scan gate.
pub fn print_plan(plan_lines: &[String]) {
    for line in plan_lines {
        // Names and digests are the user's or the registry's text: never a workflow command.
        println!("{}", neutralize_line(line));
    }
}

/// The lines of a dry run's plan for a local source.
pub fn push_plan_lines(plan: &PushPlan, create: Option<&str>, scan: Option<String>) -> Vec<String> {
    let mut lines: Vec<String> = create.map(|c| c.to_owned()).into_iter().collect();
    lines.extend(plan.to_string().lines().map(str::to_owned));
    lines.extend(scan);
    lines
}

/// The lines of a dry run's plan for `ecr:TAG`.
pub fn promotion_plan_lines(
    repository: &str,
    from: &str,
    states: &[TagState],
    digest: &crate::image::Digest,
    scan: Option<String>,
) -> Vec<String> {
    let mut lines = vec![format!(
        "promote {repository}:{from} ({digest}), no blob moves"
    )];
    for s in states {
        lines.push(match &s.current {
            None => format!("  tag {}: new", s.tag),
            Some(d) if d == digest => format!("  tag {}: already this image", s.tag),
            Some(d) => format!("  tag {}: now {d}, would move", s.tag),
        });
    }
    lines.extend(scan);
    lines
}

pub fn publish_outputs(
    cfg: &ImageConfig,
    pushed: &PushedImage,
    console: &mut Console,
) -> Result<(), Failure> {
    console.output("registry", &pushed.registry)?;
    console.output("image-uri", &image_uri(cfg, pushed))?;
    console.output("image-digest", &pushed.digest.to_string())?;
    console.output("image-ref", &pushed.pinned)
}

fn image_uri(cfg: &ImageConfig, pushed: &PushedImage) -> String {
    format!("{}/{}:{}", pushed.registry, pushed.repository, cfg.tags[0])
}

/// The image section of the job summary.
pub fn append_summary(
    cfg: &ImageConfig,
    section: &ImageSection,
    console: &mut Console,
) -> Result<(), Failure> {
    let t = section.transfer;
    let (title, blobs, bytes_label) = if section.dry_run {
        (
            "image: dry run, nothing was created, uploaded or tagged",
            format!(
                "{} to upload, {} already there, {} to mount",
                t.uploaded, t.present, t.mounted
            ),
            "bytes to upload",
        )
    } else {
        (
            "image pushed",
            format!(
                "{} uploaded, {} already there, {} mounted",
                t.uploaded, t.present, t.mounted
            ),
            "bytes uploaded",
        )
    };
    let mut rows: Vec<[String; 2]> = vec![
        ["image".into(), image_uri(cfg, section.pushed)],
        ["digest".into(), section.pushed.digest.to_string()],
        ["tags".into(), cfg.tags.join(", ")],
    ];
    if section.created_repository {
        let verb = if section.dry_run {
            "would be created"
        } else {
            "created"
        };
        rows.push([
            "repository".into(),
            format!(
                "{} {verb} (IMMUTABLE tags, scan on push, AES-256)",
                cfg.repository
            ),
        ]);
    }
    match &t.promoted_from {
        Some(from) => rows.push([
            "blobs".into(),
            format!("none moved: promoted from tag {from}"),
        ]),
        None => {
            rows.push(["blobs".into(), blobs]);
            rows.push([
                bytes_label.into(),
                format!("{} ({} bytes)", mib(t.bytes), t.bytes),
            ]);
        }
    }
    if let Some(scan) = &section.scan {
        rows.push(["scan".into(), scan.clone()]);
    }
    rows.push([
        "time".into(),
        format!("{:.1} s", section.elapsed.as_secs_f64()),
    ]);
    let markdown = format!(
        "### oidc-ecs-deploy: {title}\n\n{}",
        crate::runner::table(&["field", "value"], rows)
    );
    console
        .summary
        .append_markdown(&markdown)
        .map_err(|e| failures::runner_file(&e))
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
