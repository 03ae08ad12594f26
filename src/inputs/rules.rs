//! The rule for each input: what a valid value looks like, and the words of the error when it is
//! not. `Validator` walks the inputs stage by stage and records every problem instead of stopping
//! at the first, so `Config::validate` can report them all. This file holds the walk and the
//! rules every stage shares (required, boolean, number, URL, file, list); each stage's own rules
//! are in the module named after it.

mod identity;
mod image;
mod report;
mod rollout;

use std::path::PathBuf;

use super::raw_text;
use super::{InputErrors, InputProblem, RawInputs};
use crate::envvars::EnvVars;

#[cfg(test)]
pub use identity::default_session_name;
pub use identity::{RoleArn, region_is_valid};
pub use image::{ImageSource, Severity};

/// Split a list input: newlines or commas separate items; blanks are dropped.
pub fn split_list(text: &str) -> Vec<String> {
    text.split(['\n', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Walks the inputs and records problems; each stage method returns `None` when that stage had one.
pub(super) struct Validator<'a> {
    raw: &'a RawInputs,
    env: &'a EnvVars,
    problems: Vec<InputProblem>,
    /// Inputs whose text itself is wrong (`raw_text`): that one problem is all they report, so
    /// no other error repeats their hidden characters.
    tainted: Vec<String>,
}

impl<'a> Validator<'a> {
    pub fn new(raw: &'a RawInputs, env: &'a EnvVars) -> Self {
        let mut v = Validator {
            raw,
            env,
            problems: Vec::new(),
            tainted: Vec::new(),
        };
        for (input, value) in &raw.values {
            if let Some((problem, expected)) = raw_text::problem(input, value) {
                v.problem(input, problem, expected);
                v.tainted.push(input.clone());
            }
        }
        v
    }

    pub fn finish(self) -> Result<(), InputErrors> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(InputErrors(self.problems))
        }
    }

    fn problem(&mut self, input: &str, problem: impl Into<String>, expected: impl Into<String>) {
        if self.tainted.iter().any(|t| t == input) {
            return;
        }
        self.problems.push(InputProblem {
            input: input.to_owned(),
            problem: raw_text::bounded(&problem.into()),
            expected: expected.into(),
        });
    }

    fn get(&self, input: &str) -> Option<&'a str> {
        self.raw.get(input)
    }

    /// Each of `inputs` that is set gets `problem`: it means something only with another input,
    /// which is empty (`expected` says which).
    fn only_with(&mut self, inputs: &[&str], problem: &str, expected: &str) {
        for input in inputs {
            if self.get(input).is_some() {
                self.problem(input, problem, expected);
            }
        }
    }

    fn required(&mut self, input: &str, why: &str) -> Option<&'a str> {
        let value = self.get(input);
        if value.is_none() {
            self.problem(input, format!("is required {why}"), "");
        }
        value
    }

    /// `@actions/core`'s getBooleanInput accepts exactly these spellings; so do we.
    fn boolean(&mut self, input: &str) -> bool {
        match self.get(input) {
            None => false,
            Some("true" | "True" | "TRUE") => true,
            Some("false" | "False" | "FALSE") => false,
            Some(other) => {
                self.problem(
                    input,
                    format!("`{other}` is not a boolean"),
                    "`true` or `false`",
                );
                false
            }
        }
    }

    fn integer(
        &mut self,
        input: &str,
        range: std::ops::RangeInclusive<u64>,
        unit: &str,
    ) -> Option<u64> {
        let text = self.get(input)?;
        match text.parse::<u64>() {
            Ok(n) if range.contains(&n) => Some(n),
            _ => {
                let expected = format!(
                    "a whole number of {unit} from {} to {}",
                    range.start(),
                    range.end()
                );
                self.problem(
                    input,
                    format!("`{text}` is out of range or not a number"),
                    expected,
                );
                None
            }
        }
    }

    /// An http(s) URL (what a browser or a probe can open), or a problem naming `example`.
    fn http_url(&mut self, input: &str, example: &str) -> Option<String> {
        let url = self.get(input)?;
        if !(url.starts_with("http://") || url.starts_with("https://"))
            || url.contains(char::is_whitespace)
        {
            self.problem(
                input,
                format!("`{url}` is not an http(s) URL"),
                format!("a URL such as `{example}`"),
            );
            return None;
        }
        Some(url.to_owned())
    }

    fn existing_file(&mut self, input: &str) -> Option<PathBuf> {
        let path = PathBuf::from(self.get(input)?);
        if path.is_file() {
            Some(path)
        } else {
            let cwd = std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default();
            self.problem(
                input,
                format!(
                    "file `{}` does not exist (working directory: {cwd})",
                    path.display()
                ),
                "a path to a readable file",
            );
            None
        }
    }
}
