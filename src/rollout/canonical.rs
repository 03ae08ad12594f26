//! Comparing task definitions the way ECS means them: is the serving revision already what we
//! would register (so a re-run registers nothing), and what would change (the dry-run diff).
//!
//! Both go through [`canonical`], which rewrites a definition so that two spellings ECS treats
//! as the same definition become the same JSON. Each normalisation is one ECS documents or that
//! `describe-task-definition` shows it applying to what was registered:
//! - the `describe-task-definition` shape is unwrapped and read-only fields are dropped
//!   (`taskdef::request_shape`);
//! - a member that is null, `[]` or `{}` is absent (`volumes: []`, `placementConstraints: []`,
//!   `environment: []`, `mountPoints: []`, `volumesFrom: []`, `dockerLabels: {}`, ...): describe
//!   prints empty lists for members that were never set;
//! - a float with an integral value is that integer (`256.0` from a YAML tool is `256`);
//! - task `cpu`/`memory` are strings of units: `256`, `"256"`, `"0.25 vCPU"` are equal, as are
//!   `512`, `"512"`, `"0.5GB"` (ECS converts the unit forms when registering);
//! - `networkMode: bridge` is the Linux default and equals its absence;
//! - `requiresCompatibilities` is a set (sorted); `tags` sorted by key;
//! - containers are compared by name, not position; `environment` and `secrets` sorted by name;
//! - a container's `essential: true` equals its absence (the ECS default), as do `cpu: 0` and
//!   `versionConsistency: enabled`;
//! - tags under the reserved `aws:` prefix are dropped (AWS sets them; register refuses them);
//! - a port mapping's `protocol: tcp` equals its absence; `hostPort` equal to `containerPort`
//!   under `awsvpc`/`host` (ECS fills it in) and `hostPort: 0` under `bridge` (dynamic port)
//!   equal its absence;
//! - `healthCheck` `interval: 30`, `timeout: 5`, `retries: 3` equal their absence (ECS defaults).
//!
//! Every normalisation errs one way only: it may call two definitions different that ECS would
//! call equal (one extra revision registered, harmless), never the reverse (which would skip a
//! change the user asked for).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::taskdef::request_shape;

/// Does `serving` (as `DescribeTaskDefinition` returned it, with `include: ["TAGS"]` so tags
/// compare) define the same tasks as `rendered` (a `RegisterTaskDefinition` request)?
pub fn is_identical(rendered: &Value, serving: &Value) -> bool {
    canonical(rendered) == canonical(serving)
}

/// The canonical form described in the module doc. Total: a value that is not a definition is
/// returned with only the generic rules (empties, numbers) applied.
pub fn canonical(def: &Value) -> Value {
    let mut v = request_shape(def);
    integral_numbers(&mut v);
    if let Some(def) = v.as_object_mut() {
        canonical_task(def);
    }
    drop_empty(&mut v);
    v
}

fn canonical_task(def: &mut Map<String, Value>) {
    for (key, per_vcpu) in [("cpu", "vcpu"), ("memory", "gb")] {
        if let Some(units) = def.get(key).and_then(|v| task_units(v, per_vcpu)) {
            def.insert(key.into(), Value::String(units.to_string()));
        }
    }
    if def.get("networkMode").and_then(Value::as_str) == Some("bridge") {
        def.remove("networkMode");
    }
    let network = def
        .get("networkMode")
        .and_then(Value::as_str)
        .unwrap_or("bridge")
        .to_string();
    if let Some(Value::Array(list)) = def.get_mut("requiresCompatibilities") {
        list.sort_by_key(|v| v.to_string());
    }
    if let Some(Value::Array(tags)) = def.get_mut("tags") {
        tags.sort_by_key(|t| t.get("key").map(|k| k.to_string()));
    }
    if let Some(Value::Array(containers)) = def.get_mut("containerDefinitions") {
        containers.sort_by_key(|c| c.get("name").map(|n| n.to_string()));
        for c in containers.iter_mut().filter_map(Value::as_object_mut) {
            canonical_container(c, &network);
        }
    }
}

fn canonical_container(c: &mut Map<String, Value>, network: &str) {
    if c.get("essential") == Some(&Value::Bool(true)) {
        c.remove("essential");
    }
    if c.get("cpu").and_then(Value::as_i64) == Some(0) {
        c.remove("cpu");
    }
    // The documented default of image-digest resolution ("software version consistency").
    if c.get("versionConsistency").and_then(Value::as_str) == Some("enabled") {
        c.remove("versionConsistency");
    }
    for key in ["environment", "secrets"] {
        if let Some(Value::Array(list)) = c.get_mut(key) {
            list.sort_by_key(|e| e.get("name").map(|n| n.to_string()));
        }
    }
    if let Some(Value::Array(ports)) = c.get_mut("portMappings") {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            if p.get("protocol").and_then(Value::as_str) == Some("tcp") {
                p.remove("protocol");
            }
            let host = p.get("hostPort").and_then(Value::as_i64);
            let container = p.get("containerPort").and_then(Value::as_i64);
            let implied = match network {
                "awsvpc" | "host" => host.is_some() && host == container,
                "bridge" => host == Some(0),
                _ => false,
            };
            if implied {
                p.remove("hostPort");
            }
        }
    }
    if let Some(Value::Object(hc)) = c.get_mut("healthCheck") {
        for (key, default) in [("interval", 30), ("timeout", 5), ("retries", 3)] {
            if hc.get(key).and_then(Value::as_i64) == Some(default) {
                hc.remove(key);
            }
        }
    }
}

/// Task-level cpu or memory as ECS stores it: units (CPU units, MiB). Accepts a number, a
/// numeric string, or ECS's unit strings (`"1 vCPU"`, `"0.25 vcpu"`, `"2GB"`, `"0.5 GB"`).
fn task_units(v: &Value, unit: &str) -> Option<u64> {
    if let Some(n) = v.as_u64() {
        return Some(n);
    }
    let s = v.as_str()?.trim().to_ascii_lowercase();
    if let Ok(n) = s.parse::<u64>() {
        return Some(n);
    }
    let number = s.strip_suffix(unit)?.trim().parse::<f64>().ok()?;
    let units = number * 1024.0;
    (units >= 0.0 && units.fract() == 0.0).then_some(units as u64)
}

fn integral_numbers(v: &mut Value) {
    match v {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() == 0.0 && f.abs() < 9.0e15 {
                *v = Value::from(f as i64);
            }
        }
        Value::Array(list) => list.iter_mut().for_each(integral_numbers),
        Value::Object(map) => map.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

/// Bottom-up, so an object emptied by its own empties goes too.
fn drop_empty(v: &mut Value) {
    match v {
        Value::Array(list) => list.iter_mut().for_each(drop_empty),
        Value::Object(map) => {
            map.values_mut().for_each(drop_empty);
            map.retain(|_, v| !is_empty(v));
        }
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// A leaf of the flattened definition; secrets compare by content but never print it.
#[derive(Debug, Clone, PartialEq)]
enum Leaf {
    Shown(String),
    Hidden(String),
}

/// Human-readable lines for `dry-run`, in a stable (path) order, from `before` (serving) to
/// `after` (rendered), both compared in canonical form so defaults and read-only fields make
/// no noise. Lists of named things are keyed by name (`containerDefinitions[api].image`,
/// `environment[LOG_LEVEL]`, `tags[team]`), so reordering shows nothing. `secrets` and
/// `secretOptions` print by name only (`repositoryCredentials` as changed or not): their ARNs
/// name accounts and secret paths,
/// which do not belong in a CI log. Environment values print: ECS does not treat them as secret
/// (it shows them to anyone who can describe the definition).
pub fn diff(before: &Value, after: &Value) -> Vec<String> {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    // Not a definition (no serving revision yet: a first deploy) diffs as an empty one.
    for (v, out) in [(before, &mut a), (after, &mut b)] {
        let v = canonical(v);
        if v.is_object() {
            flatten(&v, String::new(), false, out);
        }
    }
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut lines = Vec::new();
    for key in keys {
        let line = match (a.get(key), b.get(key)) {
            (Some(x), Some(y)) if x == y => continue,
            (Some(Leaf::Hidden(_)), Some(_)) | (Some(_), Some(Leaf::Hidden(_))) => {
                format!("{key}: changed")
            }
            (None, Some(Leaf::Hidden(_))) => format!("{key}: added"),
            (Some(Leaf::Hidden(_)), None) => format!("{key}: removed"),
            (Some(Leaf::Shown(x)), Some(Leaf::Shown(y))) => format!("{key}: {x} -> {y}"),
            (None, Some(Leaf::Shown(y))) => format!("{key}: (none) -> {y}"),
            (Some(Leaf::Shown(x)), None) => format!("{key}: {x} -> (none)"),
            (None, None) => continue,
        };
        lines.push(line);
    }
    lines
}

fn flatten(v: &Value, path: String, hidden: bool, out: &mut BTreeMap<String, Leaf>) {
    let leaf = |s: String| {
        if hidden {
            Leaf::Hidden(s)
        } else {
            Leaf::Shown(s)
        }
    };
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if k == "repositoryCredentials" {
                    // The ARN of the registry credentials secret: shown as changed, never printed.
                    out.insert(p, Leaf::Hidden(child.to_string()));
                } else {
                    flatten(child, p, hidden, out);
                }
            }
        }
        Value::Array(list) if list.iter().all(Value::is_object) => {
            let key_field = ["name", "key", "containerName", "sourceVolume"]
                .into_iter()
                .find(|f| list.iter().all(|e| e.get(*f).is_some_and(Value::is_string)));
            let last = path.rsplit('.').next().unwrap_or_default();
            let secret = hidden || last == "secrets" || last == "secretOptions";
            for (i, e) in list.iter().enumerate() {
                let id = key_field
                    .and_then(|f| e.get(f).and_then(Value::as_str))
                    .map_or_else(|| i.to_string(), str::to_string);
                let p = format!("{path}[{id}]");
                if secret {
                    // One leaf per secret: its name is in the path, its content never printed.
                    out.insert(p, Leaf::Hidden(e.to_string()));
                } else if let (Some(f), Some(obj)) = (key_field, e.as_object()) {
                    // The key is in the path already; an element that is only its key still
                    // shows up (as present) when it is added or removed.
                    let mut rest = obj.clone();
                    rest.remove(f);
                    if rest.is_empty() {
                        out.insert(p, Leaf::Shown("(present)".into()));
                    } else {
                        flatten(&Value::Object(rest), p, false, out);
                    }
                } else {
                    flatten(e, p, false, out);
                }
            }
        }
        Value::String(s) => {
            out.insert(path, leaf(s.clone()));
        }
        other => {
            out.insert(path, leaf(other.to_string()));
        }
    }
}

#[cfg(test)]
#[path = "canonical_tests.rs"]
mod tests;
