//! The README's input and output tables against action.yml, the contract the binary embeds:
//! every declared input has a row in a table headed `input` showing its default (or
//! `(required)`), and every declared output a row in a table headed `output`. A table row may
//! name several inputs in its first cell (`` `a`, `b` ``). The failure lists every missing row
//! as the line to add, so a new input cannot ship undocumented.

use std::collections::BTreeMap;

/// One input or output as action.yml declares it.
#[derive(Debug, Clone, PartialEq)]
struct Declared {
    name: String,
    default: Option<String>,
    required: bool,
}

/// A README table row: the names in its first cell (between backticks) and its second cell.
#[derive(Debug)]
struct Row {
    names: Vec<String>,
    second: String,
}

fn declared(action_yml: &str, section: &str) -> Vec<Declared> {
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(action_yml).expect("action.yml is YAML");
    let map = doc[section]
        .as_mapping()
        .unwrap_or_else(|| panic!("action.yml has no `{section}` map"));
    map.iter()
        .map(|(name, spec)| Declared {
            name: name.as_str().expect("a string key").to_owned(),
            default: spec.get("default").map(|d| match d {
                serde_yaml_ng::Value::String(s) => s.clone(),
                other => serde_yaml_ng::to_string(other).unwrap().trim().to_owned(),
            }),
            required: spec
                .get("required")
                .and_then(|r| r.as_bool())
                .unwrap_or(false),
        })
        .collect()
}

/// The rows of every markdown table whose header's first cell is `header`.
fn table_rows(readme: &str, header: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut in_table = false;
    for line in readme.lines() {
        let line = line.trim();
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if cells.first().is_some_and(|c| *c == header) {
            in_table = true;
            continue;
        }
        if !in_table
            || cells
                .iter()
                .all(|c| c.chars().all(|ch| ch == '-' || ch == ':'))
        {
            continue;
        }
        let names = cells[0]
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect();
        rows.push(Row {
            names,
            second: cells.get(1).copied().unwrap_or("").to_owned(),
        });
    }
    rows
}

/// What is missing from the README for these declarations, one message per problem, each
/// naming the row to add or fix.
fn missing_rows(readme: &str, decl: &[Declared], header: &str) -> Vec<String> {
    let rows = table_rows(readme, header);
    let by_name: BTreeMap<&str, &Row> = rows
        .iter()
        .flat_map(|r| r.names.iter().map(move |n| (n.as_str(), r)))
        .collect();
    let mut problems = Vec::new();
    for d in decl {
        let want_default = match (&d.default, d.required) {
            (Some(v), _) => Some(format!("`{v}`")),
            (None, true) => Some("(required)".to_owned()),
            (None, false) => None,
        };
        match by_name.get(d.name.as_str()) {
            None if header == "input" => problems.push(format!(
                "README.md has no row for input `{}`: add `| `{}` | {} | ... |` to an `| input | default | |` table",
                d.name,
                d.name,
                want_default.as_deref().unwrap_or("")
            )),
            None => problems.push(format!(
                "README.md has no row for output `{}`: add `| `{}` | ... |` to an `| output | |` table",
                d.name, d.name
            )),
            Some(row) => {
                if let Some(want) = want_default.filter(|w| !row.second.contains(w.as_str())) {
                    problems.push(format!(
                        "README.md's row for input `{}` shows the default \"{}\", but action.yml declares {want}: put {want} in its second cell",
                        d.name, row.second
                    ));
                }
            }
        }
    }
    problems
}

fn repo_file(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_input_of_action_yml_has_a_readme_row_with_its_default() {
    let decl = declared(&repo_file("action.yml"), "inputs");
    assert!(
        decl.len() > 20,
        "action.yml's inputs were not read: {decl:?}"
    );
    let problems = missing_rows(&repo_file("README.md"), &decl, "input");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_output_of_action_yml_has_a_readme_row() {
    let decl = declared(&repo_file("action.yml"), "outputs");
    assert!(
        decl.len() >= 10,
        "action.yml's outputs were not read: {decl:?}"
    );
    let problems = missing_rows(&repo_file("README.md"), &decl, "output");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The checker itself, on a small README: each way a row can be wrong is reported, by name.
#[test]
fn the_check_names_each_missing_or_wrong_row() {
    let action = "inputs:
  region: {required: true}
  wait: {default: \"30\"}
  token: {default: '${{ github.token }}'}
  url: {}
  successes: {default: \"3\"}
outputs:
  arn: {}
  digest: {}
";
    let readme = "
| input | default | |
| --- | --- | --- |
| `region` | | no (required) here |
| `wait` | `15` | wrong default |
| `url`, `successes` | `3` | one row, two inputs |

| output | |
| --- | --- |
| `arn` | |
";
    let inputs = missing_rows(readme, &declared(action, "inputs"), "input");
    assert_eq!(
        inputs,
        vec![
            "README.md's row for input `region` shows the default \"\", but action.yml declares (required): put (required) in its second cell",
            "README.md's row for input `wait` shows the default \"`15`\", but action.yml declares `30`: put `30` in its second cell",
            "README.md has no row for input `token`: add `| `token` | `${{ github.token }}` | ... |` to an `| input | default | |` table",
        ]
    );
    let outputs = missing_rows(readme, &declared(action, "outputs"), "output");
    assert_eq!(
        outputs,
        vec![
            "README.md has no row for output `digest`: add `| `digest` | ... |` to an `| output | |` table"
        ]
    );
}
