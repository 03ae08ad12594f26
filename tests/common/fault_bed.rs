//! A whole deploy (identity, push, rollout) with a fault proxy in front of every service it
//! talks to: the runner's OIDC token endpoint, STS and ECR's API (moto), the registry
//! (docker-registry) and ECS (the simulator). Each proxy draws its faults from its own fixed
//! seed (`testbed::Chaos`). Behind the registry's fault proxy a second, recording proxy sees
//! only what reached the registry, so a test can count what the registry really received.
//! Included by the `faults_*` end-to-end tests with `#[path]`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use testbed::chaos::KeyFn;
use testbed::fault::STS_XMLNS;
use testbed::{
    Chaos, EcsSimulator, FaultProxy, Matcher, Moto, OidcIssuer, Protocol, RecordedRequest,
    Registry, ServiceSeed,
};

use crate::common::rollout::CLUSTER;
use crate::common::{ActionRun, role_arn, unique};
use crate::fixtures::{BuiltImage, OciLayout};

/// Each request's connect/read limit in these runs (the product's own setting), and how long a
/// stall holds a connection: past that limit.
pub const REQUEST_TIMEOUT_SECONDS: u64 = 1;
pub const STALL: Duration = Duration::from_secs(3);
/// The services every deploy updates; they share one task-definition family.
pub const SERVICES: [&str; 2] = ["api", "worker"];
pub const FAMILY: &str = "app";

/// Where faults go, per stage: a percentage of requests and a seed.
#[derive(Clone, Copy, Debug)]
pub struct Faults {
    pub percent: u32,
    pub seed: u64,
}

/// The fault rates of one deploy, per service.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub oidc: Faults,
    pub sts: Faults,
    pub ecr: Faults,
    pub registry: Faults,
    pub ecs: Faults,
}

impl Plan {
    /// No faults anywhere.
    pub fn calm() -> Plan {
        let none = Faults {
            percent: 0,
            seed: 0,
        };
        Plan {
            oidc: none,
            sts: none,
            ecr: none,
            registry: none,
            ecs: none,
        }
    }
}

/// The servers, the proxies in front of them, and the image to push.
pub struct FaultBed {
    pub issuer: OidcIssuer,
    pub moto: &'static Moto,
    pub registry: Registry,
    pub sim: EcsSimulator,
    pub oidc: FaultProxy,
    pub sts: FaultProxy,
    pub ecr: FaultProxy,
    pub registry_faults: FaultProxy,
    /// Between the registry's fault proxy and the registry: what the registry received.
    pub at_registry: FaultProxy,
    pub ecs: FaultProxy,
    pub layout: OciLayout,
    pub image: BuiltImage,
    pub repository: String,
}

async fn chaos(upstream: &str, faults: Faults, protocol: Protocol, xmlns: &str) -> FaultProxy {
    let chaos = Chaos::new(faults.seed, faults.percent, protocol, STALL);
    FaultProxy::chaos(upstream, chaos, Matcher::All, xmlns)
        .await
        .expect("start a fault proxy")
}

impl FaultBed {
    /// Everything started; `plan` says how each proxy faults. The ECS proxy faults the
    /// requests `ecs_matcher` selects (all of them with `Matcher::All`).
    pub async fn start(plan: Plan, ecs_matcher: Matcher) -> FaultBed {
        let issuer = OidcIssuer::start(json!({"repository": crate::common::REPO}))
            .await
            .expect("start the OIDC issuer");
        let moto = Moto::shared()
            .await
            .expect("start moto (scripts/setup.sh installs it)");
        let registry = Registry::start_for_moto_ecr(moto)
            .await
            .expect("start docker-registry (scripts/setup.sh installs it)");
        let sim = EcsSimulator::start()
            .await
            .expect("start the ECS simulator");
        for service in SERVICES {
            sim.seed_service(ServiceSeed {
                cluster: CLUSTER.into(),
                service: service.into(),
                family: Some(FAMILY.into()),
                desired_count: 2,
                ..ServiceSeed::default()
            })
            .expect("seed a service");
        }
        let at_registry = FaultProxy::start(
            Some(registry.endpoint().to_owned()),
            vec![],
            Matcher::All,
            "",
        )
        .await
        .expect("start the recording proxy");
        let ecs_chaos = Chaos::new(plan.ecs.seed, plan.ecs.percent, Protocol::AwsJson, STALL);
        let ecs = FaultProxy::chaos(sim.endpoint(), ecs_chaos, ecs_matcher, "")
            .await
            .expect("start the ECS fault proxy");
        let mut layout = OciLayout::create();
        let image = layout.image(&[700_000, 400_000, 200_000], "amd64");
        layout.add_entry(&image.manifest, None);
        let registry_chaos = Chaos::new(
            plan.registry.seed,
            plan.registry.percent,
            Protocol::Registry,
            STALL,
        )
        .keyed_by(blobs_by_role(&image));
        let registry_faults =
            FaultProxy::chaos(at_registry.endpoint(), registry_chaos, Matcher::All, "")
                .await
                .expect("start the registry fault proxy");
        FaultBed {
            oidc: chaos(issuer.endpoint(), plan.oidc, Protocol::Plain, "").await,
            sts: chaos(moto.endpoint(), plan.sts, Protocol::AwsQuery, STS_XMLNS).await,
            ecr: chaos(moto.endpoint(), plan.ecr, Protocol::AwsJson, "").await,
            registry_faults,
            at_registry,
            ecs,
            issuer,
            moto,
            registry,
            sim,
            layout,
            image,
            repository: format!("e2e/{}", unique("faults")).to_ascii_lowercase(),
        }
    }

    /// The whole deploy as a job runs it: OIDC -> role, push to a new repository, roll out to
    /// both services; every endpoint through its fault proxy.
    pub fn job(&self) -> ActionRun {
        let mut run = ActionRun::new()
            .env(
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                &format!("{}/token?api-version=2.0", self.oidc.endpoint()),
            )
            .env(
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                self.issuer.request_token(),
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("OIDC_ECS_DEPLOY_POLL_SECONDS", "0")
            .env(
                "OIDC_ECS_DEPLOY_REQUEST_TIMEOUT_SECONDS",
                &REQUEST_TIMEOUT_SECONDS.to_string(),
            )
            .env("AWS_ENDPOINT_URL_STS", self.sts.endpoint())
            .env("AWS_ENDPOINT_URL_ECR", self.ecr.endpoint())
            .with("role-to-assume", &role_arn(&unique("deploy")))
            .with("aws-region", testbed::ecs::SIM_REGION)
            .with(
                "image-source",
                &format!("oci:{}", self.layout.path().display()),
            )
            .with("repository", &self.repository)
            .with("create-repository", "true")
            .with("registry-endpoint", self.registry_faults.endpoint())
            .with("cluster", CLUSTER)
            .with("service", &SERVICES.join(","))
            .with("container-name", "app")
            .timeout(Duration::from_secs(300));
        for (key, _) in self.sim.env() {
            run = run.env(&key, self.ecs.endpoint());
        }
        run
    }

    /// The revisions of the family the simulator holds, oldest first.
    pub fn revisions(&self) -> Vec<String> {
        (1..100)
            .map(|n| format!("{FAMILY}:{n}"))
            .take_while(|r| self.sim.task_definition(r).is_some())
            .collect()
    }

    /// Each service's task definition now.
    pub fn serving(&self) -> Vec<String> {
        SERVICES
            .iter()
            .map(|s| crate::common::rollout::task_definition(&self.sim, s))
            .collect()
    }

    /// Blob uploads that reached the registry in full: PUTs carrying a whole blob, per digest.
    pub fn full_uploads(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for blob in self.blobs() {
            let digest = blob.0.to_string();
            let n = self
                .at_registry
                .requests()
                .iter()
                .filter(|r| r.method == "PUT" && carries(r, &digest, blob.1))
                .count();
            counts.insert(digest, n);
        }
        counts
    }

    /// (digest, size) of the config and every layer.
    pub fn blobs(&self) -> Vec<(oidc_ecs_deploy::image::Digest, usize)> {
        std::iter::once(&self.image.config)
            .chain(self.image.layers.iter())
            .map(|d| (d.digest.clone(), d.size as usize))
            .collect()
    }

    /// How many requests each proxy faulted: (stage, faulted, seen).
    pub fn faulted(&self) -> Vec<(&'static str, usize, usize)> {
        [
            ("oidc", &self.oidc),
            ("sts", &self.sts),
            ("ecr", &self.ecr),
            ("registry", &self.registry_faults),
            ("ecs", &self.ecs),
        ]
        .into_iter()
        .map(|(stage, proxy)| {
            let requests = proxy.requests();
            let faulted = requests.iter().filter(|r| r.outcome != "forwarded").count();
            (stage, faulted, requests.len())
        })
        .collect()
    }
}

/// `RecordedRequest::stable_key` with the image's digests (random in every run) replaced by
/// their roles, so the same request of the push meets the same fate in every run.
fn blobs_by_role(image: &BuiltImage) -> KeyFn {
    let mut roles = vec![
        (image.manifest.digest.to_string(), "manifest".to_owned()),
        (image.config.digest.to_string(), "config".to_owned()),
    ];
    for (i, layer) in image.layers.iter().enumerate() {
        roles.push((layer.digest.to_string(), format!("layer-{i}")));
    }
    Arc::new(move |request: &RecordedRequest| {
        let mut key = request.stable_key();
        for (digest, role) in &roles {
            key = key.replace(digest, role);
        }
        key
    })
}

/// A registry request whose query names `digest` and whose body is the whole blob.
fn carries(request: &RecordedRequest, digest: &str, size: usize) -> bool {
    let encoded = digest.replace(':', "%3A");
    (request.path.contains(&encoded) || request.path.contains(digest)) && request.body.len() == size
}
