//! Bad input, end to end: malformed inputs for every stage (identity, image, rollout, report),
//! each run by the built binary as the runner runs it against real servers (moto, a
//! docker-registry synced into moto's ECR, the ECS simulator). Every row must exit 2 with an
//! error that names the input, says what was wrong and what would be right, before any change:
//! no ECS call but reads, no repository, image or task definition in moto, no blob or tag in
//! the registry, nothing for later steps. Inputs carrying control characters or workflow
//! commands must not reach the log raw. The rows are data; `World::check` holds the rules.

#[path = "common/bad_input.rs"]
mod bad_input;
#[path = "common/image_bed.rs"]
mod bed;
mod common;
#[path = "image_fixtures.rs"]
mod fixtures;

use bad_input::{Job, Row, World, check_all};

const ROLE: &str = "arn:aws:iam::123456789012:role/deploy";

/// A row with no environment of its own.
const fn row(
    name: &'static str,
    job: Job,
    with: &'static [(&'static str, &'static str)],
    input: &'static str,
    says: &'static [&'static str],
) -> Row {
    Row {
        name,
        job,
        with,
        env: &[],
        input,
        says,
    }
}

// One row a line or two: a table reads better than rustfmt's layout of it.
#[rustfmt::skip]
const IDENTITY: &[Row] = &[
    row("role is not an ARN", Job::Identity, &[("role-to-assume", "deploy-role")], "role-to-assume",
        &["`deploy-role` is not an ARN", "expected an IAM role ARN such as `arn:aws:iam::111122223333:role/deploy`"]),
    row("role account is 11 digits", Job::Identity, &[("role-to-assume", "arn:aws:iam::12345678901:role/deploy")], "role-to-assume",
        &["account `12345678901` is not a 12-digit AWS account id", "expected an IAM role ARN"]),
    row("role ARN of another service", Job::Identity, &[("role-to-assume", "arn:aws:sts::123456789012:role/deploy")], "role-to-assume",
        &["service `sts` is not `iam`"]),
    row("a user instead of a role", Job::Identity, &[("role-to-assume", "arn:aws:iam::123456789012:user/deploy")], "role-to-assume",
        &["resource `user/deploy` is not a role (expected `role/NAME`)"]),
    row("role and region of different partitions", Job::Identity, &[("role-to-assume", ROLE), ("aws-region", "cn-north-1")], "role-to-assume",
        &["the role is in partition `aws` but region `cn-north-1` is in `aws-cn`", "a role and a region of the same partition"]),
    row("region is not a region code", Job::Identity, &[("aws-region", "mars-north")], "aws-region",
        &["`mars-north` is not an AWS region code", "expected a code such as `us-east-1`"]),
    row("region is empty", Job::Identity, &[("aws-region", "")], "aws-region",
        &["is required"]),
    row("duration below the minimum", Job::Identity, &[("role-duration-seconds", "600")], "role-duration-seconds",
        &["`600` is out of range", "a whole number of seconds from 900 to 43200"]),
    row("duration with a unit", Job::Identity, &[("role-duration-seconds", "1h")], "role-duration-seconds",
        &["`1h` is out of range or not a number", "from 900 to 43200"]),
    row("duration past u64", Job::Identity, &[("role-duration-seconds", "99999999999999999999999")], "role-duration-seconds",
        &["`99999999999999999999999` is out of range", "from 900 to 43200"]),
    row("session name with a space", Job::Identity, &[("role-session-name", "deploy api")], "role-session-name",
        &["`deploy api` is not a valid session name", "2 to 64 characters of letters, digits and `+=,.@_-`"]),
    row("audience with whitespace", Job::Identity, &[("audience", "sts amazonaws com")], "audience",
        &["contains whitespace", "an audience such as `sts.amazonaws.com`"]),
    row("branch pattern never closed", Job::Identity, &[("role-to-assume", ROLE), ("allowed-branches", "main,release/[0-9")], "allowed-branches",
        &["\"release/[0-9\" has a '[' that is never closed with ']'", "write branch names or globs such as `main`"]),
    row("environment pattern negated", Job::Identity, &[("role-to-assume", ROLE), ("allowed-environments", "!production")], "allowed-environments",
        &["negation is not supported", "write environment names or globs such as `production`"]),
    row("branch guard without a role", Job::Identity, &[("allowed-branches", "main")], "allowed-branches",
        &["only used with `role-to-assume`", "`role-to-assume` set as well, or this input removed"]),
    row("trust policy that is not JSON", Job::Identity, &[("role-to-assume", ROLE), ("trust-policy", "{\"Version\": \"2012-10-17\", Statement")], "trust-policy",
        &["inline JSON", "a policy document, `aws iam get-role` output, or URL-encoded JSON"]),
    row("trust policy file that does not exist", Job::Identity, &[("role-to-assume", ROLE), ("trust-policy", "{fx}/no-such-policy.json")], "trust-policy",
        &["cannot read file", "no-such-policy.json", "a path to a policy JSON file, or the JSON itself"]),
    row("token file that does not exist", Job::Identity, &[("role-to-assume", ROLE), ("web-identity-token-file", "{fx}/no-such-token")], "web-identity-token-file",
        &["no-such-token` does not exist", "a path to a readable file"]),
    row("boolean spelled yes", Job::Identity, &[("output-env-credentials", "yes")], "output-env-credentials",
        &["`yes` is not a boolean", "`true` or `false`"]),
];

#[rustfmt::skip]
const IMAGE: &[Row] = &[
    row("image source path missing", Job::Push, &[("image-source", "oci:{fx}/no-such-layout")], "image-source",
        &["no-such-layout` does not exist", "the path of an OCI layout (directory or tar) or a `docker save` archive"]),
    row("image source of an unknown kind", Job::Push, &[("image-source", "s3://bucket/app.tar")], "image-source",
        &["unknown kind", "`oci:DIR[:REF]`, `docker-archive:FILE`, `docker-daemon:NAME[:TAG]` or `ecr:TAG`"]),
    row("image source directory that is not a layout", Job::Push, &[("image-source", "oci:{fx}/empty-dir")], "image-source",
        &["empty-dir", "index.json"]),
    row("docker archive that is a text file", Job::Push, &[("image-source", "docker-archive:{fx}/notes.txt")], "image-source",
        &["notes.txt", "tar"]),
    row("promotion of a tag that does not exist", Job::Push, &[("image-source", "ecr:v9-missing")], "image-source",
        &["`ecr:v9-missing` does not exist in repository", "push it first, or name an existing tag"]),
    Row {
        env: &[("DOCKER_HOST", "unix://{fx}/no-docker.sock")],
        ..row("docker daemon that is not there", Job::Push, &[("image-source", "docker-daemon:app:1")], "image-source",
            &["no-docker.sock", "docker save"])
    },
    row("repository that does not exist", Job::Push, &[("repository", "e2e/never-created")], "repository",
        &["`e2e/never-created` does not exist", "`create-repository: true`"]),
    row("repository name in capitals", Job::Push, &[("repository", "Payments/API")], "repository",
        &["`Payments/API` is not a valid ECR repository name", "2-256 lowercase letters, digits and `._-/`"]),
    row("tag starting with a dash", Job::Push, &[("image-tag", "-latest")], "image-tag",
        &["`-latest` is not a valid image tag", "up to 128 characters of letters, digits and `_.-`"]),
    row("tag of 129 characters", Job::Push, &[("image-tag", "v12345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678")], "image-tag",
        &["(129 characters)` is not a valid image tag", "up to 128 characters"]),
    row("extra tags separated by spaces", Job::Push, &[("image-tags", "v1 v2")], "image-tag",
        &["`v1 v2` is not a valid image tag"]),
    row("severity that is not one", Job::Push, &[("scan-severity-threshold", "SEVERE")], "scan-severity-threshold",
        &["`SEVERE` is not a severity", "one of INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL"]),
    row("scan wait of zero minutes", Job::Push, &[("scan-wait-minutes", "0")], "scan-wait-minutes",
        &["`0` is out of range", "from 1 to 60"]),
    row("registry endpoint with a space", Job::Push, &[("registry-endpoint", "my registry")], "registry-endpoint",
        &["`my registry` is not a host or URL", "a registry URL such as"]),
    row("repository without an image source", Job::Identity, &[("repository", "payments/api")], "repository",
        &["`image-source` is empty, so nothing would be pushed", "`image-source` set as well, or this input removed"]),
    row("create-repository spelled 1", Job::Push, &[("create-repository", "1")], "create-repository",
        &["`1` is not a boolean", "`true` or `false`"]),
];

#[rustfmt::skip]
const ROLLOUT: &[Row] = &[
    row("cluster that does not exist", Job::Rollout, &[("cluster", "staging")], "cluster",
        &["the cluster staging does not exist", "set `cluster` to an ACTIVE cluster", "nothing was registered or updated"]),
    row("service that does not exist", Job::Rollout, &[("service", "api,ghost")], "service",
        &["the service ghost does not exist in the cluster prod", "set `service` to ACTIVE services of `cluster`"]),
    row("unknown cluster before the push", Job::Deploy, &[("cluster", "staging")], "cluster",
        &["the cluster staging does not exist"]),
    row("unknown service before the push", Job::Deploy, &[("service", "ghost")], "service",
        &["the service ghost does not exist"]),
    row("container not in the serving definition, before the push", Job::Deploy, &[("container-name", "web")], "container-name",
        &["there is no container named \"web\" in the task definition (it has: app)"]),
    row("cluster ARN of another kind", Job::Rollout, &[("cluster", "arn:aws:ecs:us-east-1:123456789012:clusters/prod")], "cluster",
        &["resource `clusters/prod` is not a cluster", "`arn:aws:ecs:REGION:ACCOUNT:cluster/NAME`"]),
    row("cluster ARN in another region", Job::Rollout, &[("cluster", "arn:aws:ecs:eu-west-1:123456789012:cluster/prod")], "cluster",
        &["the ARN is in region `eu-west-1` but `aws-region` is `us-east-1`", "an ARN in `us-east-1`, or the name alone"]),
    row("cluster name with a space", Job::Rollout, &[("cluster", "prod cluster")], "cluster",
        &["`prod cluster` is not a valid cluster name", "1 to 255 letters, digits, `-` and `_`"]),
    row("cluster name of 300 characters", Job::Rollout, &[("cluster", "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc")], "cluster",
        &["the cluster name is 300 characters long, more than ECS allows"]),
    row("service named twice", Job::Rollout, &[("service", "api,\napi")], "service",
        &["names `api` twice", "each service once"]),
    row("service name with a dot", Job::Rollout, &[("service", "api.v2")], "service",
        &["`api.v2` is not a valid service name"]),
    row("service without a cluster", Job::Identity, &[("service", "api")], "service",
        &["`cluster` is empty, so nothing would be deployed"]),
    row("cluster without a service", Job::Rollout, &[("service", "")], "service",
        &["is required when `cluster` is set"]),
    row("containers line without an image", Job::Rollout, &[("containers", "app")], "containers",
        &["line `app` is not `name=image`", "one `container-name=image` per line"]),
    row("containers image with a space", Job::Rollout, &[("containers", "app=nginx latest")], "containers",
        &["`nginx latest` is not an image reference", "`name=registry/repository:tag`"]),
    row("containers naming no such container", Job::Rollout, &[("containers", "web=nginx:1.25")], "containers",
        &["there is no container named \"web\"", "(it has: app)"]),
    row("container-name with nothing pushed", Job::Rollout, &[("containers", ""), ("container-name", "app")], "container-name",
        &["`image-source` is empty, so this run pushes none", "`containers: name=registry/repo@sha256:...`"]),
    row("container-name and containers on one container", Job::Deploy, &[("containers", "app=nginx:1.25")], "container-name",
        &["`app` is also given an image by `containers`", "each container in one of the two inputs"]),
    row("task definition that is not JSON", Job::Rollout, &[("task-definition", "{fx}/broken.json")], "task-definition",
        &["broken.json is not valid JSON", "a task definition in JSON or YAML"]),
    row("task definition that is not YAML", Job::Rollout, &[("task-definition", "{fx}/broken.yaml")], "task-definition",
        &["broken.yaml is not valid YAML"]),
    row("task definition that is a list", Job::Rollout, &[("task-definition", "{fx}/list.json")], "task-definition",
        &["holds an array, not a task definition"]),
    row("task definition without a family", Job::Rollout, &[("task-definition", "{fx}/no-family.json")], "task-definition",
        &["has no `family` or no `containerDefinitions`"]),
    row("task definition file that does not exist", Job::Rollout, &[("task-definition", "{fx}/no-such.json")], "task-definition",
        &["no-such.json` does not exist"]),
    row("task definition of no service's family", Job::Rollout, &[("task-definition", "{fx}/billing.json")], "task-definition",
        &["is of the family \"billing\", which none of the services runs (api runs api)"]),
    row("task definition naming no such container", Job::Deploy, &[("task-definition", "{fx}/web-only.json")], "container-name",
        &["there is no container named \"app\" in the task definition (it has: web)"]),
    row("wait of zero minutes", Job::Rollout, &[("wait-for-minutes", "0")], "wait-for-minutes",
        &["`0` is out of range", "a whole number of minutes from 1 to 360"]),
    row("wait with a unit", Job::Rollout, &[("wait-for-minutes", "30m")], "wait-for-minutes",
        &["`30m` is out of range or not a number"]),
    row("wait of a week", Job::Rollout, &[("wait-for-minutes", "10080")], "wait-for-minutes",
        &["`10080` is out of range", "from 1 to 360"]),
    row("health check that is not http", Job::Rollout, &[("health-check-url", "ftp://api.internal/health")], "health-check-url",
        &["`ftp://api.internal/health` is not an http(s) URL", "a URL such as `https://api.example.com/healthz`"]),
    row("health check successes past u32", Job::Rollout, &[("health-check-successes", "4294967296")], "health-check-successes",
        &["`4294967296` is out of range", "from 1 to 100"]),
    row("force-new-deployment spelled maybe", Job::Rollout, &[("force-new-deployment", "maybe")], "force-new-deployment",
        &["`maybe` is not a boolean"]),
    row("environment url without a token", Job::Rollout, &[("environment-url", "https://shop.example.com")], "environment-url",
        &["`github-token` is empty, so no GitHub Deployment is reported"]),
    row("environment url without a scheme", Job::Rollout, &[("github-token", "ghs_0123456789abcdefghijklmnopqrstuvwxyz"), ("environment-url", "shop.example.com")], "environment-url",
        &["`shop.example.com` is not an http(s) URL", "a URL such as `https://shop.example.com`"]),
];

/// Inputs that try to act on the runner or hide from a reader; `INJECTED` marks what must never
/// appear on a command line.
#[rustfmt::skip]
const INJECTION: &[Row] = &[
    row("cluster with a line break and a command", Job::Rollout, &[("cluster", "prod\n::set-output name=task-definition-arn::INJECTED")], "cluster",
        &["contains a line break (U+000A) at character 5", "one line of printable text"]),
    row("cluster that is a command", Job::Rollout, &[("cluster", "::add-mask::INJECTED")], "cluster",
        &["is not a valid cluster name"]),
    row("region with a terminal escape", Job::Identity, &[("aws-region", "\u{1b}[2Jus-east-1")], "aws-region",
        &["contains an escape (terminal control sequence) (U+001B) at character 1"]),
    row("tag with a carriage return and a command", Job::Push, &[("image-tag", "v1\r::warning::INJECTED")], "image-tag",
        &["contains a line break (U+000D) at character 3"]),
    row("role with a bidi override", Job::Identity, &[("role-to-assume", "arn:aws:iam::123456789012:role/\u{202e}yolped")], "role-to-assume",
        &["contains an invisible formatting character (U+202E)"]),
    row("service list item that is a command", Job::Rollout, &[("service", "api\n::stop-commands::INJECTED")], "service",
        &["`::stop-commands::INJECTED` is not a valid service name"]),
    row("containers line with a bell", Job::Rollout, &[("containers", "app=nginx:1.25\u{7}")], "containers",
        &["contains a control character (U+0007)"]),
    row("branch pattern with a legacy command", Job::Identity, &[("role-to-assume", ROLE), ("allowed-branches", "main\n##[set-output name=x;]INJECTED")], "allowed-branches",
        &["allowed-branches"]),
    row("value of 100 KiB", Job::Rollout, &[("containers", "{100KiB}")], "containers",
        &["is 102400 bytes long", "at most 65536 bytes"]),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_inputs_are_refused_before_any_change() {
    check_all(&World::start().await, IDENTITY).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_inputs_are_refused_before_any_change() {
    check_all(&World::start().await, IMAGE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_and_report_inputs_are_refused_before_any_change() {
    check_all(&World::start().await, ROLLOUT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_and_commands_never_reach_the_log_raw() {
    check_all(&World::start().await, INJECTION).await;
}

#[test]
fn the_table_covers_at_least_thirty_inputs_across_every_stage() {
    let all: Vec<&Row> = [IDENTITY, IMAGE, ROLLOUT, INJECTION]
        .iter()
        .flat_map(|rows| rows.iter())
        .collect();
    assert!(all.len() >= 30, "{} rows", all.len());
    for job in [Job::Identity, Job::Push, Job::Rollout, Job::Deploy] {
        assert!(
            all.iter().any(|r| r.job == job),
            "no row starts from {job:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_check_sees_a_deploy_that_changed_things() {
    // A valid deploy run through the same check: it must be told apart from a refused input,
    // or the rows above would prove nothing.
    let world = World::start().await;
    let valid = Row {
        name: "a valid deploy",
        job: Job::Deploy,
        with: &[],
        env: &[],
        input: "cluster",
        says: &[],
    };
    let why = world
        .check(&valid)
        .await
        .expect("a valid deploy fails the check");
    for words in [
        "exit 0 instead of 2",
        "state changed",
        "RegisterTaskDefinition",
        "was uploaded",
        "output image-digest was set",
    ] {
        assert!(why.contains(words), "the check missed {words:?}:\n{why}");
    }
}
