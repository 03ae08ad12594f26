//! The command line: `action` (run as the GitHub Action, from `INPUT_*`), `deploy` (the same run
//! with flags named like the inputs), `push` (an image to any registry, no AWS), and the
//! offline helpers `check-trust`, `trust-policy` and `permissions-policy`.
//! `deploy`'s flags are generated from action.yml, so every input is a flag of the same name.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::identity::permissions::PermissionsSpec;
use crate::inputs::{RawInputs, declared_inputs};

/// What the user asked for.
#[derive(Debug)]
pub enum Invocation {
    /// Run as the action: inputs from the environment.
    Action,
    /// Run the same pipeline with flags.
    Deploy(RawInputs),
    CheckTrust(CheckTrustArgs),
    TrustPolicy(TrustPolicyArgs),
    PermissionsPolicy(PermissionsSpec),
    Push(PushArgs),
}

/// `push`: an image source to a registry, with no AWS call.
#[derive(Debug)]
pub struct PushArgs {
    /// `oci:DIR[:REF]`, `docker-archive:FILE[:REF]`, `docker-daemon:NAME[:TAG]`.
    pub source: String,
    /// `https://host[:port]`, `host[:port]`, or `http://` for a loopback registry.
    pub registry: String,
    pub repository: String,
    /// At least one.
    pub tags: Vec<String>,
    pub username: Option<String>,
    /// Read the password from stdin (requires `username`).
    pub password_stdin: bool,
    /// `monolithic` (one streamed PUT per blob) or `chunked`.
    pub upload_mode: String,
    pub concurrency: usize,
    pub dry_run: bool,
}

#[derive(Debug)]
pub struct CheckTrustArgs {
    pub policy: PathBuf,
    pub claims: Option<PathBuf>,
    pub token: Option<PathBuf>,
    pub audience: String,
    pub role_arn: Option<String>,
}

#[derive(Debug)]
pub struct TrustPolicyArgs {
    pub account: String,
    /// Optional only with `reusable_workflow`.
    pub repo: Option<String>,
    pub branches: Vec<String>,
    pub environments: Vec<String>,
    pub id_form: Option<String>,
    pub audience: String,
    pub partition: String,
    pub issuer: String,
    pub reusable_workflow: Option<String>,
}

fn command() -> Command {
    let deploy = declared_inputs().iter().fold(
        Command::new("deploy").about("Authenticate, push and roll out, with inputs as flags (the same names as the action's inputs)"),
        |cmd, input| {
            let help = match &input.default {
                Some(d) if !d.contains("${{") => format!("{} [default: {d}]", input.description),
                _ => input.description.clone(),
            };
            cmd.arg(Arg::new(input.name.as_str()).long(input.name.as_str()).value_name("VALUE").help(help))
        },
    );
    Command::new("oidc-ecs-deploy")
        .version(env!("CARGO_PKG_VERSION"))
        .about("GitHub OIDC -> AWS credentials -> ECR push -> ECS rollout, explaining every refusal")
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(Command::new("action").about("Run as the GitHub Action: inputs come from INPUT_* variables"))
        .subcommand(deploy)
        .subcommand(
            Command::new("check-trust")
                .about("Check a token's claims against a role's trust policy, offline, and explain a refusal")
                .arg(Arg::new("policy").long("policy").value_name("FILE").required(true).value_parser(clap::value_parser!(PathBuf)).help("The trust policy: a document, `aws iam get-role` output, or URL-encoded JSON"))
                .arg(Arg::new("claims").long("claims").value_name("FILE").value_parser(clap::value_parser!(PathBuf)).help("The token's claims as a JSON object"))
                .arg(Arg::new("token").long("token").value_name("FILE").value_parser(clap::value_parser!(PathBuf)).help("A JWT whose claims to check (not verified)"))
                .group(clap::ArgGroup::new("subject").args(["claims", "token"]).required(true))
                .arg(Arg::new("audience").long("audience").default_value("sts.amazonaws.com").help("The audience the role expects"))
                .arg(Arg::new("role-arn").long("role-arn").value_name("ARN").help("The role's ARN, for the report")),
        )
        .subcommand(
            Command::new("push")
                .about("Push an image to any registry (no AWS): streamed, verified, and skipping what the registry has")
                .arg(Arg::new("source").long("source").value_name("SOURCE").required(true).help("oci:DIR[:REF], docker-archive:FILE[:REF] or docker-daemon:NAME[:TAG]"))
                .arg(Arg::new("registry").long("registry").value_name("URL").required(true).help("https://host[:port], host[:port], or http:// for a loopback registry"))
                .arg(Arg::new("repository").long("repository").value_name("NAME").required(true))
                .arg(Arg::new("tag").long("tag").value_name("T").required(true).action(ArgAction::Append).help("A tag to push under (repeatable)"))
                .arg(Arg::new("username").long("username").value_name("U").requires("password-stdin").help("Log in as this user (the password comes from stdin)"))
                .arg(Arg::new("password-stdin").long("password-stdin").action(ArgAction::SetTrue).requires("username").help("Read the password from stdin"))
                .arg(Arg::new("upload-mode").long("upload-mode").default_value("monolithic").value_parser(["monolithic", "chunked"]).help("One streamed PUT per blob, or chunked PATCHes (falls back to monolithic)"))
                .arg(Arg::new("concurrency").long("concurrency").value_name("N").default_value("3").value_parser(clap::value_parser!(u16).range(1..=64)).help("Blob uploads in flight at once"))
                .arg(Arg::new("dry-run").long("dry-run").action(ArgAction::SetTrue).help("Print what the push would do (HEAD requests only) and change nothing")),
        )
        .subcommand(
            Command::new("trust-policy")
                .about("Print a least-privilege trust policy for a repository's branches and environments")
                .arg(Arg::new("account").long("account").value_name("ID").required(true).help("The 12-digit AWS account id"))
                .arg(Arg::new("repo").long("repo").value_name("OWNER/REPO").required_unless_present("reusable-workflow").help("The repository whose jobs to admit (optional with --reusable-workflow: then its callers from any repository)"))
                .arg(Arg::new("branch").long("branch").value_name("B").action(ArgAction::Append).help("A branch allowed to assume the role (repeatable; `*` allowed)"))
                .arg(Arg::new("environment").long("environment").value_name("E").action(ArgAction::Append).help("A GitHub environment allowed to assume the role (repeatable)"))
                .arg(Arg::new("id-form").long("id-form").value_name("OWNER_ID/REPO_ID").help("Emit the `repo:OWNER@ID/REPO@ID` subject form"))
                .arg(Arg::new("audience").long("audience").default_value("sts.amazonaws.com"))
                .arg(Arg::new("partition").long("partition").default_value("aws").value_parser(["aws", "aws-cn", "aws-us-gov"]))
                .arg(Arg::new("issuer").long("issuer").value_name("URL").default_value("https://token.actions.githubusercontent.com").help("The tokens' issuer: https://token.actions.githubusercontent.com[/ENTERPRISE], or GitHub Enterprise Server's https://HOST/_services/token"))
                .arg(Arg::new("reusable-workflow").long("reusable-workflow").value_name("OWNER/REPO/.github/workflows/FILE.yml@REF").help("Admit only jobs that run this reusable workflow at this ref (job_workflow_ref)")),
        )
        .subcommand(
            Command::new("permissions-policy")
                .about("Print the least-privilege IAM permissions policy the deploy role needs (ECR push, ECS deploy, reads, PassRole)")
                .arg(Arg::new("account").long("account").value_name("ID").required(true).help("The 12-digit AWS account id"))
                .arg(Arg::new("region").long("region").value_name("REGION").required(true))
                .arg(Arg::new("partition").long("partition").default_value("aws").value_parser(["aws", "aws-cn", "aws-us-gov"]))
                .arg(Arg::new("repository").long("repository").value_name("NAME").required(true).action(ArgAction::Append).help("An ECR repository the role pushes to (repeatable)"))
                .arg(Arg::new("create-repository").long("create-repository").action(ArgAction::SetTrue).help("Also allow creating those repositories (input create-repository)"))
                .arg(Arg::new("cluster").long("cluster").value_name("NAME").required(true))
                .arg(Arg::new("service").long("service").value_name("NAME").required(true).action(ArgAction::Append).help("An ECS service of the cluster the role deploys (repeatable)"))
                .arg(Arg::new("pass-role").long("pass-role").value_name("ARN").action(ArgAction::Append).help("A task or execution role the task definition names (repeatable); passed to ECS tasks only"))
                .arg(Arg::new("log-group").long("log-group").value_name("NAME").action(ArgAction::Append).help("A log group the services write to (repeatable; default: every group, reads only)")),
        )
}

/// Parse the arguments. `--help`, `--version` and usage errors exit from inside clap (code 2 for
/// a usage error, as for any bad input).
pub fn parse(args: impl IntoIterator<Item = std::ffi::OsString>) -> Invocation {
    let matches = command().get_matches_from(args);
    match matches.subcommand() {
        Some(("action", _)) => Invocation::Action,
        Some(("deploy", m)) => Invocation::Deploy(RawInputs::from_flags(&flags_of(m))),
        Some(("check-trust", m)) => Invocation::CheckTrust(CheckTrustArgs {
            policy: m.get_one::<PathBuf>("policy").cloned().expect("required"),
            claims: m.get_one::<PathBuf>("claims").cloned(),
            token: m.get_one::<PathBuf>("token").cloned(),
            audience: string(m, "audience").expect("has a default"),
            role_arn: string(m, "role-arn"),
        }),
        Some(("trust-policy", m)) => Invocation::TrustPolicy(TrustPolicyArgs {
            account: string(m, "account").expect("required"),
            repo: string(m, "repo"),
            branches: strings(m, "branch"),
            environments: strings(m, "environment"),
            id_form: string(m, "id-form"),
            audience: string(m, "audience").expect("has a default"),
            partition: string(m, "partition").expect("has a default"),
            issuer: string(m, "issuer").expect("has a default"),
            reusable_workflow: string(m, "reusable-workflow"),
        }),
        Some(("permissions-policy", m)) => Invocation::PermissionsPolicy(PermissionsSpec {
            account: string(m, "account").expect("required"),
            region: string(m, "region").expect("required"),
            partition: string(m, "partition").expect("has a default"),
            repositories: strings(m, "repository"),
            create_repository: m.get_flag("create-repository"),
            cluster: string(m, "cluster").expect("required"),
            services: strings(m, "service"),
            pass_roles: strings(m, "pass-role"),
            log_groups: strings(m, "log-group"),
        }),
        Some(("push", m)) => Invocation::Push(PushArgs {
            source: string(m, "source").expect("required"),
            registry: string(m, "registry").expect("required"),
            repository: string(m, "repository").expect("required"),
            tags: strings(m, "tag"),
            username: string(m, "username"),
            password_stdin: m.get_flag("password-stdin"),
            upload_mode: string(m, "upload-mode").expect("has a default"),
            concurrency: usize::from(*m.get_one::<u16>("concurrency").expect("has a default")),
            dry_run: m.get_flag("dry-run"),
        }),
        _ => unreachable!("clap requires a known subcommand"),
    }
}

fn flags_of(m: &ArgMatches) -> BTreeMap<String, String> {
    declared_inputs()
        .iter()
        .filter_map(|d| Some((d.name.clone(), m.get_one::<String>(&d.name)?.clone())))
        .collect()
}

fn string(m: &ArgMatches, id: &str) -> Option<String> {
    m.get_one::<String>(id).cloned()
}

fn strings(m: &ArgMatches, id: &str) -> Vec<String> {
    m.get_many::<String>(id)
        .map(|v| v.cloned().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn deploy_flags_carry_input_names() {
        let args = [
            "oidc-ecs-deploy",
            "deploy",
            "--aws-region",
            "eu-west-1",
            "--role-to-assume",
            "arn:aws:iam::111122223333:role/x",
        ];
        let Invocation::Deploy(raw) = parse(args.map(Into::into)) else {
            panic!("not deploy")
        };
        assert_eq!(raw.get("aws-region"), Some("eu-west-1"));
        assert_eq!(
            raw.get("role-to-assume"),
            Some("arn:aws:iam::111122223333:role/x")
        );
        // Absent flags take action.yml's defaults.
        assert_eq!(raw.get("audience"), Some("sts.amazonaws.com"));
        assert_eq!(raw.get("role-duration-seconds"), Some("3600"));
    }

    #[test]
    fn push_takes_repeated_tags_and_defaults() {
        let args = [
            "oidc-ecs-deploy",
            "push",
            "--source",
            "oci:build",
            "--registry",
            "localhost:5000",
            "--repository",
            "app",
            "--tag",
            "v1",
            "--tag",
            "latest",
        ];
        let Invocation::Push(p) = parse(args.map(Into::into)) else {
            panic!("not push")
        };
        assert_eq!(p.tags, ["v1", "latest"]);
        assert_eq!(
            (
                p.upload_mode.as_str(),
                p.concurrency,
                p.dry_run,
                p.password_stdin
            ),
            ("monolithic", 3, false, false)
        );
    }
}
