//! Tests for `files`: the heredoc records read back the way the runner reads them, name rules,
//! the summary, and the markdown helpers.

use super::*;

/// The runner's reader (actions/runner `SetEnvFileCommand`), reduced to what we write: lines
/// split on LF; `NAME=VALUE` when `=` comes before any `<<`, else `NAME<<DELIM` and the value is
/// every line up to the first line equal to DELIM, joined with LF.
fn parse_like_runner(text: &str) -> Vec<(String, String)> {
    let mut lines = text.split('\n').peekable();
    let mut out = Vec::new();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        let eq = line.find('=');
        let heredoc = line.find("<<");
        match (eq, heredoc) {
            (Some(e), h) if h.is_none_or(|h| e < h) => {
                out.push((line[..e].to_string(), line[e + 1..].to_string()))
            }
            (_, Some(h)) => {
                let (name, delim) = (&line[..h], &line[h + 2..]);
                assert!(
                    !name.is_empty() && !delim.is_empty(),
                    "bad heredoc header {line:?}"
                );
                let mut value = Vec::new();
                loop {
                    let next = lines
                        .next()
                        .unwrap_or_else(|| panic!("delimiter {delim} never closes"));
                    if next == delim {
                        break;
                    }
                    value.push(next);
                }
                out.push((name.to_string(), value.join("\n")));
            }
            _ => panic!("invalid line {line:?}"),
        }
    }
    out
}

#[test]
fn outputs_round_trip_through_the_runner_format() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("output");
    std::fs::write(&path, "earlier=kept\n").unwrap();
    let env = EnvVars::from_pairs([("GITHUB_OUTPUT", path.to_str().unwrap())]);
    let mut out = OutputFile::from_env(&env);
    let values = [
        ("image-digest", "sha256:abc"),
        ("multi_line", "line one\nline two\n\nline four"),
        ("heredoc-like", "X<<EOF\nnot=an output\nEOF"),
        ("trailing-newline", "value\n"),
        ("empty", ""),
        ("crlf", "a\r\nb"),
    ];
    for (name, value) in values {
        out.set(name, value).unwrap();
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let parsed = parse_like_runner(&text);
    let mut want = vec![("earlier".to_string(), "kept".to_string())];
    want.extend(values.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    assert_eq!(parsed, want);
    assert_eq!(out.written().len(), values.len());
    assert!(text.contains("<<ghadelimiter_"), "{text}");
}

#[test]
fn each_record_gets_its_own_delimiter() {
    let mut out = OutputFile::at(tempfile::NamedTempFile::new().unwrap().path());
    out.set("a", "1").unwrap();
    out.set("b", "2").unwrap();
    let text = std::fs::read_to_string(out.path().unwrap()).unwrap();
    let delims: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once("<<").map(|(_, d)| d))
        .collect();
    assert_eq!(delims.len(), 2);
    assert_ne!(delims[0], delims[1]);
    let uuid = delims[0].strip_prefix("ghadelimiter_").unwrap();
    assert_eq!(
        uuid.split('-').map(str::len).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12]
    );
}

#[test]
fn a_value_containing_the_delimiter_gets_another_one() {
    let mut tries = ["ghadelimiter_x", "ghadelimiter_y"].into_iter();
    let record = heredoc("n", "a\nghadelimiter_x\nb", || {
        tries.next().unwrap().to_string()
    })
    .unwrap();
    assert_eq!(
        record,
        "n<<ghadelimiter_y\na\nghadelimiter_x\nb\nghadelimiter_y\n"
    );

    let err = heredoc("n", "ghadelimiter_x", || "ghadelimiter_x".to_string()).unwrap_err();
    assert!(matches!(err, FileError::DelimiterCollision { .. }), "{err}");
}

#[test]
fn without_the_variable_outputs_stay_in_memory() {
    let mut out = OutputFile::from_env(&EnvVars::default());
    assert_eq!(out.path(), None);
    out.set("tag", "v1").unwrap();
    out.set("tag", "v2").unwrap();
    out.set("digest", "sha256:1").unwrap();
    let written: Vec<(&str, &str)> = out
        .written()
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    assert_eq!(written, [("tag", "v2"), ("digest", "sha256:1")]);
}

#[test]
fn output_names_are_checked() {
    let mut out = OutputFile::in_memory();
    for good in ["a", "image-digest", "task_definition_arn", "X9"] {
        out.set(good, "v").unwrap();
    }
    for bad in ["", "a b", "a=b", "a<<b", "a.b", "naïve"] {
        assert!(
            matches!(out.set(bad, "v"), Err(FileError::InvalidOutputName { .. })),
            "{bad:?}"
        );
    }
}

#[test]
fn env_names_follow_the_runner_rules() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("env");
    let mut env = EnvFile::at(&path);
    env.set("AWS_REGION", "eu-west-1").unwrap();
    env.set("_private", "x").unwrap();
    for bad in ["", "1ABC", "A-B", "A B", "A=B"] {
        assert!(
            matches!(env.set(bad, "v"), Err(FileError::InvalidEnvName { .. })),
            "{bad:?}"
        );
    }
    for reserved in [
        "NODE_OPTIONS",
        "node_options",
        "GITHUB_TOKEN",
        "RUNNER_TEMP",
    ] {
        let err = env.set(reserved, "v").unwrap_err();
        assert!(
            matches!(err, FileError::ReservedEnvName { .. }),
            "{reserved:?}"
        );
        assert!(err.to_string().contains(reserved), "{err}");
    }
    let parsed = parse_like_runner(&std::fs::read_to_string(&path).unwrap());
    assert_eq!(
        parsed,
        [
            ("AWS_REGION".into(), "eu-west-1".into()),
            ("_private".into(), "x".into())
        ]
    );
}

#[test]
fn an_unwritable_file_names_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let mut out = OutputFile::at(dir.path().join("missing-dir").join("output"));
    let err = out.set("a", "b").unwrap_err();
    assert!(err.to_string().contains("GITHUB_OUTPUT"), "{err}");
}

#[test]
fn summary_appends_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("summary.md");
    let env = EnvVars::from_pairs([("GITHUB_STEP_SUMMARY", path.to_str().unwrap())]);
    let mut summary = SummaryFile::from_env(&env);
    summary.append_markdown("## Deploy\n").unwrap();
    summary
        .append_markdown(&table(&["service", "state"], [["web", "healthy"]]))
        .unwrap();
    summary.append_markdown("done").unwrap();
    let want = "## Deploy\n\n| service | state |\n| --- | --- |\n| web | healthy |\n\ndone\n\n";
    assert_eq!(std::fs::read_to_string(&path).unwrap(), want);
    assert_eq!(summary.written(), want);
}

#[test]
fn a_section_has_the_shared_heading() {
    let mut summary = SummaryFile::in_memory();
    summary
        .section(
            "identity",
            &table(&["field", "value"], [["account", "123456789012"]]),
        )
        .unwrap();
    assert_eq!(
        summary.written(),
        "### oidc-ecs-deploy: identity\n\n| field | value |\n| --- | --- |\n| account | 123456789012 |\n\n"
    );
}

/// A table of `rows` rows, each about 100 bytes: what a stage quoting ECS events looks like.
fn big_table(rows: usize) -> String {
    table(
        &["service", "event"],
        (0..rows).map(|i| {
            [
                format!("api-{i}"),
                format!("(service api) has reached a steady state, event {i:>60}"),
            ]
        }),
    )
}

#[test]
fn a_section_past_its_share_is_cut_at_a_line_end_with_a_note() {
    let mut summary = SummaryFile::in_memory();
    summary.section("rollout", &big_table(5_000)).unwrap();
    let text = summary.written();
    assert!(text.len() <= SECTION_LIMIT, "{} bytes", text.len());
    assert!(
        text.len() > SECTION_LIMIT - 200,
        "only as much is cut as needed: {} bytes",
        text.len()
    );
    assert!(
        text.ends_with("the log has the rest)*\n\n"),
        "{}",
        &text[text.len() - 200..]
    );
    let before_note = text.rsplit_once("\n\n*(cut here").unwrap().0;
    assert!(
        before_note.ends_with('|'),
        "the cut falls at a row's end: {}",
        &before_note[before_note.len() - 80..]
    );
    summary.section("after", "still here").unwrap();
    assert!(
        summary.written().ends_with("still here\n\n"),
        "later sections still fit"
    );
}

#[test]
fn a_code_block_that_is_cut_is_closed_before_the_note() {
    let mut summary = SummaryFile::in_memory();
    let lines: String = (0..10_000)
        .map(|i| format!("container app: log line {i:>40}\n"))
        .collect();
    summary
        .append_markdown(&format!("evidence:\n\n```text\n{lines}```"))
        .unwrap();
    let text = summary.written();
    let fences = text.lines().filter(|l| l.starts_with("```")).count();
    assert_eq!(
        fences,
        2,
        "the fence is closed: {}",
        &text[text.len() - 200..]
    );
    assert!(text.trim_end().ends_with("the log has the rest)*"));
}

#[test]
fn the_summary_never_passes_githubs_limit_whatever_is_appended() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("summary.md");
    let mut summary = SummaryFile::at(&path);
    for _ in 0..12 {
        summary.section("rollout", &big_table(4_000)).unwrap();
    }
    summary.append_markdown("a last word").unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size <= SUMMARY_LIMIT, "{size} bytes");
    assert!(
        size > SUMMARY_LIMIT - SECTION_LIMIT as u64,
        "the room is used: {size} bytes"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("cut here"));
    assert!(
        !text.contains("a last word"),
        "nothing fits once the summary is full"
    );
    assert_eq!(text, summary.written());
}

#[test]
fn a_summary_file_written_before_counts_towards_the_limit() {
    // The runner's summary file is per step, but an earlier run of the binary in the same step
    // (a composite action, a script) may have written to it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("summary.md");
    std::fs::write(&path, "x".repeat(SUMMARY_LIMIT as usize - 1000)).unwrap();
    let mut summary = SummaryFile::at(&path);
    summary.section("rollout", &big_table(100)).unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() <= SUMMARY_LIMIT);
    assert!(
        summary.written().contains("cut here"),
        "{}",
        summary.written()
    );
}

#[test]
fn table_cells_cannot_break_the_table() {
    let rows = vec![
        vec!["a|b", "line\nbreak"],
        vec!["already \\| escaped", "crlf\r\nend"],
        vec!["short"],
    ];
    assert_eq!(
        table(&["k|ey", "value"], rows),
        "| k\\|ey | value |\n| --- | --- |\n| a\\|b | line<br>break |\n| already \\| escaped | crlf<br>end |\n| short |  |\n"
    );
}

#[test]
fn escape_markdown_table() {
    let cases = [
        ("plain words", "plain words"),
        ("# not a heading", "\\# not a heading"),
        ("*bold* _it_ `code`", "\\*bold\\* \\_it\\_ \\`code\\`"),
        ("[link](http://x)", "\\[link\\]\\(http://x\\)"),
        ("<img src=x onerror=y>", "\\<img src=x onerror=y\\>"),
        ("&amp; $x$", "\\&amp; \\$x\\$"),
        ("a\n- item\r\n| t |", "a<br>\\- item<br>\\| t \\|"),
        ("back\\slash", "back\\\\slash"),
    ];
    for (input, want) in cases {
        assert_eq!(escape_markdown(input), want, "escape_markdown({input:?})");
    }
    // Escaped text in a table cell keeps a single escape before its pipes.
    assert_eq!(
        table(&["h"], [[escape_markdown("a|b")]]),
        "| h |\n| --- |\n| a\\|b |\n"
    );
}
