//! testbed: the project's local stand-ins for GitHub and AWS, used by the root crate's
//! integration tests (as a dev-dependency) and by the README's demo (`testbed up`). Never
//! shipped in the action image.
//!
//! - [`Moto`]: a moto server (STS, IAM, ECR's API, ECS's API, ...) on a free loopback port,
//!   with raw query/JSON-protocol helpers (`iam_create_role`, `ecr_authorization`, ...).
//! - [`Registry`]: Debian's docker-registry with htpasswd auth; with moto it acts as one ECR.
//! - [`OidcIssuer`]: a fake GitHub Actions OIDC token endpoint signing RS256 tokens.
//! - [`FaultProxy`] / [`StsFault`]: inject AWS-faithful errors and resets in front of moto;
//!   [`Chaos`]: seeded random faults in each protocol's shape, for a proxy in front of anything.
//! - [`TlsFront`]: HTTPS with a test-only CA in front of any of these, for tests of trust.
//! - [`GithubApi`]: GitHub's REST API (the deployment paths) served by prism from GitHub's own
//!   description, validating every request.
//!
//! Child processes are killed on drop and die with the test process even when it panics.

pub mod chaos;
pub mod claims;
pub mod ecr_sync;
pub mod ecs;
pub mod fault;
pub mod github_api;
pub mod moto;
pub mod moto_api;
pub mod net;
pub mod oidc;
mod process;
pub mod proxy;
pub mod registry;
pub mod tls_front;

pub use chaos::{Chaos, Kind as FaultKind, Protocol};
pub use claims::{GITHUB_ISSUER, STS_AUDIENCE, github_claims};
pub use ecr_sync::EcrSync;
pub use ecs::{
    ClusterSeed, DeploymentView, EcsSimulator, Scenario, SeededService, ServiceSeed, ServiceView,
};
pub use fault::{Fault, INCORRECT_AUDIENCE, NO_OIDC_PROVIDER};
pub use github_api::GithubApi;
pub use moto::{MOTO_ACCOUNT_ID, Moto};
pub use moto_api::{EcrAuthorization, moto_ecr_password};
pub use net::{free_port, http_client};
pub use oidc::{IssuedTokens, OidcIssuer, TokenRequest};
pub use proxy::{FaultProxy, Matcher, RecordedRequest, StsFault};
pub use registry::Registry;
pub use tls_front::{OTHER_CA_PEM, TEST_CA_PEM, TlsFront};

/// The workspace root: the parent of this crate's manifest directory.
pub fn workspace_root() -> std::path::PathBuf {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}
