//! The workflow's own guards: the `allowed-branches` and `allowed-environments` inputs. They are
//! a second lock the repository controls, checked against the token's claims before we ask STS,
//! so a trust policy broader than intended (`repo:o/r:*`) still cannot deploy from a feature
//! branch.
//!
//! Pattern syntax, in the style of GitHub's branch filters:
//! - `*` matches any run of characters except `/`; `**` matches any run including `/`;
//! - `?` matches exactly one character; `[abc]`, `[a-z]`, `[!a-z]` (or `[^a-z]`) match one
//!   character from (or not from) the class; `\x` matches `x` literally;
//! - everything else is literal. Branch patterns are case-sensitive (git refs are); environment
//!   patterns ignore case, because GitHub treats environment names case-insensitively.
//! - A branch pattern starting with `refs/` matches the full ref (`refs/tags/v*` admits tags);
//!   any other branch pattern matches the branch name (`main` for `refs/heads/main`) and never
//!   admits a tag or pull-request ref.
//! - Negation (`!pattern`) is not supported: list what to admit instead.

use super::claims::Claims;

const BRANCHES: &str = "allowed-branches";
const ENVIRONMENTS: &str = "allowed-environments";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GuardError {
    #[error("{input}: the pattern {pattern:?} {problem}; {right}")]
    BadPattern {
        input: &'static str,
        pattern: String,
        problem: String,
        right: &'static str,
    },
}

const RIGHT_BRANCHES: &str = "write branch names or globs such as `main`, `release/*` or `releases/**`, \
    separated by commas or newlines (a pattern starting with `refs/`, such as `refs/tags/v*`, matches the full ref)";
const RIGHT_ENVIRONMENTS: &str = "write environment names or globs such as `production` or `staging-*`, \
    separated by commas or newlines";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GuardRefusal {
    #[error("this job runs on branch {branch}; {BRANCHES} admits: {patterns}")]
    Branch { branch: String, patterns: String },
    #[error(
        "this job runs on {git_ref}, which is not a branch; {BRANCHES} admits: {patterns} \
         (only a pattern starting with refs/, such as refs/tags/v*, admits other refs)"
    )]
    NotABranch { git_ref: String, patterns: String },
    #[error("the token has no `ref` claim, so {BRANCHES} ({patterns}) cannot admit this job")]
    NoRef { patterns: String },
    #[error("this job runs in environment {environment}; {ENVIRONMENTS} admits: {patterns}")]
    Environment {
        environment: String,
        patterns: String,
    },
    #[error(
        "this job has no environment, and {ENVIRONMENTS} admits only: {patterns}; \
         give the job `environment: <name>` to deploy from it"
    )]
    NoEnvironment { patterns: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Guards {
    branches: Vec<Glob>,
    environments: Vec<Glob>,
}

impl Guards {
    /// Patterns are separated by newlines or commas; blanks are ignored; empty input means no
    /// guard.
    pub fn parse(allowed_branches: &str, allowed_environments: &str) -> Result<Guards, GuardError> {
        Ok(Guards {
            branches: parse_list(allowed_branches, BRANCHES, RIGHT_BRANCHES, false)?,
            environments: parse_list(allowed_environments, ENVIRONMENTS, RIGHT_ENVIRONMENTS, true)?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.branches.is_empty() && self.environments.is_empty()
    }

    pub fn branch_patterns(&self) -> Vec<&str> {
        self.branches.iter().map(|g| g.text.as_str()).collect()
    }

    pub fn environment_patterns(&self) -> Vec<&str> {
        self.environments.iter().map(|g| g.text.as_str()).collect()
    }

    pub fn check(&self, claims: &Claims) -> Result<(), GuardRefusal> {
        if !self.branches.is_empty() {
            let patterns = self.branch_patterns().join(", ");
            let git_ref =
                claims
                    .git_ref()
                    .filter(|r| !r.is_empty())
                    .ok_or(GuardRefusal::NoRef {
                        patterns: patterns.clone(),
                    })?;
            let branch = git_ref.strip_prefix("refs/heads/");
            let admitted =
                self.branches
                    .iter()
                    .any(|g| match (g.text.starts_with("refs/"), branch) {
                        (true, _) => g.matches(git_ref),
                        (false, Some(b)) => g.matches(b),
                        (false, None) => false,
                    });
            if !admitted {
                return Err(match branch {
                    Some(b) => GuardRefusal::Branch {
                        branch: b.to_string(),
                        patterns,
                    },
                    None => GuardRefusal::NotABranch {
                        git_ref: git_ref.to_string(),
                        patterns,
                    },
                });
            }
        }
        if !self.environments.is_empty() {
            let patterns = self.environment_patterns().join(", ");
            let Some(environment) = claims.environment() else {
                return Err(GuardRefusal::NoEnvironment { patterns });
            };
            if !self.environments.iter().any(|g| g.matches(environment)) {
                return Err(GuardRefusal::Environment {
                    environment: environment.to_string(),
                    patterns,
                });
            }
        }
        Ok(())
    }
}

fn parse_list(
    input: &str,
    name: &'static str,
    right: &'static str,
    ignore_case: bool,
) -> Result<Vec<Glob>, GuardError> {
    input
        .split(['\n', ','])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            Glob::compile(p, ignore_case).map_err(|problem| GuardError::BadPattern {
                input: name,
                pattern: p.to_string(),
                problem,
                right,
            })
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Lit(char),
    /// `*`: any run without '/'.
    Star,
    /// `**`: any run.
    DoubleStar,
    /// `?`: one character.
    One,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Glob {
    text: String,
    tokens: Vec<Token>,
    ignore_case: bool,
}

impl Glob {
    fn compile(text: &str, ignore_case: bool) -> Result<Glob, String> {
        if let Some(c) = text.chars().find(|c| c.is_control()) {
            return Err(format!("contains the control character U+{:04X}", c as u32));
        }
        if text.chars().any(char::is_whitespace) {
            return Err("contains whitespace (branch and environment names cannot)".into());
        }
        if text.starts_with('!') {
            return Err(
                "starts with '!', but negation is not supported: list what to admit instead".into(),
            );
        }
        let fold = |c: char| {
            if ignore_case {
                c.to_lowercase().next().unwrap_or(c)
            } else {
                c
            }
        };
        let chars: Vec<char> = text.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '*' if chars.get(i + 1) == Some(&'*') => {
                    tokens.push(Token::DoubleStar);
                    i += 2;
                }
                '*' => {
                    tokens.push(Token::Star);
                    i += 1;
                }
                '?' => {
                    tokens.push(Token::One);
                    i += 1;
                }
                '\\' => {
                    let c = *chars.get(i + 1).ok_or("ends with a lone '\\'")?;
                    tokens.push(Token::Lit(fold(c)));
                    i += 2;
                }
                '[' => {
                    let (token, next) = compile_class(&chars, i, &fold)?;
                    tokens.push(token);
                    i = next;
                }
                c => {
                    tokens.push(Token::Lit(fold(c)));
                    i += 1;
                }
            }
        }
        Ok(Glob {
            text: text.to_string(),
            tokens,
            ignore_case,
        })
    }

    fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = if self.ignore_case {
            text.chars()
                .map(|c| c.to_lowercase().next().unwrap_or(c))
                .collect()
        } else {
            text.chars().collect()
        };
        // can[j]: the tokens seen so far can consume text[..j]. O(tokens x text), no backtracking.
        let mut can = vec![false; text.len() + 1];
        can[0] = true;
        for token in &self.tokens {
            let mut next = vec![false; text.len() + 1];
            for j in 0..=text.len() {
                if !can[j] {
                    continue;
                }
                match token {
                    Token::DoubleStar => next[j..].iter_mut().for_each(|n| *n = true),
                    Token::Star => {
                        next[j] = true;
                        let mut k = j;
                        while k < text.len() && text[k] != '/' {
                            k += 1;
                            next[k] = true;
                        }
                    }
                    _ if j == text.len() => {}
                    Token::One => next[j + 1] = true,
                    Token::Lit(c) => next[j + 1] |= text[j] == *c,
                    Token::Class { negated, ranges } => {
                        let inside = ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&text[j]));
                        next[j + 1] |= inside != *negated;
                    }
                }
            }
            can = next;
        }
        can[text.len()]
    }
}

/// Compiles `[...]` starting at `start`; returns the token and the index after `]`.
fn compile_class(
    chars: &[char],
    start: usize,
    fold: &dyn Fn(char) -> char,
) -> Result<(Token, usize), String> {
    let mut i = start + 1;
    let negated = matches!(chars.get(i), Some('!') | Some('^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        let c = *chars
            .get(i)
            .ok_or("has a '[' that is never closed with ']'")?;
        if c == ']' && !ranges.is_empty() {
            return Ok((Token::Class { negated, ranges }, i + 1));
        }
        if c == ']' {
            return Err("has an empty character class '[]'".into());
        }
        match (chars.get(i + 1), chars.get(i + 2)) {
            (Some('-'), Some(&hi)) if hi != ']' => {
                let (lo, hi) = (fold(c), fold(hi));
                if lo > hi {
                    return Err(format!(
                        "has the backwards range {c}-{hi} in a character class"
                    ));
                }
                ranges.push((lo, hi));
                i += 3;
            }
            _ => {
                ranges.push((fold(c), fold(c)));
                i += 1;
            }
        }
    }
}

#[cfg(test)]
#[path = "guards_tests.rs"]
mod tests;
