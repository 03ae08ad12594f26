//! `Secret`: a value that must never reach a log. Its `Debug` and `Display` print `<redacted>`;
//! the only way to the bytes is `expose()`, which makes every use of a secret easy to find.
//!
//! Also the process's list of masked values ([`remember_masked`], fed by every `::add-mask::`),
//! so that text from outside that may quote one (an application's log lines in a failure
//! report) has it replaced by `***` ([`redact_masked`]) before it is printed anywhere, the job
//! summary and a terminal included, where the runner's masking does not reach.

use std::fmt;
use std::sync::Mutex;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret's text. Call it only where the value leaves the process on purpose
    /// (an HTTP header, an AWS call, `::add-mask::`, an output file the runner masks).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Every value masked so far, longest first (so a secret is replaced before any part of it).
static MASKED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// What a masked value is replaced with: the runner's own mark.
pub const MASK_MARK: &str = "***";

/// Remembers a value that was masked, for [`redact_masked`]. Values shorter than 4 characters
/// are not kept: replacing them would garble ordinary text.
pub fn remember_masked(value: &str) {
    let value = value.trim();
    if value.chars().count() < 4 {
        return;
    }
    let mut masked = MASKED.lock().unwrap_or_else(|e| e.into_inner());
    if !masked.iter().any(|m| m == value) {
        masked.push(value.to_owned());
        masked.sort_by_key(|m| std::cmp::Reverse(m.len()));
    }
}

/// `text` with every value masked so far in this process replaced by `***`.
pub fn redact_masked(text: &str) -> String {
    let masked = MASKED.lock().unwrap_or_else(|e| e.into_inner());
    masked.iter().fold(text.to_owned(), |acc, m| {
        if acc.contains(m.as_str()) {
            acc.replace(m.as_str(), MASK_MARK)
        } else {
            acc
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("AKIAEXAMPLESECRET");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(format!("{s}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(<redacted>)");
        assert_eq!(s.expose(), "AKIAEXAMPLESECRET");
    }

    #[test]
    fn masked_values_are_replaced_in_outside_text_longest_first() {
        remember_masked("tok-5f1d2c9a");
        remember_masked("tok-5f1d2c9a-extended-part");
        remember_masked("abc");
        assert_eq!(
            redact_masked("a=tok-5f1d2c9a-extended-part b=tok-5f1d2c9a c=abc"),
            "a=*** b=*** c=abc"
        );
    }
}
