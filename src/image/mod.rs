//! The image stage's core: read an image from a local source (OCI layout directory or tar,
//! `docker save` archive) and push it to a registry over the distribution v2 HTTP API,
//! streaming every blob from disk and verifying it against its descriptor as it goes.
//! ECR specifics (login token, tag mutability, promotion) belong to the callers, not here:
//! this module only needs an endpoint and a `user:password`.
//!
//! ```text
//! let image = SourceRef::parse("oci:build/oci:v1")?.open().await?;
//! let client = RegistryClient::new(endpoint, Some(Credentials::new("AWS", password)))?;
//! let report = push(&image, &client, "app", &["v1".into()], &PushOptions::default()).await?;
//! ```

pub mod auth;
pub mod digest;
pub mod manifest;
pub mod push;
pub mod registry;
pub mod registry_error;
pub mod retry;
pub mod source;
mod upload;

pub use auth::Credentials;
pub use digest::{Digest, DigestError, Mismatch, VerifyingReader};
pub use manifest::{Descriptor, ManifestDoc};
pub use push::{
    BlobOutcome, BlobReport, ManifestOutcome, ManifestReport, PushError, PushOptions, PushReport,
    push, retag,
};
pub use registry::{RegistryClient, UploadMode};
pub use registry_error::{ErrorBody, RegistryError};
pub use retry::RetryPolicy;
pub use source::{LocalBlob, LocalImage, SourceError, SourceRef};
pub use upload::Mount;
