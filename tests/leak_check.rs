//! The secrets check of the end-to-end harness (`common::leaks`), on runs made up here: a
//! check that cannot fail would prove nothing about the runs it passes.

mod common;

use common::Run;
use common::leaks::{Known, leaks, masked_after_shown};

fn run(stdout: &str, stderr: &str) -> Run {
    Run {
        code: 0,
        stdout: stdout.into(),
        stderr: stderr.into(),
        combined: String::new(),
        outputs: vec![],
        output_file: String::new(),
        env_file: vec![],
        env_file_text: String::new(),
        summary: String::new(),
        elapsed: std::time::Duration::ZERO,
        args: vec![],
    }
}

#[test]
fn a_secret_on_its_mask_line_only_passes_and_anywhere_else_fails() {
    let secret = [Known::new("token", "s3cr3t-value-123")];
    let clean = run("::add-mask::s3cr3t-value-123\n::group::x\n", "working\n");
    assert!(leaks(&clean, &secret, false).is_empty());
    let leaked = run("::add-mask::s3cr3t-value-123\n", "using s3cr3t-value-123\n");
    assert_eq!(leaks(&leaked, &secret, false).len(), 1);
    let encoded = run("", "GET /?t=a%2Fb%3Dsecret-ish\n");
    assert_eq!(
        leaks(&encoded, &[Known::new("key", "a/b=secret-ish")], false).len(),
        1
    );
}

#[test]
fn a_mask_after_the_value_is_shown_is_reported() {
    let late = run(
        "::notice::AKIA0123456789ABCDEF\n::add-mask::AKIA0123456789ABCDEF\n",
        "",
    );
    assert_eq!(masked_after_shown(&late).len(), 1);
    let early = run(
        "::add-mask::AKIA0123456789ABCDEF\n::notice::AKIA0123456789ABCDEF\n",
        "",
    );
    assert!(masked_after_shown(&early).is_empty());
}
