//! Rules every input's text obeys whatever the input: no hidden characters (control characters,
//! line breaks in a one-line input, invisible format characters), a bounded length, and an
//! error that quotes a long value by its start and length instead of repeating all of it. A
//! value with a line break could otherwise put a line of its own into the step's log, and a
//! value of megabytes would fill it.

use crate::runner::is_hidden;

/// Inputs whose value is a list or a document: line breaks and tabs are part of their syntax.
pub const MULTI_LINE: [&str; 6] = [
    "allowed-branches",
    "allowed-environments",
    "image-tags",
    "service",
    "containers",
    "trust-policy",
];

/// The longest value any input takes (an inline trust policy is at most a few KiB).
pub const MAX_BYTES: usize = 64 * 1024;

/// What is wrong with `value` as the text of `input`, whatever the input means; `None` when
/// nothing is.
pub fn problem(input: &str, value: &str) -> Option<(String, String)> {
    if value.len() > MAX_BYTES {
        return Some((
            format!("is {} bytes long", value.len()),
            format!("at most {MAX_BYTES} bytes"),
        ));
    }
    let multi_line = MULTI_LINE.contains(&input);
    let (at, c) = value
        .chars()
        .enumerate()
        .find(|&(_, c)| is_hidden(c) && !(multi_line && matches!(c, '\n' | '\r' | '\t')))?;
    let what = match c {
        '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}' => "a line break",
        '\u{1b}' => "an escape (terminal control sequence)",
        c if c.is_control() => "a control character",
        _ => "an invisible formatting character",
    };
    let expected = if multi_line {
        "printable text, one item a line".to_owned()
    } else {
        "one line of printable text (a line break usually comes from a YAML block scalar `|` \
         or an expression's value: use `>-`, or trim it)"
            .to_owned()
    };
    Some((
        format!(
            "contains {what} (U+{:04X}) at character {}",
            c as u32,
            at + 1
        ),
        expected,
    ))
}

/// The longest quoted value an error repeats in full.
const QUOTE_LIMIT: usize = 80;
/// The longest problem sentence.
const SENTENCE_LIMIT: usize = 1000;

/// `text` with every `quoted` span longer than `QUOTE_LIMIT` characters cut to its start and
/// its length, and the whole cut to `SENTENCE_LIMIT` characters.
pub fn bounded(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(SENTENCE_LIMIT));
    for (i, part) in text.split('`').enumerate() {
        if i > 0 {
            out.push('`');
        }
        let n = part.chars().count();
        if i % 2 == 1 && n > QUOTE_LIMIT {
            out.extend(part.chars().take(QUOTE_LIMIT / 2));
            out.push_str(&format!("... ({n} characters)"));
        } else {
            out.push_str(part);
        }
    }
    if out.chars().count() > SENTENCE_LIMIT {
        out = out.chars().take(SENTENCE_LIMIT).collect();
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_are_named_with_their_position() {
        for (input, value, words) in [
            (
                "cluster",
                "prod\n::set-output name=a::b",
                "a line break (U+000A) at character 5",
            ),
            (
                "aws-region",
                "\u{1b}[31mus-east-1",
                "an escape (terminal control sequence) (U+001B) at character 1",
            ),
            ("image-tag", "v1\r", "a line break (U+000D) at character 3"),
            (
                "role-to-assume",
                "arn:aws\u{202e}",
                "an invisible formatting character (U+202E)",
            ),
            (
                "containers",
                "app=nginx\u{0}",
                "a control character (U+0000)",
            ),
            ("service", "api\u{2028}worker", "a line break (U+2028)"),
        ] {
            let (problem, _) = problem(input, value).unwrap_or_else(|| panic!("{value:?} passed"));
            assert!(problem.contains(words), "{value:?}: {problem}");
        }
        assert_eq!(problem("service", "api\nworker\r\n"), None);
        assert_eq!(problem("trust-policy", "{\n\t\"Version\": 1}"), None);
        assert_eq!(problem("cluster", "prod"), None);
        assert!(problem("cluster", &"p".repeat(MAX_BYTES + 1)).is_some());
    }

    #[test]
    fn long_quotes_are_cut_to_their_start_and_length() {
        let long = "x".repeat(500);
        let cut = bounded(&format!("`{long}` is not a valid cluster name"));
        assert_eq!(
            cut,
            format!(
                "`{}... (500 characters)` is not a valid cluster name",
                "x".repeat(40)
            )
        );
        assert_eq!(bounded("`short` stays"), "`short` stays");
        assert!(bounded(&"y".repeat(5000)).len() < 1010);
    }
}
