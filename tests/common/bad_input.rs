//! The bad-input table's harness: a world of real servers (moto as STS and ECR, a docker-registry
//! synced into moto's ECR, the ECS simulator with the service `api` in the cluster `prod`), the
//! jobs a row starts from, and `World::check`, which runs one row as the runner would and proves
//! it exited 2 with an error naming the input, what was wrong and what would be right, printed
//! nothing raw, and changed nothing anywhere. Included by `tests/bad_inputs.rs` with `#[path]`.
#![allow(dead_code)]

use std::collections::BTreeMap;

use serde_json::{Value, json};
use testbed::ecs::SIM_REGION;
use testbed::{EcsSimulator, Scenario, ServiceSeed};

use crate::bed::{Bed, ECR, layout_with_image, oci};
use crate::common::rollout::{CLUSTER, new_image};
use crate::common::{ActionRun, Run, unique};
use crate::fixtures::{BuiltImage, OciLayout};

/// Where a row starts from before its own `with:` values are laid over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Identity only: static keys, STS at moto.
    Identity,
    /// Identity, then a push of a valid OCI layout to an existing repository.
    Push,
    /// Identity, then a rollout of `containers: app=<image>` to `prod`/`api`.
    Rollout,
    /// Identity, push, then a rollout of the pushed image to the container `app`.
    Deploy,
}

/// One malformed input: the job, what the row changes, and what the error must say.
pub struct Row {
    pub name: &'static str,
    pub job: Job,
    /// Inputs over the job's; `{fx}` is the fixtures directory, `{repo}` the existing
    /// repository, `{100KiB}` that many `x`. An empty value unsets the input, as a blank `with:` does.
    pub with: &'static [(&'static str, &'static str)],
    /// Job environment over the runner's.
    pub env: &'static [(&'static str, &'static str)],
    /// The input the error names (as `input `NAME``).
    pub input: &'static str,
    /// What was wrong and what would be right, each somewhere in the error.
    pub says: &'static [&'static str],
}

/// The existing repository of every world starts `e2e/<this>-`: worlds of other tests in this
/// process create theirs while a row runs, so the check leaves them out (no row names one).
const WORLD_REPOSITORY: &str = "bad-input-world";

/// ECS operations that only read; any other call the simulator logs is a change.
const READS: [&str; 3] = ["Describe", "List", "Get"];

/// Task-definition files, policy files and non-images the rows name by `{fx}/NAME`.
fn fixture_files() -> Vec<(&'static str, String)> {
    let def = |family: &str, container: &str| {
        json!({
            "family": family,
            "containerDefinitions": [{ "name": container, "image": "nginx:1.25", "essential": true }]
        })
        .to_string()
    };
    vec![
        (
            "broken.json",
            "{\"family\": \"api\", \"containerDefinitions\": [".into(),
        ),
        (
            "broken.yaml",
            "family: api\ncontainerDefinitions:\n  - name: [app\n".into(),
        ),
        ("list.json", "[1, 2, 3]".into()),
        (
            "no-family.json",
            json!({ "containerDefinitions": [] }).to_string(),
        ),
        ("web-only.json", def("api", "web")),
        ("billing.json", def("billing", "app")),
        ("notes.txt", "these are notes, not an image\n".repeat(40)),
    ]
}

/// The servers and fixtures one group of rows runs against.
pub struct World {
    pub region: &'static str,
    pub bed: Bed,
    pub sim: EcsSimulator,
    /// A repository that exists (empty) in moto's ECR.
    pub repo: String,
    layout: OciLayout,
    img: BuiltImage,
    fx: tempfile::TempDir,
}

/// Everything a row could change, read from the servers themselves.
#[derive(Debug, PartialEq)]
struct State {
    ecs_changes: BTreeMap<String, usize>,
    serving: String,
    moto_repositories: Vec<String>,
    moto_images: Vec<String>,
    moto_task_definitions: Value,
    registry_catalog: Value,
    registry_tags: Value,
}

impl World {
    pub async fn start() -> World {
        let region = SIM_REGION;
        let bed = Bed::start_synced(region).await;
        let sim = EcsSimulator::start()
            .await
            .expect("start the ECS simulator");
        let seed = ServiceSeed {
            cluster: CLUSTER.into(),
            service: "api".into(),
            scenario: Scenario::HealthyRolling,
            ..ServiceSeed::default()
        };
        sim.seed_service(seed).expect("seed a service");
        let repo = crate::bed::repo_name(WORLD_REPOSITORY);
        bed.create_repository(&repo, "IMMUTABLE").await;
        let (layout, img) = layout_with_image();
        let fx = tempfile::Builder::new()
            .prefix("bad-input-fx-")
            .tempdir()
            .expect("fixtures dir");
        for (name, text) in fixture_files() {
            std::fs::write(fx.path().join(name), text).expect("write fixture");
        }
        std::fs::create_dir(fx.path().join("empty-dir")).expect("create empty dir");
        World {
            region,
            bed,
            sim,
            repo,
            layout,
            img,
            fx,
        }
    }

    fn fill(&self, value: &str) -> String {
        value
            .replace("{fx}", &self.fx.path().display().to_string())
            .replace("{repo}", &self.repo)
            .replace("{100KiB}", &"x".repeat(100 * 1024))
    }

    /// The job `row` starts from, its inputs and environment laid over.
    fn job(&self, row: &Row) -> ActionRun {
        let mut run = ActionRun::new()
            .aws(self.bed.moto.endpoint())
            .env("AWS_ACCESS_KEY_ID", crate::bed::ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", crate::bed::SECRET_KEY)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("OIDC_ECS_DEPLOY_POLL_SECONDS", "0")
            .with("aws-region", self.region);
        for (k, v) in self.sim.env() {
            run = run.env(&k, &v);
        }
        if matches!(row.job, Job::Push | Job::Deploy) {
            run = run
                .with("registry-endpoint", self.bed.reg.endpoint())
                .with("repository", &self.repo)
                .with("image-source", &oci(self.layout.path()))
                .with("image-tag", &unique("t"));
        }
        if matches!(row.job, Job::Rollout | Job::Deploy) {
            run = run.with("cluster", CLUSTER).with("service", "api");
        }
        run = match row.job {
            Job::Rollout => run.with("containers", &format!("app={}", new_image())),
            Job::Deploy => run.with("container-name", "app"),
            _ => run,
        };
        for (k, v) in row.with {
            run = run.with(k, &self.fill(v));
        }
        for (k, v) in row.env {
            run = run.env(k, &self.fill(v));
        }
        run
    }

    async fn state(&self) -> State {
        let moto = self.bed.moto;
        let ecr = |op: &str| format!("{ECR}.{op}");
        let repositories = moto
            .json_in(self.region, "ecr", &ecr("DescribeRepositories"), &json!({}))
            .await
            .expect("DescribeRepositories");
        let mut moto_repositories: Vec<String> = repositories["repositories"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["repositoryName"].as_str().map(str::to_owned))
            .filter(|name| !name.starts_with(&format!("e2e/{WORLD_REPOSITORY}-")))
            .collect();
        moto_repositories.sort();
        let moto_images = self
            .bed
            .moto_images(self.region, &self.repo)
            .await
            .unwrap_or_default()
            .iter()
            .map(|i| i["imageDigest"].to_string())
            .collect();
        let moto_task_definitions = moto
            .json_in(
                self.region,
                "ecs",
                "AmazonEC2ContainerServiceV20141113.ListTaskDefinitions",
                &json!({}),
            )
            .await
            .expect("ListTaskDefinitions")["taskDefinitionArns"]
            .clone();
        let ecs_changes = self
            .sim
            .call_counts()
            .into_iter()
            .filter(|(op, _)| !READS.iter().any(|r| op.starts_with(r)))
            .collect();
        State {
            ecs_changes,
            serving: self
                .sim
                .service(CLUSTER, "api")
                .expect("api")
                .task_definition,
            moto_repositories,
            moto_images,
            moto_task_definitions,
            registry_catalog: self.registry_get("/v2/_catalog").await,
            registry_tags: self
                .registry_get(&format!("/v2/{}/tags/list", self.repo))
                .await,
        }
    }

    async fn registry_get(&self, path: &str) -> Value {
        let (user, password) = self
            .bed
            .reg
            .credentials()
            .expect("the registry has a login");
        let resp = reqwest::Client::new()
            .get(format!("{}{path}", self.bed.reg.endpoint()))
            .basic_auth(user, Some(password))
            .send()
            .await
            .expect("GET the registry");
        let status = resp.status().as_u16();
        json!({ "status": status, "body": resp.json::<Value>().await.unwrap_or(Value::Null) })
    }

    /// Runs `row` and returns what was wrong with it, `None` when it behaved: exit 2; an error
    /// naming the input and saying every `says`; no raw control character and no workflow
    /// command of the input's making in the log; the error bounded; nothing written for later
    /// steps; no change in ECS, moto or the registry.
    pub async fn check(&self, row: &Row) -> Option<String> {
        let before = self.state().await;
        let run = self.job(row).interleaved().run().await;
        let after = self.state().await;
        let mut wrong = Vec::new();
        if run.code != 2 {
            wrong.push(format!("exit {} instead of 2", run.code));
        }
        let block = run.stderr.find("error: ").map(|i| &run.stderr[i..]);
        match block {
            None => wrong.push("no `error:` block on stderr".to_owned()),
            Some(block) => {
                let names = format!("input `{}`", row.input);
                for needle in std::iter::once(names.as_str()).chain(row.says.iter().copied()) {
                    if !block.contains(needle) {
                        wrong.push(format!("the error lacks {needle:?}"));
                    }
                }
            }
        }
        if !run
            .error_annotations()
            .iter()
            .any(|(_, m)| m.contains(row.input))
        {
            wrong.push(format!("no ::error annotation naming `{}`", row.input));
        }
        wrong.extend(log_problems(&run));
        if before != after {
            wrong.push(format!(
                "state changed:\n  before {before:?}\n  after  {after:?}"
            ));
        }
        for (name, _) in &run.outputs {
            if !["aws-account-id", "authenticated-arn"].contains(&name.as_str()) {
                wrong.push(format!("output {name} was set"));
            }
        }
        if !run.env_file_text.is_empty() {
            wrong.push("GITHUB_ENV was written".to_owned());
        }
        for blob in crate::bed::blobs(&self.img) {
            if self.bed.blob_status(&self.repo, &blob).await != 404 {
                wrong.push(format!("blob {blob} was uploaded"));
            }
        }
        (!wrong.is_empty())
            .then(|| format!("{}:\n  {}\n{}", row.name, wrong.join("\n  "), run.dump()))
    }
}

/// What in the step's log could act on the runner or hide from a reader: a raw control or
/// invisible character, a command line carrying the rows' `INJECTED` marker, an error that
/// repeats a huge value.
fn log_problems(run: &Run) -> Vec<String> {
    let mut out = Vec::new();
    for line in run.combined.lines() {
        if let Some(c) = line
            .chars()
            .find(|&c| c != '\t' && oidc_ecs_deploy::runner::is_hidden(c))
        {
            out.push(format!(
                "the log holds the raw character U+{:04X}: {line:?}",
                c as u32
            ));
        }
        let command = line.trim_start().starts_with("::") || line.contains("##[");
        if command && line.contains("INJECTED") && !line.starts_with("::error ") {
            out.push(format!("an input issued a workflow command: {line:?}"));
        }
    }
    if run.combined.len() > 16 * 1024 {
        out.push(format!("the log is {} bytes long", run.combined.len()));
    }
    if run
        .summary
        .chars()
        .any(|c| c != '\n' && c != '\t' && oidc_ecs_deploy::runner::is_hidden(c))
    {
        out.push("the job summary holds a raw control character".to_owned());
    }
    out
}

/// Runs every row against `world` and fails once, listing every row that misbehaved.
pub async fn check_all(world: &World, rows: &[Row]) {
    let mut failed = Vec::new();
    for row in rows {
        if let Some(why) = world.check(row).await {
            failed.push(why);
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} rows misbehaved:\n\n{}",
        failed.len(),
        rows.len(),
        failed.join("\n\n")
    );
}
