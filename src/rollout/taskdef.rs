//! The new task-definition revision, rendered purely from the current one: read a definition
//! file (JSON or YAML, bare or as `describe-task-definition` prints it), turn it into a
//! `RegisterTaskDefinition` request, and point the chosen containers at the pushed image.
//!
//! Definitions stay `serde_json::Value` from end to end (camelCase keys, as the ECS API and CLI
//! spell them): a typed struct would silently drop any field it does not know (secrets options,
//! runtimePlatform, whatever ECS adds next year), and the user would lose it on the next deploy.
//! Only the read-only fields in [`READ_ONLY_FIELDS`] are removed; everything else is kept as the
//! user wrote it. Comparison with the serving revision and the dry-run diff live in `canonical`.

use serde_json::{Map, Value};

use super::imageref::{ImageRef, ImageRefError};

/// Fields `DescribeTaskDefinition` returns that `RegisterTaskDefinition` refuses: ECS sets them.
pub const READ_ONLY_FIELDS: &[&str] = &[
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
];

/// The members of the `RegisterTaskDefinition` request (API reference, 2025). A top-level field
/// outside this list is kept (ECS may have added it after this list was written) and reported in
/// [`Rendered::unknown_fields`] so the caller can warn before ECS refuses it.
pub const REQUEST_FIELDS: &[&str] = &[
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "tags",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "inferenceAccelerators",
    "ephemeralStorage",
    "runtimePlatform",
    "enableFaultInjection",
];

#[derive(Debug, thiserror::Error)]
pub enum TaskDefError {
    #[error(
        "{file} is not valid JSON; fix the syntax at the position below, or name it .yaml if it is YAML"
    )]
    Json {
        file: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{file} is not valid YAML; fix the syntax at the position below")]
    Yaml {
        file: String,
        #[source]
        source: serde_yaml_ng::Error,
    },
    #[error(
        "{file} holds {found}, not a task definition: expected an object with `family` and \
         `containerDefinitions` (or `describe-task-definition` output)"
    )]
    NotAnObject { file: String, found: &'static str },
    #[error(
        "the task definition has no `family`; add `\"family\": \"<name>\"` (it names the \
         revisions ECS registers)"
    )]
    MissingFamily,
    #[error(
        "the task definition has no containerDefinitions; it must list at least one container \
         with a `name` and an `image`"
    )]
    NoContainerDefinitions,
    #[error(
        "there is no container named {name:?} in the task definition (it has: {}); fix \
         `container-name` or `containers`",
        .existing.join(", ")
    )]
    ContainerNotFound { name: String, existing: Vec<String> },
    #[error(
        "no container in the task definition runs an image from {repository} ({}); name the \
         containers to update with `container-name` or `containers`",
        .containers.iter().map(|(n, i)| format!("{n}: {i}")).collect::<Vec<_>>().join(", ")
    )]
    NoContainerFromRepository {
        repository: String,
        containers: Vec<(String, String)>,
    },
    #[error(
        "the image {image:?} for container {container:?} is not a valid image reference; write \
         it as registry/repository[:tag][@sha256:digest]"
    )]
    InvalidImage {
        container: String,
        image: String,
        #[source]
        source: ImageRefError,
    },
}

/// Which containers get which image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageAssignment {
    /// `container-name`, or one `name=image` line of `containers`.
    Container { name: String, image: String },
    /// The default: every container whose image is in the same registry and repository as
    /// `image` (any tag or digest) gets `image`.
    SameRepository { image: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUpdate {
    pub assignments: Vec<ImageAssignment>,
}

impl ImageUpdate {
    /// `container-name`: that container runs `image` (normally `registry/repo@sha256:...`).
    pub fn container(name: impl Into<String>, image: impl Into<String>) -> ImageUpdate {
        let assignment = ImageAssignment::Container {
            name: name.into(),
            image: image.into(),
        };
        ImageUpdate {
            assignments: vec![assignment],
        }
    }

    /// No container named: update every container already running an image of this repository.
    pub fn same_repository(image: impl Into<String>) -> ImageUpdate {
        ImageUpdate {
            assignments: vec![ImageAssignment::SameRepository {
                image: image.into(),
            }],
        }
    }

    /// The `containers` input as validated: one `(name, image)` pair per container.
    pub fn containers<I, N, M>(pairs: I) -> ImageUpdate
    where
        I: IntoIterator<Item = (N, M)>,
        N: Into<String>,
        M: Into<String>,
    {
        let assignments = pairs
            .into_iter()
            .map(|(name, image)| ImageAssignment::Container {
                name: name.into(),
                image: image.into(),
            })
            .collect();
        ImageUpdate { assignments }
    }

    /// The assignments that apply to `def` (either shape), for a deploy whose services run
    /// different families: a named container absent from this family belongs to another one.
    /// Same-repository assignments always apply (render finds the containers).
    pub fn restricted_to(&self, def: &Value) -> ImageUpdate {
        let names: Vec<&str> = containers(def)
            .into_iter()
            .filter_map(|c| c.get("name").and_then(Value::as_str))
            .collect();
        let assignments = self
            .assignments
            .iter()
            .filter(|a| match a {
                ImageAssignment::Container { name, .. } => names.contains(&name.as_str()),
                ImageAssignment::SameRepository { .. } => true,
            })
            .cloned()
            .collect();
        ImageUpdate { assignments }
    }

    /// Container names this update sets, in order (same-repository assignments name none).
    pub fn named_containers(&self) -> Vec<&str> {
        self.assignments
            .iter()
            .filter_map(|a| match a {
                ImageAssignment::Container { name, .. } => Some(name.as_str()),
                ImageAssignment::SameRepository { .. } => None,
            })
            .collect()
    }
}

/// One container whose image the rendering set to a different value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageChange {
    pub container: String,
    pub old: String,
    pub new: String,
}

/// What [`render`] produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The `RegisterTaskDefinition` input, read-only fields removed, `tags` included.
    pub request: Value,
    /// Containers whose image changed, in definition order. Empty on a re-run of the same
    /// image: then the caller should also find [`super::canonical::is_identical`] true.
    pub changed_containers: Vec<ImageChange>,
    /// Top-level fields outside [`REQUEST_FIELDS`], kept as they were; worth a warning.
    pub unknown_fields: Vec<String>,
}

/// Parse a task-definition file: `.json` as JSON, `.yaml`/`.yml` as YAML, anything else by its
/// first character (`{` is JSON). Returns the request shape (see [`request_shape`]) so a file
/// copied from `describe-task-definition` output works as it is.
pub fn parse_task_definition_file(text: &str, file_name: &str) -> Result<Value, TaskDefError> {
    let lower = file_name.to_ascii_lowercase();
    let json = if lower.ends_with(".json") {
        true
    } else if lower.ends_with(".yaml") || lower.ends_with(".yml") {
        false
    } else {
        text.trim_start().starts_with('{')
    };
    let file = file_name.to_string();
    let value: Value = if json {
        serde_json::from_str(text).map_err(|source| TaskDefError::Json {
            file: file.clone(),
            source,
        })?
    } else {
        serde_yaml_ng::from_str(text).map_err(|source| TaskDefError::Yaml {
            file: file.clone(),
            source,
        })?
    };
    if !value.is_object() {
        return Err(TaskDefError::NotAnObject {
            file,
            found: json_kind(&value),
        });
    }
    Ok(request_shape(&value))
}

/// A definition in `RegisterTaskDefinition` shape. Accepts the bare definition or the
/// `describe-task-definition` output `{"taskDefinition": {...}, "tags": [...]}`, whose `tags`
/// move inside (they are a request member); read-only fields are removed. A value that is not
/// an object comes back unchanged (callers check the shape).
pub fn request_shape(value: &Value) -> Value {
    let Some(obj) = value.as_object() else {
        return value.clone();
    };
    let mut def = match obj.get("taskDefinition") {
        Some(Value::Object(inner)) if !obj.contains_key("containerDefinitions") => {
            let mut def = inner.clone();
            if let Some(tags) = obj.get("tags")
                && !def.contains_key("tags")
            {
                def.insert("tags".into(), tags.clone());
            }
            def
        }
        _ => obj.clone(),
    };
    for field in READ_ONLY_FIELDS {
        def.remove(*field);
    }
    // Tags under the reserved `aws:` prefix (CloudFormation puts `aws:cloudformation:*` on what
    // it creates) come back from describe, but RegisterTaskDefinition refuses them: AWS sets
    // them, as it does the read-only fields.
    if let Some(Value::Array(tags)) = def.get_mut("tags") {
        tags.retain(|t| {
            let key = t.get("key").and_then(Value::as_str).unwrap_or_default();
            !key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:"))
        });
    }
    // `tags: []` is what describe prints for an untagged definition; an empty list in the
    // request would only add noise to the request and to the diff.
    if def
        .get("tags")
        .is_some_and(|t| t.as_array().is_some_and(Vec::is_empty) || t.is_null())
    {
        def.remove("tags");
    }
    Value::Object(def)
}

/// The API types these members as strings; a YAML file says `cpu: 256` or `value: 8080` and
/// means the string. Sent as numbers or booleans, ECS would refuse the request, so they are
/// written as the strings the user meant: task `cpu`/`memory`, tag values, each container's
/// environment values, `dockerLabels` and `logConfiguration.options`.
fn coerce_strings(def: &mut Map<String, Value>) {
    fn stringify(v: &mut Value) {
        match v {
            Value::Number(n) => *v = Value::String(n.to_string()),
            Value::Bool(b) => *v = Value::String(b.to_string()),
            _ => {}
        }
    }
    for key in ["cpu", "memory"] {
        if let Some(v) = def.get_mut(key) {
            stringify(v);
        }
    }
    if let Some(Value::Array(tags)) = def.get_mut("tags") {
        tags.iter_mut()
            .filter_map(|t| t.get_mut("value"))
            .for_each(stringify);
    }
    let Some(Value::Array(containers)) = def.get_mut("containerDefinitions") else {
        return;
    };
    for c in containers.iter_mut().filter_map(Value::as_object_mut) {
        if let Some(Value::Array(env)) = c.get_mut("environment") {
            env.iter_mut()
                .filter_map(|e| e.get_mut("value"))
                .for_each(stringify);
        }
        if let Some(Value::Object(labels)) = c.get_mut("dockerLabels") {
            labels.values_mut().for_each(stringify);
        }
        if let Some(Value::Object(options)) = c
            .get_mut("logConfiguration")
            .and_then(|l| l.get_mut("options"))
        {
            options.values_mut().for_each(stringify);
        }
    }
}

/// Render the revision to register: `current` (the serving definition as described, or a file)
/// with the images of the selected containers set. Pure; registers nothing.
pub fn render(current: &Value, update: &ImageUpdate) -> Result<Rendered, TaskDefError> {
    let mut request = request_shape(current);
    let def = request
        .as_object_mut()
        .ok_or(TaskDefError::NoContainerDefinitions)?;
    if !matches!(def.get("family"), Some(Value::String(f)) if !f.is_empty()) {
        return Err(TaskDefError::MissingFamily);
    }
    coerce_strings(def);
    let unknown_fields = def
        .keys()
        .filter(|k| !REQUEST_FIELDS.contains(&k.as_str()))
        .cloned()
        .collect();
    let containers = match def.get_mut("containerDefinitions") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        _ => return Err(TaskDefError::NoContainerDefinitions),
    };

    // Decide every container's new image first, so an error leaves nothing half-applied.
    let mut new_images: Vec<Option<String>> = vec![None; containers.len()];
    for assignment in &update.assignments {
        match assignment {
            ImageAssignment::Container { name, image } => {
                check_image(name, image)?;
                let index = containers
                    .iter()
                    .position(|c| container_name(c) == Some(name.as_str()))
                    .ok_or_else(|| TaskDefError::ContainerNotFound {
                        name: name.clone(),
                        existing: containers.iter().map(display_name).collect(),
                    })?;
                new_images[index] = Some(image.clone());
            }
            ImageAssignment::SameRepository { image } => {
                let pushed = check_image("(pushed image)", image)?;
                let mut any = false;
                for (index, c) in containers.iter().enumerate() {
                    let current = c.get("image").and_then(Value::as_str).unwrap_or_default();
                    // A container image that does not parse is not ours: leave it alone.
                    if ImageRef::parse(current).is_ok_and(|r| r.same_repository(&pushed)) {
                        new_images[index] = Some(image.clone());
                        any = true;
                    }
                }
                if !any {
                    return Err(TaskDefError::NoContainerFromRepository {
                        repository: pushed.repository_name(),
                        containers: containers
                            .iter()
                            .map(|c| {
                                let image = c.get("image").and_then(Value::as_str);
                                (display_name(c), image.unwrap_or("(no image)").to_string())
                            })
                            .collect(),
                    });
                }
            }
        }
    }

    let mut changed_containers = Vec::new();
    for (c, new) in containers.iter_mut().zip(new_images) {
        let Some(new) = new else { continue };
        let old = c
            .get("image")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if old != new {
            changed_containers.push(ImageChange {
                container: display_name(c),
                old,
                new: new.clone(),
            });
        }
        if let Some(obj) = c.as_object_mut() {
            obj.insert("image".into(), Value::String(new));
        }
    }
    Ok(Rendered {
        request,
        changed_containers,
        unknown_fields,
    })
}

fn check_image(container: &str, image: &str) -> Result<ImageRef, TaskDefError> {
    ImageRef::parse(image).map_err(|source| TaskDefError::InvalidImage {
        container: container.to_string(),
        image: image.to_string(),
        source,
    })
}

fn container_name(c: &Value) -> Option<&str> {
    c.get("name").and_then(Value::as_str)
}

fn display_name(c: &Value) -> String {
    container_name(c).unwrap_or("(unnamed)").to_string()
}

pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The containers of a definition in either shape, for callers that print or check them.
pub fn containers(def: &Value) -> Vec<&Map<String, Value>> {
    let def = def
        .get("taskDefinition")
        .filter(|_| def.get("containerDefinitions").is_none())
        .unwrap_or(def);
    def.get("containerDefinitions")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_object).collect())
        .unwrap_or_default()
}

#[cfg(test)]
#[path = "taskdef_tests.rs"]
mod tests;
