//! Workflow commands (`::add-mask::`, `::group::`, `::error file=..::`, `::debug::`,
//! `::stop-commands::`) written to any `io::Write`, their escaping, and the neutralising of text
//! that came from outside (ECS events, task stop reasons, container logs) so that it can never
//! issue a command.
//!
//! Two parsers in the runner read every line a step prints (actions/runner `ActionCommand.cs`):
//! - `TryParseV2`: the line, after `TrimStart()` of Unicode whitespace, starts with `::`;
//! - `TryParse` (legacy): `##[` **anywhere** in the line, then a registered command name up to `]`.
//!
//! So a leading space does not disarm `::`, and `##[` must be broken wherever it appears. See
//! [`neutralize_line`] for what we do instead.
//!
//! [`Mode::Plain`] is for the CLI outside Actions: the same calls print human-readable lines
//! (`error: ...`, `== group ==`) and masking prints nothing, because a terminal has no masker and
//! `::add-mask::<secret>` on a terminal would show the very secret it means to hide.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::ops::{Deref, DerefMut};

use crate::envvars::EnvVars;
use crate::secret::Secret;

/// Whether the commands are read by a runner or by a person.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Under GitHub Actions (or `act`): emit workflow commands.
    Actions,
    /// Anywhere else: emit their human-readable equivalents.
    Plain,
}

impl Mode {
    /// `Actions` exactly when `GITHUB_ACTIONS` is `true`, as the runner (and `act`) set it.
    pub fn from_env(env: &EnvVars) -> Mode {
        if env.is_true("GITHUB_ACTIONS") {
            Mode::Actions
        } else {
            Mode::Plain
        }
    }
}

/// Escapes a command's data (the text after the second `::`), as the runner unescapes it.
/// `%` goes first so that the escapes we add are not escaped again.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a command property value: as [`escape_data`], plus `:` and `,`, which would otherwise
/// end the property list or the property.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Makes one line of outside text safe to print anywhere in the log, even without
/// `::stop-commands::` around it:
/// - CR and LF become visible `\r` and `\n`, so the text stays on the line it was given;
///   other control characters (ANSI escapes, NEL), the line/paragraph separators and invisible
///   format characters (zero-width, bidi overrides) become `\u{..}`. The runner compares
///   command prefixes with culture-sensitive `StartsWith`/`IndexOf`, which may skip invisible
///   characters, and bidi overrides can make a log line read differently from what it holds.
/// - `##[` becomes `##\[`, disarming the legacy parser wherever the text lands in a line.
/// - A line that, after leading whitespace, starts with `::` gets a `\` before the `::`. A
///   leading space would not do: the runner trims whitespace before looking for `::`. The
///   backslash is visible, reads as "literal", and matches the `\n` escapes above.
///
/// Backslashes themselves are left alone: the escaping is for safety, not for round-tripping.
pub fn neutralize_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push('\t'),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' || is_invisible_format(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    let mut out = out.replace("##[", "##\\[");
    let indent = out.len() - out.trim_start().len();
    if out[indent..].starts_with("::") {
        out.insert(indent, '\\');
    }
    out
}

/// Unicode format characters (category Cf) that render as nothing.
fn is_invisible_format(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x061C | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064
        | 0x2066..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB | 0x1BCA0..=0x1BCA3 | 0xE0001 | 0xE0020..=0xE007F)
}

/// Where an annotation points. Every field is optional; `Annotation::default()` points nowhere.
/// The property names are the runner's: `file`, `line`, `endLine`, `col`, `endColumn`, `title`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Annotation {
    pub title: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub end_line: Option<u32>,
    pub col: Option<u32>,
    pub end_col: Option<u32>,
}

impl Annotation {
    pub fn titled(title: impl Into<String>) -> Self {
        Annotation {
            title: Some(title.into()),
            ..Annotation::default()
        }
    }

    fn properties(&self) -> String {
        let numbers = [
            ("line", self.line),
            ("endLine", self.end_line),
            ("col", self.col),
            ("endColumn", self.end_col),
        ];
        let props: Vec<String> = self
            .file
            .iter()
            .map(|f| format!("file={}", escape_property(f)))
            .chain(
                numbers
                    .iter()
                    .filter_map(|(k, v)| v.map(|v| format!("{k}={v}"))),
            )
            .chain(
                self.title
                    .iter()
                    .map(|t| format!("title={}", escape_property(t))),
            )
            .collect();
        props.join(",")
    }

    /// ` (file:line:col)` for plain output, or nothing.
    fn location(&self) -> String {
        match (&self.file, self.line, self.col) {
            (Some(f), Some(l), Some(c)) => format!(" ({f}:{l}:{c})"),
            (Some(f), Some(l), None) => format!(" ({f}:{l})"),
            (Some(f), None, _) => format!(" ({f})"),
            _ => String::new(),
        }
    }
}

/// The step's command channel. Actions mode writes to stdout (the runner reads commands there);
/// plain mode writes to stderr, keeping stdout for results (see [`Workflow::stdio`]).
/// Every call flushes, so commands interleave correctly with `tracing` output on stderr.
pub struct Workflow<W: Write> {
    mode: Mode,
    out: W,
}

impl Workflow<Box<dyn Write + Send>> {
    /// The production channel for `mode`: stdout under Actions, stderr otherwise.
    pub fn stdio(mode: Mode) -> Self {
        let out: Box<dyn Write + Send> = match mode {
            Mode::Actions => Box::new(io::stdout()),
            Mode::Plain => Box::new(io::stderr()),
        };
        Workflow::new(mode, out)
    }
}

impl<W: Write> Workflow<W> {
    pub fn new(mode: Mode, out: W) -> Self {
        Workflow { mode, out }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    /// Masks a secret in all later log output. Call it before the secret is first used.
    pub fn add_mask(&mut self, secret: &Secret) -> io::Result<()> {
        self.add_mask_str(secret.expose())
    }

    /// Masks each line of `value` separately: the runner matches masks within one log line, so
    /// a multi-line value is only ever seen line by line. Blank lines are skipped (the runner
    /// refuses to mask them). A line is also masked without trailing whitespace, which some
    /// printers strip. Plain mode prints nothing. Either way the value is remembered, so quoted
    /// outside text can have it replaced (`secret::redact_masked`).
    pub fn add_mask_str(&mut self, value: &str) -> io::Result<()> {
        for line in value.split(['\n', '\r']) {
            crate::secret::remember_masked(line);
        }
        if self.mode == Mode::Plain {
            return Ok(());
        }
        for line in value.split(['\n', '\r']) {
            let trimmed = line.trim_end();
            if trimmed.trim_start().is_empty() {
                continue;
            }
            writeln!(self.out, "::add-mask::{}", escape_data(line))?;
            if trimmed != line {
                writeln!(self.out, "::add-mask::{}", escape_data(trimmed))?;
            }
        }
        self.out.flush()
    }

    /// Opens a collapsible group. GitHub does not nest groups: a second `group` ends the first.
    pub fn group(&mut self, title: &str) -> io::Result<()> {
        match self.mode {
            Mode::Actions => writeln!(self.out, "::group::{}", escape_data(title))?,
            Mode::Plain => writeln!(self.out, "== {} ==", neutralize_line(title))?,
        }
        self.out.flush()
    }

    pub fn end_group(&mut self) -> io::Result<()> {
        if self.mode == Mode::Actions {
            writeln!(self.out, "::endgroup::")?;
        }
        self.out.flush()
    }

    /// A group that ends when the guard drops, on every path out of the scope (`?` included).
    /// Write through the guard: it derefs to this `Workflow`.
    pub fn group_guard(&mut self, title: &str) -> io::Result<Group<'_, W>> {
        self.group(title)?;
        Ok(Group { workflow: self })
    }

    pub fn error(&mut self, message: &str, at: &Annotation) -> io::Result<()> {
        self.annotate("error", message, at)
    }

    pub fn warning(&mut self, message: &str, at: &Annotation) -> io::Result<()> {
        self.annotate("warning", message, at)
    }

    pub fn notice(&mut self, message: &str, at: &Annotation) -> io::Result<()> {
        self.annotate("notice", message, at)
    }

    fn annotate(&mut self, kind: &str, message: &str, at: &Annotation) -> io::Result<()> {
        match self.mode {
            Mode::Actions => {
                let props = at.properties();
                let sep = if props.is_empty() { "" } else { " " };
                writeln!(self.out, "::{kind}{sep}{props}::{}", escape_data(message))?;
            }
            Mode::Plain => {
                let title = at
                    .title
                    .as_deref()
                    .map(|t| format!("{t}: "))
                    .unwrap_or_default();
                writeln!(self.out, "{kind}: {title}{message}{}", at.location())?;
            }
        }
        self.out.flush()
    }

    /// A debug line: shown by the runner only with step debug logging on. In plain mode it goes
    /// to `tracing` at debug level, which `RUST_LOG` already governs.
    pub fn debug(&mut self, message: &str) -> io::Result<()> {
        match self.mode {
            Mode::Actions => {
                writeln!(self.out, "::debug::{}", escape_data(message))?;
                self.out.flush()
            }
            Mode::Plain => {
                tracing::debug!("{message}");
                Ok(())
            }
        }
    }

    /// Prints outside text, one item per line, so that none of it can act as a command. Under
    /// Actions the block is fenced by `::stop-commands::<token>` ... `::<token>::` with a fresh
    /// 128-bit random token (the text cannot guess it, so it cannot resume commands itself), and
    /// every line is also [`neutralize_line`]d, so safety does not rest on one mechanism.
    pub fn print_untrusted<I, S>(&mut self, lines: I) -> io::Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let token = (self.mode == Mode::Actions).then(|| super::random_hex(16));
        if let Some(token) = &token {
            writeln!(self.out, "::stop-commands::{token}")?;
        }
        for line in lines {
            writeln!(self.out, "{}", neutralize_line(line.as_ref()))?;
        }
        if let Some(token) = &token {
            writeln!(self.out, "::{token}::")?;
        }
        self.out.flush()
    }
}

/// An open group; ends it on drop. Derefs to the [`Workflow`] so output goes inside the group.
pub struct Group<'a, W: Write> {
    workflow: &'a mut Workflow<W>,
}

impl<W: Write> Deref for Group<'_, W> {
    type Target = Workflow<W>;
    fn deref(&self) -> &Workflow<W> {
        self.workflow
    }
}

impl<W: Write> DerefMut for Group<'_, W> {
    fn deref_mut(&mut self) -> &mut Workflow<W> {
        self.workflow
    }
}

impl<W: Write> Drop for Group<'_, W> {
    fn drop(&mut self) {
        // Nothing useful to do with a failed write of the closing marker while unwinding a scope.
        let _ = self.workflow.end_group();
    }
}

#[cfg(test)]
#[path = "commands_tests.rs"]
mod tests;
