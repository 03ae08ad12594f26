//! The GitHub runner contract: workflow commands and their escaping, masking, the files behind
//! `GITHUB_OUTPUT` / `GITHUB_ENV` / `GITHUB_STEP_SUMMARY`, the OIDC token request, and GitHub
//! Deployments (the REST API). This is the only module that knows GitHub's formats; the stages
//! hand it plain strings and `Secret`s.

pub mod commands;
pub mod deployments;
pub mod files;
pub mod oidc;

pub use commands::{
    Annotation, Group, Mode, Workflow, escape_data, escape_property, is_hidden, neutralize_line,
};
pub use files::{EnvFile, FileError, OutputFile, SummaryFile, escape_markdown, table};
pub use oidc::{OidcError, read_token_file, request_token};

/// `bytes` random bytes as lower-case hex. The stop-commands token and the heredoc delimiter
/// must be unguessable by whoever wrote the text they fence, so they come from the OS-seeded
/// thread RNG rather than a counter or the clock.
pub(crate) fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
