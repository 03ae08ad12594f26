//! The trust evaluator, its diagnosis and `trust-policy` held against an independent IAM engine,
//! `@cloud-copilot/iam-simulate` (npm, test-only, installed by scripts/setup.sh under
//! tests/iam-engine/, never shipped). Thousands of random GitHub-OIDC trust policies and tokens
//! are generated from a fixed seed (every operator and modifier the evaluator supports,
//! wildcards, policy variables, several statements, Deny, plain and ID-form subjects,
//! environments, letter case, wrong audiences, enterprise-scoped and GitHub Enterprise Server
//! issuers) and judged by both; each property is asserted for 100% of the cases:
//! - the verdict equals the engine's;
//! - for a job refused without an explicit Deny, applying the hint (the `audience` input it
//!   names, then the Allow statement it suggests) admits the job in the engine;
//! - the suggested statement alone admits no other generated token whose `sub` differs;
//! - no hint says the token lacks a claim that it has, and no value is listed twice;
//! - a `trust-policy` document admits exactly the branches, environments and reusable workflow
//!   asked for, in the engine too.
//!
//! How the engine is called: tests/iam-engine/engine.js takes one batch of cases as JSON on
//! stdin and answers a JSON array of verdicts, one node process per batch. It calls the
//! engine's core `authorize` with the trust policy as the role's resource policy, because
//! `runSimulation` drops context keys that IAM does not list for the action (all of a provider's
//! claim keys) and would see every claim as absent; the script's header says more.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use oidc_ecs_deploy::identity::claims::Claims;
use oidc_ecs_deploy::identity::diagnose::diagnose_policy;
use oidc_ecs_deploy::identity::policygen::{PolicySpec, generate};
use oidc_ecs_deploy::identity::trust::{Decision, TrustPolicy, evaluate};
use serde_json::{Map, Value, json};

const ACCOUNT: &str = "111122223333";
const ROLE: &str = "arn:aws:iam::111122223333:role/deploy";
const AUDIENCE: &str = "sts.amazonaws.com";
const ISSUERS: [&str; 3] = [
    "https://token.actions.githubusercontent.com",
    "https://token.actions.githubusercontent.com/octo-ent",
    "https://ghes.example.com/_services/token",
];
const SHARED_WORKFLOW: &str = "octo-org/deploy-workflows/.github/workflows/deploy.yml";

/// splitmix64: a fixed seed gives the same cases on every run and machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn provider_of(issuer: &str) -> String {
    issuer.trim_start_matches("https://").to_string()
}

fn provider_arn(provider: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{provider}")
}

// The engine --------------------------------------------------------------------------------------

/// One question for the engine: may this token's provider assume the role under this policy?
fn engine_case(policy: &Value, claims: &Claims) -> Value {
    let provider = claims.provider();
    let context: Map<String, Value> = claims
        .as_map()
        .iter()
        .filter_map(|(name, v)| {
            let value = match v {
                Value::String(s) => json!(s),
                Value::Array(items) => json!(items),
                _ => return None,
            };
            Some((format!("{provider}:{name}"), value))
        })
        .collect();
    json!({ "principal": provider_arn(&provider), "account": ACCOUNT, "policy": policy, "context": context })
}

/// The engine's verdicts for a batch, in order: `Allowed`, `ExplicitlyDenied`, `ImplicitlyDenied`.
fn engine(cases: &[Value]) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/iam-engine");
    assert!(
        dir.join("node_modules/@cloud-copilot/iam-simulate")
            .is_dir(),
        "the IAM engine is not installed in {}: run scripts/setup.sh",
        dir.display()
    );
    let mut child = Command::new("node")
        .arg("engine.js")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run node (scripts/setup.sh installs it)");
    let input = serde_json::to_vec(cases).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "the engine failed: {}", out.status);
    let verdicts: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verdicts.len(), cases.len());
    verdicts
}

fn ours(decision: Decision) -> &'static str {
    match decision {
        Decision::Allowed { .. } => "Allowed",
        Decision::ExplicitDeny { .. } => "ExplicitlyDenied",
        Decision::ImplicitDeny => "ImplicitlyDenied",
    }
}

// Tokens --------------------------------------------------------------------------------------------

/// What a job is, as far as its token tells.
struct Job<'a> {
    issuer: &'a str,
    owner: &'a str,
    repo: &'a str,
    id_form: bool,
    /// `branch:NAME`, `environment:NAME` or `pull_request`.
    context: &'a str,
    aud: &'a str,
    job_workflow_ref: String,
}

impl Job<'_> {
    fn token(&self) -> Claims {
        let (owner, repo) = (self.owner, self.repo);
        let repo_part = if self.id_form {
            format!("{owner}@1342004/{repo}@88120")
        } else {
            format!("{owner}/{repo}")
        };
        let mut claims = json!({
            "iss": self.issuer,
            "aud": self.aud,
            "repository": format!("{owner}/{repo}"),
            "repository_owner": owner,
            "repository_id": "88120",
            "ref": "refs/heads/main",
            "actor": "mona",
            "job_workflow_ref": self.job_workflow_ref,
        });
        let sub = if let Some(branch) = self.context.strip_prefix("branch:") {
            claims["ref"] = json!(format!("refs/heads/{branch}"));
            format!("repo:{repo_part}:ref:refs/heads/{branch}")
        } else if let Some(env) = self.context.strip_prefix("environment:") {
            claims["environment"] = json!(env);
            format!("repo:{repo_part}:environment:{env}")
        } else {
            claims["ref"] = json!("refs/pull/7/merge");
            format!("repo:{repo_part}:pull_request")
        };
        claims["sub"] = json!(sub);
        Claims::from_map(claims.as_object().unwrap().clone())
    }
}

const BRANCHES: [&str; 6] = [
    "main",
    "dev",
    "release/1",
    "release/2/hotfix",
    "Main",
    "feature/x",
];
const ENVIRONMENTS: [&str; 3] = ["production", "staging", "Production"];
const REPOS: [(&str, &str); 4] = [
    ("octo-org", "payments"),
    ("octo-org", "web"),
    ("Octo-Org", "payments"),
    ("acme", "payments"),
];
const WORKFLOW_REFS: [&str; 3] = ["refs/heads/main", "refs/tags/v1", "refs/tags/v2"];

fn random_job(rng: &mut Rng) -> (String, String) {
    let context = match rng.below(4) {
        0 => format!("environment:{}", rng.pick(&ENVIRONMENTS)),
        1 => "pull_request".to_string(),
        _ => format!("branch:{}", rng.pick(&BRANCHES)),
    };
    let (owner, repo) = *rng.pick(&REPOS);
    let workflow = if rng.chance(50) {
        format!("{SHARED_WORKFLOW}@{}", rng.pick(&WORKFLOW_REFS))
    } else {
        format!("{owner}/{repo}/.github/workflows/ci.yml@refs/heads/main")
    };
    (context, workflow)
}

/// A random job's token: issuer, repository (plain or ID form, letter case), branch or
/// environment or pull request, audience, and the workflow it ran.
fn random_token(rng: &mut Rng) -> Claims {
    let (context, job_workflow_ref) = random_job(rng);
    let (owner, repo) = *rng.pick(&REPOS);
    Job {
        issuer: rng.pick::<&str>(&ISSUERS),
        owner,
        repo,
        id_form: rng.chance(25),
        context: &context,
        aud: rng.pick::<&str>(&[
            AUDIENCE,
            AUDIENCE,
            AUDIENCE,
            "https://github.com/octo-org",
            "sigstore",
        ]),
        job_workflow_ref,
    }
    .token()
}

// Policies ------------------------------------------------------------------------------------------

const CLAIMS_IN_CONDITIONS: [&str; 7] = [
    "sub",
    "aud",
    "ref",
    "environment",
    "job_workflow_ref",
    "repository",
    "repository_owner",
];
const BASE_OPERATORS: [&str; 6] = [
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
];

/// A condition value for `claim`, drawn from the values of the token pool so that conditions
/// match often: exact, another letter case, or a pattern with `*`/`?` or a policy variable.
fn random_value(rng: &mut Rng, pool: &[Claims], claim: &str, provider: &str) -> String {
    let source = rng.pick(pool);
    let value = source
        .values(claim)
        .and_then(|v| v.first().cloned())
        .unwrap_or_else(|| "production".into());
    match rng.below(10) {
        0 => value.to_uppercase(),
        1 => match value.rfind(':') {
            Some(i) => format!("{}*", &value[..=i]),
            None => format!("{}*", &value[..value.len() / 2]),
        },
        2 if value.len() > 3 => format!("{}?{}", &value[..2], &value[3..]),
        3 => format!("*{}", &value[value.len() / 2..]),
        4 if claim == "sub" => format!("repo:${{{provider}:repository}}:*"),
        5 => "*".into(),
        _ => value,
    }
}

fn random_condition(
    rng: &mut Rng,
    pool: &[Claims],
    provider: &str,
    other: &str,
) -> Map<String, Value> {
    let mut block = Map::new();
    for _ in 0..1 + rng.below(3) {
        let mut operator = rng.pick(&BASE_OPERATORS).to_string();
        if rng.chance(15) {
            operator = format!("{}:{operator}", rng.pick(&["ForAnyValue", "ForAllValues"]));
        }
        if rng.chance(15) {
            operator.push_str("IfExists");
        }
        let null = rng.chance(8);
        if null {
            operator = "Null".into();
        }
        let claim = *rng.pick(&CLAIMS_IN_CONDITIONS);
        let claim = if rng.chance(10) {
            claim.to_uppercase()
        } else {
            claim.to_string()
        };
        let prefix = if rng.chance(8) { other } else { provider };
        let values: Vec<String> = if null {
            vec![rng.pick(&["true", "false"]).to_string()]
        } else {
            (0..1 + rng.below(2))
                .map(|_| random_value(rng, pool, &claim.to_lowercase(), prefix))
                .collect()
        };
        let entry = block.entry(operator).or_insert_with(|| json!({}));
        entry[format!("{prefix}:{claim}")] = if values.len() == 1 {
            json!(values[0])
        } else {
            json!(values)
        };
    }
    block
}

fn random_policy(rng: &mut Rng, pool: &[Claims], token: &Claims) -> Value {
    let provider = token.provider();
    let other = provider_of(rng.pick::<&str>(&ISSUERS));
    let statements: Vec<Value> = (0..1 + rng.below(3))
        .map(|_| {
            let deny = rng.chance(18);
            let principal = match rng.below(12) {
                0 => json!("*"),
                1 => json!({ "Federated": provider_arn(&other) }),
                2 => json!({ "Federated": [provider_arn(&other), provider_arn(&provider)] }),
                _ => json!({ "Federated": provider_arn(&provider) }),
            };
            let action = match rng.below(10) {
                0 => json!("sts:AssumeRole"),
                1 => json!(["sts:AssumeRole*"]),
                2 => json!("sts:*"),
                _ => json!("sts:AssumeRoleWithWebIdentity"),
            };
            let mut s = json!({
                "Effect": if deny { "Deny" } else { "Allow" },
                "Principal": principal,
                "Action": action,
            });
            if !rng.chance(5) {
                s["Condition"] = Value::Object(random_condition(rng, pool, &provider, &other));
            }
            s
        })
        .collect();
    json!({ "Version": "2012-10-17", "Statement": statements })
}

// Applying a hint -----------------------------------------------------------------------------------

fn with_audience(claims: &Claims, audience: &str) -> Claims {
    let mut map = claims.as_map().clone();
    map.insert("aud".into(), json!(audience));
    Claims::from_map(map)
}

fn with_statement(policy: &Value, statement: &Value) -> Value {
    let mut fixed = policy.clone();
    fixed["Statement"]
        .as_array_mut()
        .unwrap()
        .push(statement.clone());
    fixed
}

/// The claims a hint must never say the token lacks.
fn false_claims_about(hint: &str, claims: &Claims) -> Vec<String> {
    claims
        .as_map()
        .keys()
        .filter(|name| {
            hint.contains(&format!("has no `{name}`")) || hint.contains(&format!("no {name} claim"))
        })
        .cloned()
        .collect()
}

/// Values listed twice after "the policy expects".
fn repeated_expectations(hint: &str) -> Option<String> {
    let rest = hint.split("the policy expects ").nth(1)?;
    let list = rest.split(';').next()?;
    let values: Vec<&str> = list.split(", ").collect();
    let distinct: BTreeSet<&str> = values.iter().copied().collect();
    (distinct.len() != values.len()).then(|| list.to_string())
}

#[test]
fn verdicts_and_hints_agree_with_the_iam_engine() {
    let mut rng = Rng(0x5EED_0011);
    let pool: Vec<Claims> = (0..64).map(|_| random_token(&mut rng)).collect();
    const CASES: usize = 3000;
    let mut verdict_cases = Vec::new();
    let mut ours_verdicts = Vec::new();
    let mut fixes = Vec::new(); // (case, engine question)
    let mut statements: BTreeSet<String> = BTreeSet::new();
    let mut problems = Vec::new();
    let mut ghes = 0;
    for case in 0..CASES {
        let token = rng.pick(&pool).clone();
        let policy = random_policy(&mut rng, &pool, &token);
        let parsed = TrustPolicy::parse(&policy.to_string()).unwrap();
        let evaluation = evaluate(&parsed, &token);
        ghes += usize::from(token.provider().ends_with("/_services/token"));
        verdict_cases.push(engine_case(&policy, &token));
        ours_verdicts.push(ours(evaluation.decision));
        if matches!(evaluation.decision, Decision::Allowed { .. }) {
            continue;
        }
        let d = diagnose_policy(ROLE, &parsed, &evaluation, &token, AUDIENCE);
        // The hint as one line: wrapping only breaks lines at spaces.
        let hint = d.hint.clone().unwrap_or_default().replace('\n', " ");
        let lies = false_claims_about(&hint, &token);
        if !lies.is_empty() {
            problems.push(format!(
                "case {case}: the hint says the token lacks {lies:?}:\n{d}"
            ));
        }
        if let Some(list) = repeated_expectations(&hint) {
            problems.push(format!("case {case}: a value listed twice ({list}):\n{d}"));
        }
        if evaluation.decision != Decision::ImplicitDeny {
            if d.suggested_statement.is_some() || d.suggested_audience.is_some() {
                problems.push(format!(
                    "case {case}: an Allow offered against an explicit Deny:\n{d}"
                ));
            }
            continue;
        }
        if d.suggested_statement.is_none() && d.suggested_audience.is_none() {
            problems.push(format!(
                "case {case}: no fix for a job refused without a Deny:\n{d}"
            ));
            continue;
        }
        let job = match &d.suggested_audience {
            Some(aud) => {
                if !hint.contains(&format!("set the action's `audience` input to {aud}")) {
                    problems.push(format!(
                        "case {case}: the audience change is not in the hint:\n{d}"
                    ));
                }
                with_audience(&token, aud)
            }
            None => token.clone(),
        };
        let fixed = match &d.suggested_statement {
            Some(s) => {
                statements.insert(serde_json::to_string(&(s, token.provider())).unwrap());
                with_statement(&policy, s)
            }
            None => policy.clone(),
        };
        fixes.push((case, engine_case(&fixed, &job), d.to_string()));
    }

    let engine_verdicts = engine(&verdict_cases);
    let mut tally = std::collections::BTreeMap::new();
    for (case, (theirs, ours)) in engine_verdicts.iter().zip(&ours_verdicts).enumerate() {
        *tally.entry(theirs.clone()).or_insert(0) += 1;
        if theirs != ours {
            problems.push(format!(
                "case {case}: the engine says {theirs}, the evaluator {ours}: {}",
                verdict_cases[case]
            ));
        }
    }
    let fixed_verdicts = engine(&fixes.iter().map(|(_, q, _)| q.clone()).collect::<Vec<_>>());
    for ((case, question, text), verdict) in fixes.iter().zip(&fixed_verdicts) {
        if verdict != "Allowed" {
            problems.push(format!(
                "case {case}: applying the hint leaves the job {verdict}: {question}\n{text}"
            ));
        }
    }

    // Least privilege: each suggested statement alone, against every pool token with another sub.
    let mut questions = Vec::new();
    for entry in &statements {
        let (statement, provider): (Value, String) = serde_json::from_str(entry).unwrap();
        let sub_key = format!("{provider}:sub");
        let sub = statement["Condition"]["StringEquals"][&sub_key]
            .as_str()
            .unwrap()
            .to_string();
        let alone = json!({ "Version": "2012-10-17", "Statement": [statement] });
        for other in pool.iter().filter(|t| t.sub() != Some(sub.as_str())) {
            for aud in [None, Some(AUDIENCE)] {
                let other = aud
                    .map(|a| with_audience(other, a))
                    .unwrap_or_else(|| other.clone());
                questions.push((
                    engine_case(&alone, &other),
                    sub.clone(),
                    other.sub().unwrap().to_string(),
                ));
            }
        }
    }
    let least = engine(
        &questions
            .iter()
            .map(|(q, _, _)| q.clone())
            .collect::<Vec<_>>(),
    );
    for ((_, sub, other), verdict) in questions.iter().zip(&least) {
        if verdict == "Allowed" {
            problems.push(format!(
                "the statement suggested for {sub} also admits {other}"
            ));
        }
    }

    println!(
        "{CASES} cases ({ghes} GHES tokens), engine verdicts {tally:?}; {} fixes applied; {} suggested statements \
         held against {} other tokens",
        fixes.len(),
        statements.len(),
        questions.len()
    );
    assert_no_problems(&problems);
    // The generator reaches every kind of outcome, so the properties are not vacuous.
    for verdict in ["Allowed", "ExplicitlyDenied", "ImplicitlyDenied"] {
        assert!(
            tally.get(verdict).copied().unwrap_or(0) >= CASES / 20,
            "too few {verdict}: {tally:?}"
        );
    }
    assert!(ghes >= CASES / 5, "too few GHES cases: {ghes}");
    assert!(
        fixes.len() >= CASES / 5 && statements.len() >= 20,
        "too few fixes tried"
    );
}

// trust-policy ---------------------------------------------------------------------------------------

/// A random `trust-policy` request: issuer, ID form, branches (with a `release/*` pattern at
/// times), environments, a reusable workflow, or a reusable workflow alone.
fn random_spec(rng: &mut Rng) -> PolicySpec {
    let pick_some = |rng: &mut Rng, items: &[&str]| -> Vec<String> {
        items
            .iter()
            .filter(|_| rng.chance(30))
            .map(|s| s.to_string())
            .collect()
    };
    let mut branches = pick_some(rng, &BRANCHES);
    if rng.chance(20) {
        branches.push("release/*".into());
    }
    let environments = pick_some(rng, &ENVIRONMENTS);
    let reusable_workflow = rng
        .chance(35)
        .then(|| format!("{SHARED_WORKFLOW}@{}", rng.pick(&WORKFLOW_REFS)));
    let callers_anywhere = reusable_workflow.is_some() && rng.chance(30);
    if !callers_anywhere
        && reusable_workflow.is_none()
        && branches.is_empty()
        && environments.is_empty()
    {
        branches.push("main".into());
    }
    let id_form =
        (!callers_anywhere && rng.chance(25)).then(|| ("1342004".to_string(), "88120".to_string()));
    let (owner, repo) = if callers_anywhere {
        ("", "")
    } else {
        ("octo-org", "payments")
    };
    PolicySpec {
        partition: "aws".into(),
        account: ACCOUNT.into(),
        issuer: rng.pick(&ISSUERS).to_string(),
        owner: owner.into(),
        repo: repo.into(),
        branches: if callers_anywhere {
            Vec::new()
        } else {
            branches
        },
        environments: if callers_anywhere {
            Vec::new()
        } else {
            environments
        },
        id_form,
        audience: AUDIENCE.into(),
        reusable_workflow,
    }
}

/// Whether the spec asked for this job, decided from the request alone (not from any policy).
fn asked_for(spec: &PolicySpec, job: &Job) -> bool {
    let right_issuer = job.issuer == spec.issuer && job.aud == spec.audience;
    let right_workflow = spec
        .reusable_workflow
        .as_ref()
        .is_none_or(|w| *w == job.job_workflow_ref);
    let right_repo = spec.owner.is_empty()
        || (job.owner == spec.owner
            && job.repo == spec.repo
            && job.id_form == spec.id_form.is_some());
    let right_context = spec.owner.is_empty()
        || (spec.branches.is_empty() && spec.environments.is_empty())
        || match job.context.split_once(':') {
            Some(("branch", b)) => {
                spec.branches.iter().any(|x| x == b)
                    || (b.starts_with("release/") && spec.branches.iter().any(|x| x == "release/*"))
            }
            Some(("environment", e)) => spec.environments.iter().any(|x| x == e),
            _ => false,
        };
    right_issuer && right_workflow && right_repo && right_context
}

#[test]
fn trust_policy_admits_exactly_what_was_asked_in_the_engine_too() {
    let mut rng = Rng(0x5EED_0007);
    let mut questions = Vec::new();
    let mut problems = Vec::new();
    for n in 0..250 {
        let spec = random_spec(&mut rng);
        let policy = generate(&spec).unwrap_or_else(|e| panic!("spec {n} {spec:?}: {e}"));
        let parsed = TrustPolicy::parse(&policy.to_string()).unwrap();
        // Every asked branch and environment, then random jobs around them.
        let mut jobs: Vec<(String, String, bool)> = Vec::new();
        let asked_workflow = spec
            .reusable_workflow
            .clone()
            .unwrap_or_else(|| format!("{SHARED_WORKFLOW}@refs/heads/main"));
        for b in spec.branches.iter().filter(|b| !b.contains('*')) {
            jobs.push((format!("branch:{b}"), asked_workflow.clone(), true));
        }
        for e in &spec.environments {
            jobs.push((format!("environment:{e}"), asked_workflow.clone(), true));
        }
        for _ in 0..40 {
            let (context, workflow) = random_job(&mut rng);
            jobs.push((context, workflow, false));
        }
        for (context, job_workflow_ref, exact) in jobs {
            let (owner, repo) = if exact {
                ("octo-org", "payments")
            } else {
                *rng.pick(&REPOS)
            };
            let job = Job {
                issuer: if exact {
                    spec.issuer.as_str()
                } else {
                    rng.pick::<&str>(&ISSUERS)
                },
                owner,
                repo,
                id_form: if exact {
                    spec.id_form.is_some()
                } else {
                    rng.chance(30)
                },
                context: &context,
                aud: if exact || rng.chance(80) {
                    AUDIENCE
                } else {
                    "sigstore"
                },
                job_workflow_ref,
            };
            let want = asked_for(&spec, &job);
            assert!(!exact || want, "the test asked for this job itself");
            let token = job.token();
            let got = matches!(evaluate(&parsed, &token).decision, Decision::Allowed { .. });
            if got != want {
                problems.push(format!(
                    "spec {n}: the evaluator says {got} for {} (asked: {want})\n{policy}",
                    token.sub().unwrap()
                ));
            }
            questions.push((
                engine_case(&policy, &token),
                want,
                n,
                token.sub().unwrap().to_string(),
            ));
        }
    }
    let verdicts = engine(
        &questions
            .iter()
            .map(|(q, ..)| q.clone())
            .collect::<Vec<_>>(),
    );
    let admitted = verdicts.iter().filter(|v| *v == "Allowed").count();
    for ((question, want, n, sub), verdict) in questions.iter().zip(&verdicts) {
        if (verdict == "Allowed") != *want {
            problems.push(format!(
                "spec {n}: the engine says {verdict} for {sub} (asked: {want}): {question}"
            ));
        }
    }
    println!(
        "{} jobs against 250 generated policies, {admitted} admitted by the engine",
        questions.len()
    );
    assert_no_problems(&problems);
    assert!(
        admitted >= questions.len() / 20,
        "too few admitted jobs to mean anything"
    );
}

/// Fails with the count and the first few problems, if there are any.
fn assert_no_problems(problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{} problems, the first ones:\n{}",
        problems.len(),
        problems[..problems.len().min(8)].join("\n\n")
    );
}
