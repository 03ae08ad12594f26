//! The image stage's core: read an image from a local source (OCI layout directory or tar,
//! `docker save` archive) and push it to a registry over the distribution v2 HTTP API,
//! streaming every blob from disk and verifying it against its descriptor as it goes.
//! The push itself needs only an endpoint and a `user:password`; ECR's API side
//! (GetAuthorizationToken, tag mutability) is `ecr.rs`, the scan gate `scan.rs`, used by the callers.
//!
//! ```text
//! let image = SourceRef::parse("oci:build/oci:v1")?.open().await?;   // reads only small files
//! let client = RegistryClient::new(endpoint, Some(Credentials::new("AWS", password)))?;
//! let before = client.manifest_digest("app", "v1").await?;            // decide first...
//! if before.is_some_and(|d| d != image.top().digest) { /* immutable tag: refuse */ }
//! let report = push(&image, &client, "app", &["v1".into()], &PushOptions::default()).await?;
//! report.manifest_digest; report.pinned_reference();                  // ...then act
//! ```
//!
//! What `push` guarantees: blobs already in the repository are not sent (HEAD), blobs in a
//! `mount_from` repository are mounted, the rest stream from disk (bounded concurrency, one
//! PUT with a Content-Length, or chunked PATCHes with a fallback); a blob whose bytes do not
//! match its descriptor fails before its last byte is sent and nothing is tagged; manifests go
//! children first with their own media type, and the registry's digest is checked against
//! ours; transient failures are retried (`retry.rs`), an expired Bearer token renewed.
//!
//! Files: `digest` (Digest, VerifyingReader), `manifest` (media types, descriptors),
//! `source/` (oci, docker-archive, tar-in-place store), `auth` (credentials, challenges),
//! `registry` + `upload` (the HTTP client), `plan` (HEADs only: what a push would do, for
//! decisions and `--dry-run`), `push` (the orchestration; `push_planned` acts on a plan without
//! asking the registry again), `retry`.

pub mod auth;
pub mod digest;
pub mod ecr;
pub mod manifest;
pub mod plan;
pub mod push;
pub mod registry;
pub mod registry_error;
pub mod retry;
pub mod scan;
pub mod source;
mod upload;

pub use auth::Credentials;
pub use digest::{Digest, DigestError, Mismatch, VerifyingReader};
pub use manifest::{Descriptor, ManifestDoc};
pub use plan::{BlobAction, PushPlan, TagState, plan};
pub use push::{
    BlobOutcome, BlobReport, ManifestOutcome, ManifestReport, PushError, PushOptions, PushReport,
    push, push_planned, retag,
};
pub use registry::{RegistryClient, UploadMode};
pub use registry_error::{ErrorBody, RegistryError};
pub use retry::RetryPolicy;
pub use source::{LocalBlob, LocalImage, SourceError, SourceRef};
pub use upload::Mount;
