//! The rollout inputs: the cluster and services, which container gets which image
//! (`container-name`, `containers`), the task definition file, and how the deploy is waited for,
//! gated and rolled back.

use std::path::PathBuf;
use std::time::Duration;

use super::{Validator, split_list};
use crate::inputs::RolloutConfig;
use crate::inputs::ecs_names::{self, NAME_RULE};
use crate::rollout::busy::WhenBusy;

impl Validator<'_> {
    pub fn rollout(&mut self) -> Option<Option<RolloutConfig>> {
        let before = self.problems.len();
        let wait_minutes = self
            .integer("wait-for-minutes", 1..=360, "minutes")
            .unwrap_or(30);
        let health_check_successes = self
            .integer("health-check-successes", 1..=100, "answers")
            .unwrap_or(3) as u32;
        let force_new_deployment = self.boolean("force-new-deployment");
        let rollback = self.get("rollback").is_none() || self.boolean("rollback");
        let dry_run = self.boolean("dry-run");
        let show_task_logs = self.get("show-task-logs").is_none() || self.boolean("show-task-logs");
        let health_check_url = self.http_url("health-check-url", "https://api.example.com/healthz");
        let wait_until = match self.get("wait-until").map(str::parse) {
            None => Default::default(),
            Some(Ok(until)) => until,
            Some(Err(crate::rollout::deployment_verdict::WaitUntilError(bad))) => {
                self.problem(
                    "wait-until",
                    format!("is `{bad}`"),
                    "`steady` (the default), `traffic-shifted` or `started`",
                );
                Default::default()
            }
        };
        let mut containers = Vec::new();
        // One `name=image` a line; blank lines and `#` comments skipped.
        for line in self
            .get("containers")
            .map(|c| {
                c.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
        {
            match line.split_once('=') {
                Some((name, _))
                    if containers
                        .iter()
                        .any(|(n, _): &(String, String)| n == name.trim()) =>
                {
                    self.problem(
                        "containers",
                        format!("names `{}` twice", name.trim()),
                        "one line per container",
                    )
                }
                Some((name, image)) if !name.trim().is_empty() && !image.trim().is_empty() => {
                    containers.push((name.trim().to_owned(), image.trim().to_owned()))
                }
                _ => self.problem(
                    "containers",
                    format!("line `{line}` is not `name=image`"),
                    "one `container-name=image` per line",
                ),
            }
        }
        let task_definition = self.task_definition_file();
        let when_busy = self.when_busy();
        let Some(cluster) = self.get("cluster") else {
            self.only_with(
                &[
                    "service",
                    "container-name",
                    "containers",
                    "task-definition",
                    "health-check-url",
                ],
                "is set but `cluster` is empty, so nothing would be deployed",
                "`cluster` set as well, or this input removed",
            );
            return (self.problems.len() == before).then_some(None);
        };
        let services = self
            .required("service", "when `cluster` is set")
            .map(split_list)
            .unwrap_or_default();
        self.ecs_names(cluster, &services, &containers);
        if self.problems.len() > before {
            return None;
        }
        Some(Some(RolloutConfig {
            cluster: cluster.to_owned(),
            services,
            container_name: self.get("container-name").map(str::to_owned),
            containers,
            task_definition,
            wait: Duration::from_secs(wait_minutes * 60),
            force_new_deployment,
            rollback,
            dry_run,
            health_check_url,
            health_check_successes,
            wait_until,
            when_busy,
            show_task_logs,
        }))
    }

    /// The cluster, services and containers are names ECS would accept, in the run's region, and
    /// each container gets one image from one input.
    fn ecs_names(&mut self, cluster: &str, services: &[String], containers: &[(String, String)]) {
        let region = self.get("aws-region").unwrap_or_default();
        let in_region = |v: &mut Self, input: &str, arn_region: Option<&str>| {
            if let Some(r) = arn_region.filter(|r| *r != region) {
                v.problem(
                    input,
                    format!("the ARN is in region `{r}` but `aws-region` is `{region}`"),
                    format!("an ARN in `{region}`, or the name alone"),
                );
            }
        };
        match ecs_names::check_cluster(cluster) {
            Ok(arn_region) => in_region(self, "cluster", arn_region),
            Err(why) => self.problem(
                "cluster",
                why,
                format!("a cluster name ({NAME_RULE}) or ARN (`arn:aws:ecs:REGION:ACCOUNT:cluster/NAME`)"),
            ),
        }
        for (i, service) in services.iter().enumerate() {
            match ecs_names::check_service(service) {
                Ok(arn_region) => in_region(self, "service", arn_region),
                Err(why) => self.problem(
                    "service",
                    why,
                    format!("service names ({NAME_RULE}) or ARNs, newline or comma separated"),
                ),
            }
            if services[..i].contains(service) {
                self.problem(
                    "service",
                    format!("names `{service}` twice"),
                    "each service once",
                );
            }
        }
        let named = self.get("container-name");
        for name in named
            .iter()
            .copied()
            .chain(containers.iter().map(|(n, _)| n.as_str()))
        {
            let input = if Some(name) == named {
                "container-name"
            } else {
                "containers"
            };
            if let Err(why) = ecs_names::check_container_name(name) {
                self.problem(
                    input,
                    why,
                    format!("a container name ({NAME_RULE}) as the task definition has it"),
                );
            }
        }
        for (_, image) in containers {
            if let Err(why) = ecs_names::check_image(image) {
                self.problem(
                    "containers",
                    why,
                    "`name=registry/repository:tag` or `name=registry/repository@sha256:...`",
                );
            }
        }
        if let Some(name) = named {
            if containers.iter().any(|(n, _)| n == name) {
                self.problem(
                    "container-name",
                    format!("`{name}` is also given an image by `containers`"),
                    "each container in one of the two inputs",
                );
            }
            if self.get("image-source").is_none() {
                self.problem(
                    "container-name",
                    format!("`{name}` would get the pushed image, but `image-source` is empty, so this run pushes none"),
                    "`image-source` and `repository` set as well, or the image given with `containers: name=registry/repo@sha256:...`",
                );
            }
        }
    }

    /// `task-definition`: a readable JSON or YAML file holding a task definition with a family and
    /// containers (whether its containers are the ones named is for the plan, which knows the services).
    fn task_definition_file(&mut self) -> Option<PathBuf> {
        let path = self.existing_file("task-definition")?;
        let expected = "a task definition in JSON or YAML with `family` and `containerDefinitions` (e.g. `aws ecs describe-task-definition` output)";
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                self.problem(
                    "task-definition",
                    format!("cannot read `{}`: {e}", path.display()),
                    expected,
                );
                return None;
            }
        };
        let shown = path.display().to_string();
        let def = match crate::rollout::parse_task_definition_file(&text, &shown) {
            Ok(def) => def,
            Err(e) => {
                let cause = std::error::Error::source(&e)
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default();
                self.problem("task-definition", format!("{e}{cause}"), expected);
                return None;
            }
        };
        let has_containers = def["containerDefinitions"]
            .as_array()
            .is_some_and(|c| !c.is_empty());
        if !def["family"].is_string() || !has_containers {
            self.problem(
                "task-definition",
                format!("`{shown}` has no `family` or no `containerDefinitions`"),
                expected,
            );
            return None;
        }
        Some(path)
    }

    /// `when-busy`: `wait` (the default), `refuse` or `replace`.
    fn when_busy(&mut self) -> WhenBusy {
        let text = self.get("when-busy").unwrap_or("wait");
        WhenBusy::parse(text).unwrap_or_else(|| {
            self.problem(
                "when-busy",
                format!("`{text}` is not a choice"),
                WhenBusy::CHOICES,
            );
            WhenBusy::default()
        })
    }
}
