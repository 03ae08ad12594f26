//! Tests for `commands`: escaping tables, masks, annotations, and that outside text can never
//! form a command line for either of the runner's two parsers.

use super::*;

fn actions() -> Workflow<Vec<u8>> {
    Workflow::new(Mode::Actions, Vec::new())
}

fn text(w: Workflow<Vec<u8>>) -> String {
    String::from_utf8(w.into_inner()).unwrap()
}

/// What the runner would treat as a command: V2 (`::` after leading whitespace) or legacy
/// (`##[` anywhere).
fn is_command_line(line: &str) -> bool {
    line.trim_start().starts_with("::") || line.contains("##[")
}

#[test]
fn escape_data_and_property_table() {
    let cases = [
        // input, data, property
        ("plain", "plain", "plain"),
        ("100%", "100%25", "100%25"),
        ("a\r\nb", "a%0D%0Ab", "a%0D%0Ab"),
        ("%0A", "%250A", "%250A"),
        ("k: v, w", "k: v, w", "k%3A v%2C w"),
        (
            "::set-output name=x::y",
            "::set-output name=x::y",
            "%3A%3Aset-output name=x%3A%3Ay",
        ),
        ("", "", ""),
    ];
    for (input, data, property) in cases {
        assert_eq!(escape_data(input), data, "data of {input:?}");
        assert_eq!(escape_property(input), property, "property of {input:?}");
    }
}

#[test]
fn add_mask_masks_each_line_and_skips_blank_ones() {
    let mut w = actions();
    w.add_mask(&Secret::new("first\r\nsecond  \n\n   \nthird%0A"))
        .unwrap();
    w.add_mask_str("").unwrap();
    assert_eq!(
        text(w),
        "::add-mask::first\n::add-mask::second  \n::add-mask::second\n::add-mask::third%250A\n"
    );
}

#[test]
fn plain_mode_never_prints_a_secret() {
    let mut w = Workflow::new(Mode::Plain, Vec::new());
    w.add_mask(&Secret::new("hunter2")).unwrap();
    assert_eq!(text(w), "");
}

#[test]
fn annotation_properties_are_escaped() {
    let mut w = actions();
    let at = Annotation {
        title: Some("bad: value, 100%\nreally".into()),
        file: Some("task,def:1.json".into()),
        line: Some(3),
        end_line: Some(4),
        col: Some(7),
        end_col: None,
    };
    w.error("two\nlines 50%", &at).unwrap();
    w.warning("w", &Annotation::default()).unwrap();
    w.notice("n", &Annotation::titled("t")).unwrap();
    assert_eq!(
        text(w),
        "::error file=task%2Cdef%3A1.json,line=3,endLine=4,col=7,title=bad%3A value%2C 100%25%0Areally::two%0Alines 50%25\n\
         ::warning::w\n\
         ::notice title=t::n\n"
    );
}

#[test]
fn plain_annotations_are_readable() {
    let mut w = Workflow::new(Mode::Plain, Vec::new());
    let at = Annotation {
        file: Some("taskdef.json".into()),
        line: Some(3),
        ..Annotation::titled("rollout")
    };
    w.error("service did not stabilise", &at).unwrap();
    w.warning("slow", &Annotation::default()).unwrap();
    assert_eq!(
        text(w),
        "error: rollout: service did not stabilise (taskdef.json:3)\nwarning: slow\n"
    );
}

#[test]
fn group_guard_ends_the_group_on_drop() {
    let mut w = actions();
    {
        let mut g = w.group_guard("Push: image%1").unwrap();
        g.debug("inside").unwrap();
    }
    assert_eq!(
        text(w),
        "::group::Push: image%251\n::debug::inside\n::endgroup::\n"
    );
}

#[test]
fn neutralize_line_table() {
    let cases = [
        ("service is steady", "service is steady"),
        ("::add-mask::x", "\\::add-mask::x"),
        ("  \t::error::boom", "  \t\\::error::boom"),
        (
            "\u{3000}::error::ideographic space",
            "\u{3000}\\::error::ideographic space",
        ),
        ("a\n::error::b", "a\\n::error::b"),
        ("a\r::error::b", "a\\r::error::b"),
        ("\n::set-output name=x::y", "\\n::set-output name=x::y"),
        ("%0A::error::b", "%0A::error::b"),
        ("x ##[set-output name=x]y", "x ##\\[set-output name=x]y"),
        ("###[group]", "###\\[group]"),
        ("\u{1b}[31mred", "\\u{001b}[31mred"),
        ("\u{200b}::add-mask::x", "\\u{200b}::add-mask::x"),
        ("bidi \u{202e}txet", "bidi \\u{202e}txet"),
        ("line\u{2028}sep", "line\\u{2028}sep"),
        ("C:\\path", "C:\\path"),
    ];
    for (input, want) in cases {
        let got = neutralize_line(input);
        assert_eq!(got, want, "neutralize_line({input:?})");
        assert!(!is_command_line(&got), "{got:?} would be read as a command");
        assert!(!got.contains(['\r', '\n']), "{got:?} spans lines");
    }
}

#[test]
fn untrusted_text_cannot_produce_a_command_line() {
    let hostile = [
        "::add-mask::x",
        "::set-output name=image::evil",
        "ok\n::error::injected",
        "ok\r\n  ::warning::crlf",
        "%0A::error::encoded",
        "::stop-commands::guess",
        "::endgroup::",
        "log ##[add-mask]x and ##[set-env name=A]b",
        "\u{feff}::debug::bom",
    ];
    let mut w = actions();
    w.print_untrusted(hostile).unwrap();
    let out = text(w);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.len(),
        hostile.len() + 2,
        "one line per item plus the fence: {out}"
    );

    let token = lines[0]
        .strip_prefix("::stop-commands::")
        .expect("opens with stop-commands");
    assert!(
        token.len() >= 32 && token.chars().all(|c| c.is_ascii_hexdigit()),
        "token {token:?}"
    );
    assert_eq!(lines[lines.len() - 1], format!("::{token}::"));
    for line in &lines[1..lines.len() - 1] {
        assert!(
            !is_command_line(line),
            "{line:?} would be read as a command"
        );
    }
}

#[test]
fn stop_commands_token_is_fresh_per_call() {
    let mut w = actions();
    w.print_untrusted(["a"]).unwrap();
    w.print_untrusted(["b"]).unwrap();
    let out = text(w);
    let tokens: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("::stop-commands::"))
        .collect();
    assert_eq!(tokens.len(), 2);
    assert_ne!(tokens[0], tokens[1]);
}

#[test]
fn plain_untrusted_text_is_neutralised_but_not_fenced() {
    let mut w = Workflow::new(Mode::Plain, Vec::new());
    w.print_untrusted(vec!["task stopped\n\u{1b}[2Jcleared".to_string()])
        .unwrap();
    assert_eq!(text(w), "task stopped\\n\\u{001b}[2Jcleared\n");
}

#[test]
fn mode_follows_github_actions() {
    assert_eq!(
        Mode::from_env(&EnvVars::from_pairs([("GITHUB_ACTIONS", "true")])),
        Mode::Actions
    );
    assert_eq!(
        Mode::from_env(&EnvVars::from_pairs([("GITHUB_ACTIONS", "false")])),
        Mode::Plain
    );
    assert_eq!(Mode::from_env(&EnvVars::default()), Mode::Plain);
}
