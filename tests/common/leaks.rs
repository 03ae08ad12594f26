//! The secrets check every end-to-end run goes through: `ActionRun::run` calls [`check_run`], so
//! a test fails when a secret value appears in anything the step left behind (stdout, stderr,
//! GITHUB_OUTPUT, GITHUB_ENV, the job summary) anywhere but on an `::add-mask::` line, or when a
//! masked value is shown before its mask.
//!
//! The secrets come from two places:
//! - what the test knows: the credentials and tokens it put in the environment and the inputs
//!   (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
//!   `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, `GITHUB_TOKEN`, `github-token`, the web-identity token
//!   file), the password fed to `push --password-stdin`, the JWTs its OIDC issuers served, and
//!   whatever it names with `ActionRun::secret` (an ECR password, a registry token);
//! - what the run says: every value it masked (the keys STS issued, the ECR password, ...) and
//!   the credentials it exported to GITHUB_ENV, so a secret the test could not know is checked
//!   too once the binary treats it as one.
//!
//! A 12-digit mask is the account id (`mask-aws-account-id`): not a secret (it is in the
//! outputs and in ARNs on purpose), so only its order is checked. GITHUB_ENV may hold
//! credentials only when `output-env-credentials` is on, and each must then have been masked.
//! A secret shorter than 8 characters is not checked: it would match ordinary text.

use super::{Run, unescape_data};

const MASK: &str = "::add-mask::";
const SHORTEST: usize = 8;
/// The environment variables whose values are secrets, and the credentials GITHUB_ENV may get.
pub const SECRET_VARS: [&str; 5] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "GITHUB_TOKEN",
];
const EXPORTED_CREDENTIALS: [&str; 3] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

/// One secret value and what it is, for the failure message.
#[derive(Debug, Clone)]
pub struct Known {
    pub what: String,
    pub value: String,
}

impl Known {
    pub fn new(what: impl Into<String>, value: impl Into<String>) -> Self {
        Known {
            what: what.into(),
            value: value.into(),
        }
    }
}

/// How one run may treat its secrets.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// `output-env-credentials: true`: GITHUB_ENV may hold the credentials.
    pub env_may_hold: bool,
    /// Under Actions a runner reads the log: exported credentials must be masked. A CLI run
    /// has no masker, so there a secret must simply appear nowhere.
    pub under_actions: bool,
}

/// Fails the test (with everything the step printed) when `run` leaks any of `known` or of the
/// secrets it revealed itself, or shows a masked value before masking it.
pub fn check_run(run: &Run, known: &[Known], rules: Rules) {
    let mut secrets = known.to_vec();
    secrets.extend(learned(run));
    let mut problems = leaks(run, &secrets, rules.env_may_hold);
    problems.extend(masked_after_shown(run));
    if rules.under_actions {
        problems.extend(unmasked_exports(run));
    }
    if !problems.is_empty() {
        panic!(
            "secrets check failed:\n  {}\n{}",
            problems.join("\n  "),
            run.dump()
        );
    }
}

/// What the run itself treats as secret: its masks (but the account id) and the credentials it
/// exported.
fn learned(run: &Run) -> Vec<Known> {
    let masks = run
        .masks()
        .into_iter()
        .filter(|m| !is_account_id(m))
        .map(|m| Known::new("a masked value", m));
    let exported = run
        .env_file
        .iter()
        .filter(|(name, _)| EXPORTED_CREDENTIALS.contains(&name.as_str()))
        .map(|(name, value)| Known::new(format!("{name} (exported)"), value.clone()));
    masks.chain(exported).collect()
}

fn is_account_id(value: &str) -> bool {
    value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit())
}

/// Where each secret shows outside its mask lines, one message per place.
pub fn leaks(run: &Run, secrets: &[Known], env_may_hold: bool) -> Vec<String> {
    let mut problems = Vec::new();
    for secret in secrets.iter().filter(|s| s.value.len() >= SHORTEST) {
        for needle in needles(&secret.value) {
            let needle = needle.as_str();
            let what = &secret.what;
            if let Some(line) = run
                .stdout
                .lines()
                .find(|l| !l.starts_with(MASK) && l.contains(needle))
            {
                problems.push(format!("{what} is on stdout: {line}"));
            }
            if let Some(line) = run.stderr.lines().find(|l| l.contains(needle)) {
                problems.push(format!("{what} is on stderr: {line}"));
            }
            let files = [
                ("GITHUB_OUTPUT", &run.output_file, false),
                ("the job summary", &run.summary, false),
                ("GITHUB_ENV", &run.env_file_text, env_may_hold),
            ];
            for (file, text, allowed) in files {
                if !allowed && text.contains(needle) {
                    problems.push(format!("{what} is in {file}"));
                }
            }
        }
    }
    problems.sort();
    problems.dedup();
    problems
}

/// The value, and its parts or encodings that are as good as the value: a JWT's signature, the
/// URL-encoded form a query string would carry.
fn needles(value: &str) -> Vec<String> {
    let mut needles = vec![value.to_owned()];
    if value.starts_with("eyJ") && value.matches('.').count() == 2 {
        needles.extend(value.rsplit('.').next().map(str::to_owned));
    }
    let encoded: String = value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect();
    if encoded != value {
        needles.push(encoded);
    }
    needles.retain(|n| n.len() >= SHORTEST);
    needles
}

/// Masked values shown on a line before their first mask: in write order for an interleaved
/// run, on stdout alone otherwise (the order between two pipes is not known).
pub fn masked_after_shown(run: &Run) -> Vec<String> {
    let log = if run.combined.is_empty() {
        &run.stdout
    } else {
        &run.combined
    };
    let lines: Vec<&str> = log.lines().collect();
    let mut masks = run.masks();
    masks.sort();
    masks.dedup();
    masks
        .iter()
        .filter_map(|value| {
            let (mask, shown) = first_mask_and_show(&lines, value);
            match (mask, shown) {
                (Some(m), Some(s)) if s < m => Some(format!(
                    "{value:?} is shown on line {} before it is masked on line {}: {}",
                    s + 1,
                    m + 1,
                    lines[s]
                )),
                _ => None,
            }
        })
        .collect()
}

/// The first `::add-mask::` line of `value`, and the first other line holding it.
fn first_mask_and_show(lines: &[&str], value: &str) -> (Option<usize>, Option<usize>) {
    let is_mask = |l: &str| {
        l.strip_prefix(MASK)
            .is_some_and(|v| unescape_data(v) == value)
    };
    let mask = lines.iter().position(|l| is_mask(l));
    let shown = lines
        .iter()
        .position(|l| !l.starts_with(MASK) && l.contains(value));
    (mask, shown)
}

/// Credentials exported to GITHUB_ENV that were never masked: later steps would print them.
fn unmasked_exports(run: &Run) -> Vec<String> {
    let masks = run.masks();
    run.env_file
        .iter()
        .filter(|(name, value)| {
            EXPORTED_CREDENTIALS.contains(&name.as_str()) && !masks.contains(value)
        })
        .map(|(name, _)| format!("{name} is exported to GITHUB_ENV but never masked"))
        .collect()
}

/// Asserts the masking contract for `secrets` the test expects this run to have used: each is
/// masked (`::add-mask::VALUE` on stdout), and none leaks (see [`check_run`]).
pub fn assert_no_leaks(run: &Run, secrets: &[(&str, &str)], env_may_hold: bool) {
    let masks = run.masks();
    for (what, secret) in secrets {
        assert!(
            secret.len() >= SHORTEST,
            "{what}: a secret this short is not worth checking: {secret:?}"
        );
        assert!(
            masks.iter().any(|m| m == secret),
            "{what} is never masked ({secret})\n{}",
            run.dump()
        );
    }
    let known: Vec<Known> = secrets.iter().map(|(w, v)| Known::new(*w, *v)).collect();
    check_run(
        run,
        &known,
        Rules {
            env_may_hold,
            under_actions: true,
        },
    );
}

/// Asserts `value` is masked, and masked before any line of an interleaved run shows it (a
/// value masked on purpose but not secret by shape, such as an account id under
/// mask-aws-account-id).
pub fn assert_masked_before_shown(run: &Run, what: &str, value: &str) {
    assert!(
        !run.combined.is_empty(),
        "assert_masked_before_shown needs an interleaved run"
    );
    let lines: Vec<&str> = run.combined.lines().collect();
    match first_mask_and_show(&lines, value) {
        (None, _) => panic!("{what} ({value}) is never masked\n{}", run.dump()),
        (Some(m), Some(s)) => assert!(
            m < s,
            "{what} ({value}) is shown on line {} before it is masked on line {}: {:?}\n{}",
            s + 1,
            m + 1,
            lines[s],
            run.dump()
        ),
        (Some(_), None) => {}
    }
}
