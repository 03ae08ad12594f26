//! `Failure`: what the user reads when a run stops, and the one map from a failure's category to
//! the process exit code. Stages return their own typed errors; `app` turns each into a
//! `Failure` with the category that fits, here and nowhere else.

use std::fmt;

/// Why a run stopped, as the exit code tells it to a workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// A bug or an outage we did not foresee.
    Unexpected,
    /// Bad input or configuration, including a job without `id-token: write`.
    BadInput,
    /// Refused: trust policy, branch/environment guard, STS AccessDenied, an immutable tag.
    Refused,
    /// The deploy failed (and was rolled back when rollback is on).
    DeployFailed,
    /// The job was cancelled (SIGINT or SIGTERM); a rollback was requested when one was due.
    Cancelled,
}

impl Category {
    pub fn exit_code(self) -> i32 {
        match self {
            Category::Unexpected => 1,
            Category::BadInput => 2,
            Category::Refused => 3,
            Category::DeployFailed => 4,
            Category::Cancelled => 5,
        }
    }

    /// The title of the `::error` annotation.
    pub fn title(self) -> &'static str {
        match self {
            Category::Unexpected => "oidc-ecs-deploy failed",
            Category::BadInput => "Invalid input",
            Category::Refused => "Refused",
            Category::DeployFailed => "Deploy failed",
            Category::Cancelled => "Cancelled",
        }
    }
}

/// A stopped run: one headline, the evidence, and a hint when we know the fix.
#[derive(Debug)]
pub struct Failure {
    pub category: Category,
    pub headline: String,
    pub details: Vec<String>,
    pub hint: Option<String>,
}

impl Failure {
    pub fn new(category: Category, headline: impl Into<String>) -> Self {
        Failure {
            category,
            headline: headline.into(),
            details: Vec::new(),
            hint: None,
        }
    }

    pub fn detail(mut self, line: impl Into<String>) -> Self {
        self.details.push(line.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Names the pipeline stage it stopped in, first among the details.
    pub fn in_stage(mut self, stage: &str) -> Self {
        self.details.insert(0, format!("stage: {stage}"));
        self
    }

    /// The same failure under another category.
    pub fn recategorised(mut self, category: Category) -> Self {
        self.category = category;
        self
    }

    /// An error we did not classify: its whole `source()` chain becomes the details.
    pub fn unexpected(error: &(dyn std::error::Error + 'static)) -> Self {
        let mut failure = Failure::new(Category::Unexpected, error.to_string());
        let mut cause = error.source();
        while let Some(c) = cause {
            failure.details.push(format!("caused by: {c}"));
            cause = c.source();
        }
        failure
    }
}

/// An error and its causes on one line, `: `-separated: a top-level text alone ("dispatch
/// failure", reqwest's "error sending request") often says nothing about what failed.
pub fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

impl fmt::Display for Failure {
    /// `error: headline`, the details indented, then `hint:` with continuation lines aligned.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.headline)?;
        for line in &self.details {
            writeln!(f, "  {line}")?;
        }
        if let Some(hint) = &self.hint {
            let mut lines = hint.lines();
            writeln!(f, "hint: {}", lines.next().unwrap_or_default())?;
            for line in lines {
                writeln!(f, "      {line}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_the_documented_ones() {
        let codes: Vec<i32> = [
            Category::Unexpected,
            Category::BadInput,
            Category::Refused,
            Category::DeployFailed,
            Category::Cancelled,
        ]
        .iter()
        .map(|c| c.exit_code())
        .collect();
        assert_eq!(codes, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn display_puts_error_details_and_aligned_hint() {
        let f = Failure::new(Category::Refused, "no")
            .detail("because")
            .hint("do this\nand that");
        assert_eq!(
            f.to_string(),
            "error: no\n  because\nhint: do this\n      and that\n"
        );
    }

    #[test]
    fn unexpected_lists_the_cause_chain() {
        let io = std::io::Error::other("disk on fire");
        let outer = std::io::Error::other(Box::new(io) as Box<dyn std::error::Error + Send + Sync>);
        let f = Failure::unexpected(&outer);
        assert_eq!(f.category, Category::Unexpected);
        assert!(f.to_string().contains("disk on fire"));
    }
}
