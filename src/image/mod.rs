//! The image stage's core: read an image from a local source (OCI layout directory or tar,
//! `docker save` archive) and push it to a registry over the distribution v2 HTTP API,
//! streaming every blob from disk and verifying it against its descriptor as it goes.
//! ECR specifics (login token, tag mutability, promotion) live with the callers, not here.

pub mod digest;

pub use digest::{Digest, DigestError, Mismatch, VerifyingReader};
pub mod manifest;
pub mod source;

pub use manifest::{Descriptor, ManifestDoc};
pub use source::{LocalBlob, LocalImage, SourceError, SourceRef};
