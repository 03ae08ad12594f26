//! oidc-ecs-deploy: exchange a GitHub OIDC token for AWS credentials, push an image to ECR and
//! roll it out to ECS behind a health gate. `main.rs` is a thin shell over this library; the
//! stages (`identity`, `image`, `rollout`) never import each other, `app` wires them.

pub mod app;
pub mod cli;
pub mod envvars;
pub mod failure;
pub mod identity;
pub mod image;
pub mod inputs;
pub mod retry;
pub mod rollout;
pub mod runner;
pub mod secret;
pub mod tls;
