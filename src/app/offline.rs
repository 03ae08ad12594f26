//! The offline helpers: `check-trust` runs the trust evaluator and its diagnosis on files,
//! `trust-policy` prints a least-privilege trust policy, and `permissions-policy` the
//! least-privilege permissions policy of the deploy role. None touches the network.

use crate::cli::{CheckTrustArgs, TrustPolicyArgs};
use crate::failure::{Category, Failure};
use crate::identity::claims::Claims;
use crate::identity::diagnose;
use crate::identity::permissions::{self, PermissionsSpec};
use crate::identity::policygen::{self, PolicySpec};
use crate::identity::trust::{self, Decision, TrustPolicy};

use super::failures;

fn read(path: &std::path::Path, flag: &str) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| {
        Failure::new(
            Category::BadInput,
            format!("--{flag} {}: {e}", path.display()),
        )
    })
}

pub fn check_trust(args: &CheckTrustArgs) -> Result<(), Failure> {
    let policy = TrustPolicy::parse(&read(&args.policy, "policy")?).map_err(|e| {
        Failure::new(
            Category::BadInput,
            format!(
                "--policy {} is not a trust policy: {e}",
                args.policy.display()
            ),
        )
    })?;
    let claims = match (&args.claims, &args.token) {
        (Some(path), _) => Claims::from_json(&read(path, "claims")?).map_err(|e| {
            Failure::new(
                Category::BadInput,
                format!("--claims {}: {e}", path.display()),
            )
        })?,
        (None, Some(path)) => Claims::from_jwt(read(path, "token")?.trim()).map_err(|e| {
            Failure::new(
                Category::BadInput,
                format!("--token {}: {e}", path.display()),
            )
        })?,
        (None, None) => unreachable!("clap requires --claims or --token"),
    };
    let role = args.role_arn.as_deref().unwrap_or("the role");
    let evaluation = trust::evaluate(&policy, &claims);
    match evaluation.decision {
        Decision::Allowed { statement } => {
            println!(
                "allowed: statement {} of the trust policy admits sub={}",
                statement + 1,
                claims.sub().unwrap_or("(absent)")
            );
            Ok(())
        }
        _ => Err(failures::diagnosis(diagnose::diagnose_policy(
            role,
            &policy,
            &evaluation,
            &claims,
            &args.audience,
        ))),
    }
}

pub fn trust_policy(args: &TrustPolicyArgs) -> Result<(), Failure> {
    let bad = |message: String| Failure::new(Category::BadInput, message);
    let (owner, repo) = match &args.repo {
        Some(r) => r
            .split_once('/')
            .ok_or_else(|| bad(format!("--repo `{r}` is not OWNER/REPO")))?,
        None => ("", ""),
    };
    let id_form = match &args.id_form {
        None => None,
        Some(ids) => {
            let (o, r) = ids.split_once('/').ok_or_else(|| bad(format!("--id-form `{ids}` is not OWNER_ID/REPO_ID (the numeric ids, e.g. 1342004/88120)")))?;
            Some((o.to_owned(), r.to_owned()))
        }
    };
    let spec = PolicySpec {
        partition: args.partition.clone(),
        account: args.account.clone(),
        owner: owner.to_owned(),
        repo: repo.to_owned(),
        branches: args.branches.clone(),
        environments: args.environments.clone(),
        id_form,
        audience: args.audience.clone(),
        issuer: args.issuer.clone(),
        reusable_workflow: args.reusable_workflow.clone(),
    };
    let policy = policygen::generate(&spec).map_err(|e| bad(e.to_string()))?;
    print_policy(&policy);
    Ok(())
}

pub fn permissions_policy(spec: &PermissionsSpec) -> Result<(), Failure> {
    let policy =
        permissions::generate(spec).map_err(|e| Failure::new(Category::BadInput, e.to_string()))?;
    print_policy(&policy);
    Ok(())
}

fn print_policy(policy: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(policy).expect("a JSON value always serialises")
    );
}
