//! The workflows against action.yml: the image the action runs is the one release.yml publishes
//! for this version, and the reusable deploy workflow and the example hand the action only
//! inputs it declares and map only outputs it sets. (Their syntax and security are checked by
//! check-jsonschema and zizmor in scripts/test.sh.)

use std::collections::BTreeSet;

use serde_yaml_ng::Value;

fn yaml(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn keys(map: &Value) -> BTreeSet<String> {
    map.as_mapping()
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The steps of every job that use this repository's action, by job name.
fn action_steps(workflow: &Value) -> Vec<(String, Value)> {
    let jobs = workflow["jobs"].as_mapping().expect("jobs");
    let mut found = Vec::new();
    for (job, spec) in jobs {
        for step in spec["steps"].as_sequence().into_iter().flatten() {
            if step["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("oidc-ecs-deploy/oidc-ecs-deploy@"))
            {
                found.push((job.as_str().unwrap().to_owned(), step.clone()));
            }
        }
    }
    found
}

#[test]
fn the_action_runs_the_image_release_publishes_for_this_major_version() {
    let action = yml_image();
    let major = env!("CARGO_PKG_VERSION").split('.').next().unwrap();
    // release.yml publishes ghcr.io/<repository, lower-cased> under vX.Y.Z, vX.Y and vX.
    assert_eq!(
        action,
        format!("docker://ghcr.io/oidc-ecs-deploy/oidc-ecs-deploy:v{major}")
    );
}

fn yml_image() -> String {
    yaml("action.yml")["runs"]["image"]
        .as_str()
        .expect("runs.image")
        .to_owned()
}

#[test]
fn workflows_pass_the_action_only_declared_inputs() {
    let declared = keys(&yaml("action.yml")["inputs"]);
    for file in [
        ".github/workflows/deploy.yml",
        "examples/.github/workflows/deploy.yml",
    ] {
        let steps = action_steps(&yaml(file));
        assert!(!steps.is_empty(), "{file} does not use the action");
        for (job, step) in steps {
            let unknown: Vec<String> = keys(&step["with"]).difference(&declared).cloned().collect();
            assert!(
                unknown.is_empty(),
                "{file}, job {job}: the action declares no input {unknown:?} (action.yml)"
            );
        }
    }
}

#[test]
fn the_reusable_workflow_maps_only_outputs_the_action_sets() {
    let declared = keys(&yaml("action.yml")["outputs"]);
    let workflow = yaml(".github/workflows/deploy.yml");
    let job_outputs = &workflow["jobs"]["deploy"]["outputs"];
    for (name, value) in job_outputs.as_mapping().expect("jobs.deploy.outputs") {
        let value = value.as_str().unwrap();
        let output = value
            .strip_prefix("${{ steps.deploy.outputs.")
            .and_then(|v| v.strip_suffix(" }}"))
            .unwrap_or_else(|| {
                panic!("jobs.deploy.outputs.{name:?} is not a step output of the action: {value}")
            });
        assert!(
            declared.contains(output),
            "jobs.deploy.outputs.{name:?}: the action sets no output {output} (action.yml)"
        );
    }
    // Every workflow output reads a job output of the same name.
    for (name, spec) in workflow["on"]["workflow_call"]["outputs"]
        .as_mapping()
        .expect("outputs")
    {
        let name = name.as_str().unwrap();
        assert_eq!(
            spec["value"].as_str(),
            Some(format!("${{{{ jobs.deploy.outputs.{name} }}}}").as_str())
        );
        assert!(
            !job_outputs[name].is_null(),
            "workflow output {name} has no job output"
        );
    }
}
