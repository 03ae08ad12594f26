//! The rollout tests' setup, in one place: an ECS simulator seeded with services, a job that
//! deploys `containers: app=<new image>` to them with the environment's keys (STS at moto), and
//! readers of what the simulator holds afterwards.

use testbed::ecs::{SIM_ACCOUNT, SIM_REGION};
use testbed::{EcsSimulator, Moto, Scenario, ServiceSeed};

use super::ActionRun;

pub const CLUSTER: &str = "prod";

/// The image every job deploys.
pub fn new_image() -> String {
    format!(
        "{SIM_ACCOUNT}.dkr.ecr.{SIM_REGION}.amazonaws.com/app@sha256:{}",
        "ab".repeat(32)
    )
}

pub async fn sim_with(seeds: Vec<ServiceSeed>) -> EcsSimulator {
    let sim = EcsSimulator::start()
        .await
        .expect("start the ECS simulator");
    for seed in seeds {
        sim.seed_service(seed).expect("seed a service");
    }
    sim
}

/// A service of two tasks in the test cluster.
pub fn seed(service: &str, scenario: Scenario) -> ServiceSeed {
    ServiceSeed {
        cluster: CLUSTER.into(),
        service: service.into(),
        desired_count: 2,
        scenario,
        ..ServiceSeed::default()
    }
}

/// A job deploying `containers: app=<new image>` to `services` on `sim`, polling without pause,
/// with no credentials yet: the caller adds them (static keys, or a role and an OIDC issuer).
pub fn deploy(sim: &EcsSimulator, services: &str) -> ActionRun {
    let mut run = ActionRun::new()
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("OIDC_ECS_DEPLOY_POLL_SECONDS", "0")
        .with("aws-region", SIM_REGION)
        .with("cluster", CLUSTER)
        .with("service", services)
        .with("containers", &format!("app={}", new_image()));
    for (k, v) in sim.env() {
        run = run.env(&k, &v);
    }
    run
}

/// A job deploying `containers: app=<new image>` to `services` with the environment's keys.
pub async fn job(sim: &EcsSimulator, services: &str) -> ActionRun {
    let moto = Moto::shared()
        .await
        .expect("start moto (scripts/setup.sh installs it)");
    deploy(sim, services)
        .env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
        .env(
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        )
        .env("AWS_ENDPOINT_URL_STS", moto.endpoint())
}

/// The service's task definition ARN now.
pub fn task_definition(sim: &EcsSimulator, service: &str) -> String {
    sim.service(CLUSTER, service)
        .expect("service exists")
        .task_definition
}

/// (RegisterTaskDefinition, UpdateService) calls so far.
pub fn calls(sim: &EcsSimulator) -> (usize, usize) {
    (
        sim.calls("RegisterTaskDefinition"),
        sim.calls("UpdateService"),
    )
}
