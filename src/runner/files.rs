//! The runner's files: `GITHUB_OUTPUT` (step outputs), `GITHUB_ENV` (env for later steps), both
//! in the `NAME<<DELIMITER` heredoc format, and `GITHUB_STEP_SUMMARY` (markdown, one section per
//! stage, kept under GitHub's size limit), plus the small markdown helpers the summary needs.
//!
//! Every `set`/`append` writes at once, in append mode and in one `write_all`, so that outputs set
//! before a later stage fails still reach the runner. When the variable is absent (the CLI, or a
//! test) nothing is written to disk; `written()` lists what was set so the CLI can print it.
//! The writes are small and synchronous on purpose: no reason to involve the async runtime.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::envvars::EnvVars;

/// GitHub drops a step summary larger than this (docs: "each step is restricted to a maximum
/// size of 1MiB"): the summary file is cut to stay under it, saying so, whatever ECS returned.
pub const SUMMARY_LIMIT: u64 = 1024 * 1024;
/// One block's share of the summary: a stage that quotes a lot of outside text (service events,
/// log lines) leaves room for the stages and the failure report after it.
pub const SECTION_LIMIT: usize = 256 * 1024;
/// Ends a block that was cut.
const CUT_NOTE: &str =
    "\n\n*(cut here: GitHub keeps at most 1 MiB of job summary per step; the log has the rest)*";

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error(
        "`{name}` is not a valid output name: use only letters, digits, `_` and `-`, so that `steps.<id>.outputs.<name>` can refer to it"
    )]
    InvalidOutputName { name: String },
    #[error(
        "`{name}` is not a valid environment variable name: it must match [A-Za-z_][A-Za-z0-9_]*"
    )]
    InvalidEnvName { name: String },
    #[error("`{name}` cannot be set through GITHUB_ENV: {why}")]
    ReservedEnvName { name: String, why: &'static str },
    #[error(
        "could not find a heredoc delimiter that does not occur in the value of `{name}` (three random delimiters all occurred in it)"
    )]
    DelimiterCollision { name: String },
    #[error("could not append to the file named by {variable} ({})", path.display())]
    Write {
        variable: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// What differs between the two `NAME<<DELIMITER` files: the variable naming the file, and
/// which names it accepts.
pub trait KeyValueKind {
    const VARIABLE: &'static str;
    fn check_name(name: &str) -> Result<(), FileError>;
}

/// A `NAME<<DELIMITER` file: where it is (if anywhere) and what was set, last value per name.
#[derive(Debug)]
pub struct KeyValueFile<K: KeyValueKind> {
    path: Option<PathBuf>,
    written: Vec<(String, String)>,
    kind: std::marker::PhantomData<K>,
}

/// Step outputs (`GITHUB_OUTPUT`).
pub type OutputFile = KeyValueFile<Outputs>;
/// Environment for later steps (`GITHUB_ENV`).
pub type EnvFile = KeyValueFile<LaterStepEnv>;

impl<K: KeyValueKind> KeyValueFile<K> {
    /// The file named by the kind's variable, or memory only when it is unset.
    pub fn from_env(env: &EnvVars) -> Self {
        Self::new(env.non_empty(K::VARIABLE).map(PathBuf::from))
    }

    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self::new(Some(path.into()))
    }

    pub fn in_memory() -> Self {
        Self::new(None)
    }

    fn new(path: Option<PathBuf>) -> Self {
        KeyValueFile {
            path,
            written: Vec::new(),
            kind: std::marker::PhantomData,
        }
    }

    /// Sets a name now, after the kind's name check.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), FileError> {
        K::check_name(name)?;
        let record = heredoc(name, value, random_delimiter)?;
        if let Some(path) = &self.path {
            append(K::VARIABLE, path, &record)?;
        }
        // The runner keeps the last value of a name set twice; so does the list.
        match self.written.iter_mut().find(|(n, _)| n == name) {
            Some(entry) => entry.1 = value.to_string(),
            None => self.written.push((name.to_string(), value.to_string())),
        }
        Ok(())
    }

    /// What was set, in first-set order, with the last value of each name.
    pub fn written(&self) -> &[(String, String)] {
        &self.written
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

#[derive(Debug)]
pub struct Outputs;

impl KeyValueKind for Outputs {
    const VARIABLE: &'static str = "GITHUB_OUTPUT";

    /// Names are limited to `[A-Za-z0-9_-]`: anything else cannot be referenced from an
    /// expression, and `=`/`<<` would corrupt the file.
    fn check_name(name: &str) -> Result<(), FileError> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(FileError::InvalidOutputName {
                name: name.to_string(),
            });
        }
        Ok(())
    }
}

#[derive(Debug)]
pub struct LaterStepEnv;

impl KeyValueKind for LaterStepEnv {
    const VARIABLE: &'static str = "GITHUB_ENV";

    /// Refused up front, with the reason, where the runner would refuse or ignore it later:
    /// `NODE_OPTIONS` in any case (the runner fails the step since v2.309.0), and the runner's
    /// own `GITHUB_*` / `RUNNER_*` (GitHub documents that they cannot be overwritten).
    fn check_name(name: &str) -> Result<(), FileError> {
        let mut chars = name.chars();
        let valid = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(FileError::InvalidEnvName {
                name: name.to_string(),
            });
        }
        let reserved = |why| {
            Err(FileError::ReservedEnvName {
                name: name.to_string(),
                why,
            })
        };
        if name.eq_ignore_ascii_case("NODE_OPTIONS") {
            return reserved(
                "the runner refuses NODE_OPTIONS from GITHUB_ENV, as it would run code in every later Node action",
            );
        }
        if name.starts_with("GITHUB_") || name.starts_with("RUNNER_") {
            return reserved(
                "GITHUB_* and RUNNER_* variables belong to the runner and cannot be overwritten",
            );
        }
        Ok(())
    }
}

/// `ghadelimiter_<uuid-shaped random hex>`, the shape actions/toolkit uses. Fresh per record: a
/// fixed delimiter could be planted in a value (an image tag, an ECS message) to end the heredoc
/// early and smuggle in further outputs.
fn random_delimiter() -> String {
    let h = super::random_hex(16);
    format!(
        "ghadelimiter_{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// One heredoc record. The value ends at the first line equal to the delimiter, so a value that
/// contains it gets a new delimiter (for 122 random bits, that never happens; the error exists so
/// that it cannot go wrong silently).
fn heredoc(
    name: &str,
    value: &str,
    mut delimiter: impl FnMut() -> String,
) -> Result<String, FileError> {
    for _ in 0..3 {
        let d = delimiter();
        if !value.contains(&d) {
            return Ok(format!("{name}<<{d}\n{value}\n{d}\n"));
        }
    }
    Err(FileError::DelimiterCollision {
        name: name.to_string(),
    })
}

fn append(variable: &'static str, path: &Path, text: &str) -> Result<(), FileError> {
    let wrap = |source| FileError::Write {
        variable,
        path: path.to_path_buf(),
        source,
    };
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(wrap)?;
    file.write_all(text.as_bytes()).map_err(wrap)
}

/// The job summary (`GITHUB_STEP_SUMMARY`), markdown appended block by block.
#[derive(Debug)]
pub struct SummaryFile {
    path: Option<PathBuf>,
    written: String,
}

impl SummaryFile {
    /// The file named by `GITHUB_STEP_SUMMARY`, or memory only when it is unset.
    pub fn from_env(env: &EnvVars) -> Self {
        SummaryFile {
            path: env.non_empty("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            written: String::new(),
        }
    }

    pub fn at(path: impl Into<PathBuf>) -> Self {
        SummaryFile {
            path: Some(path.into()),
            written: String::new(),
        }
    }

    pub fn in_memory() -> Self {
        SummaryFile {
            path: None,
            written: String::new(),
        }
    }

    /// Appends one section: a `### oidc-ecs-deploy: <title>` heading and its markdown, the shape
    /// every stage's part of the summary has.
    pub fn section(&mut self, title: &str, markdown: &str) -> Result<(), FileError> {
        self.append_markdown(&format!("### oidc-ecs-deploy: {title}\n\n{markdown}"))
    }

    /// Appends one markdown block, followed by a blank line: without it, a paragraph appended
    /// after a table would be read as one more table row. A block longer than [`SECTION_LIMIT`],
    /// or than the room left under [`SUMMARY_LIMIT`], is cut at a line end with a note; once no
    /// room is left, blocks are dropped (and the log says so).
    pub fn append_markdown(&mut self, markdown: &str) -> Result<(), FileError> {
        let existing = match &self.path {
            Some(path) => std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
            None => self.written.len() as u64,
        };
        let room = (SUMMARY_LIMIT.saturating_sub(existing) as usize).min(SECTION_LIMIT);
        let Some(block) = fit_block(markdown.trim_end_matches(['\n', '\r']), room) else {
            tracing::warn!(
                "the job summary is full ({existing} bytes; GitHub keeps at most {SUMMARY_LIMIT}): a section was left out"
            );
            return Ok(());
        };
        if let Some(path) = &self.path {
            append("GITHUB_STEP_SUMMARY", path, &block)?;
        }
        self.written.push_str(&block);
        Ok(())
    }

    /// Everything this value appended (also when a file was written).
    pub fn written(&self) -> &str {
        &self.written
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

/// `markdown` and a blank line in at most `room` bytes: whole when it fits, else cut at the
/// last line end that leaves room for the note (a code fence left open is closed first, so the
/// note renders as text); `None` when not even the note fits.
fn fit_block(markdown: &str, room: usize) -> Option<String> {
    if markdown.len() + 2 <= room {
        return Some(format!("{markdown}\n\n"));
    }
    const FENCE_CLOSE: &str = "\n```";
    let budget = room.checked_sub(CUT_NOTE.len() + FENCE_CLOSE.len() + 2)?;
    let mut cut = budget.min(markdown.len());
    while !markdown.is_char_boundary(cut) {
        cut -= 1;
    }
    let kept = match markdown[..cut].rfind('\n') {
        Some(line_end) => &markdown[..line_end],
        None => &markdown[..cut],
    };
    let fences = kept
        .lines()
        .filter(|l| l.trim_start().starts_with("```"))
        .count();
    let close = if fences % 2 == 1 { FENCE_CLOSE } else { "" };
    Some(format!("{kept}{close}{CUT_NOTE}\n\n"))
}

/// A GitHub-flavoured markdown table. Cells are made structurally safe (line breaks become
/// `<br>`, an unescaped `|` becomes `\|`) but are otherwise taken as markdown, so a caller can
/// put links or code spans in them; pass outside text through [`escape_markdown`] first.
/// Short rows are padded with empty cells.
pub fn table<R, S>(headers: &[&str], rows: impl IntoIterator<Item = R>) -> String
where
    R: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    let mut out = line(headers.iter().map(|h| table_cell(h)).collect());
    out += &line(headers.iter().map(|_| "---".to_string()).collect());
    for row in rows {
        let mut cells: Vec<String> = row.into_iter().map(|c| table_cell(c.as_ref())).collect();
        cells.resize(cells.len().max(headers.len()), String::new());
        out += &line(cells);
    }
    out
}

fn table_cell(text: &str) -> String {
    let text = text.replace("\r\n", "<br>").replace(['\r', '\n'], "<br>");
    let mut out = String::with_capacity(text.len());
    let mut after_backslash = false;
    for c in text.chars() {
        // GFM only treats a pipe as a cell's content when a backslash precedes it.
        if c == '|' && !after_backslash {
            out.push('\\');
        }
        out.push(c);
        after_backslash = c == '\\' && !after_backslash;
    }
    out
}

/// Makes outside text (ECS messages, stop reasons, image names) render as itself: every ASCII
/// punctuation character markdown could read as syntax is backslash-escaped (which also stops
/// inline HTML, entities and GitHub's `$` math), and line breaks become `<br>` so the text cannot start a heading,
/// list or table row of its own.
pub fn escape_markdown(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' | '\r' => out.push_str("<br>"),
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '-' | '.'
            | '!' | '<' | '>' | '|' | '~' | '&' | '$' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[path = "files_tests.rs"]
mod tests;
