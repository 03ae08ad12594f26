//! What ECS's own words mean: the service-event and stopped-task texts that say tasks cannot
//! be placed or started, each mapped to its cause in plain words and the fix. One table, read
//! top to bottom, first match wins; matching is a case-insensitive substring test, because
//! ECS wraps the same cause in different sentences (`service X was unable to place a task
//! because ...`, `service X failed to launch a task with (error ...)`, a task's stoppedReason).
//!
//! Texts come from the ECS developer guide (service event messages, service throttle logic,
//! stopped-task error codes, service-linked role) and from what users report from real
//! services (GitHub issues quoting the console). A cause gets a grace period when the same
//! event is known to clear by itself (IAM propagation, Fargate capacity, a cluster scaling
//! out); `assess` only fails on it once the grace has passed and the deployment is still short.

use std::time::Duration;

use super::assess::FailureKind;

/// One recognised cause.
#[derive(Debug)]
pub struct KnownCause {
    pub kind: FailureKind,
    /// Lower-case fragments; any one present in the text is a match.
    pub needles: &'static [&'static str],
    /// The cause, in words a platform engineer acts on.
    pub cause: &'static str,
    /// The fix.
    pub hint: &'static str,
    /// How long the event must stand, with the deployment still short of its tasks, before
    /// it fails the rollout.
    pub grace: Duration,
}

const NOW: Duration = Duration::ZERO;

pub static KNOWN_CAUSES: &[KnownCause] = &[
    // "Unable to assume the service linked role. Please verify that the ECS service linked role
    // exists." ECS creates AWSServiceRoleForECS on first use, but not when the caller lacks
    // iam:CreateServiceLinkedRole, and awsvpc/load-balanced services cannot start without it.
    KnownCause {
        kind: FailureKind::ServiceLinkedRoleMissing,
        needles: &[
            "unable to assume the service linked role",
            "awsserviceroleforecs",
        ],
        cause: "ECS cannot assume its service-linked role AWSServiceRoleForECS (it does not exist \
                in this account yet)",
        hint: "create it once per account: aws iam create-service-linked-role \
               --aws-service-name ecs.amazonaws.com",
        grace: NOW,
    },
    // "service X failed to launch a task with (error ECS was unable to assume the role '...'
    // that was provided for this task. ...)". A role created moments ago can give this once and
    // then work (IAM is eventually consistent), hence the grace.
    KnownCause {
        kind: FailureKind::TaskRoleNotAssumable,
        needles: &["ecs was unable to assume the role"],
        cause: "ECS cannot assume the task role or task execution role named in the task \
                definition",
        hint: "check the role exists, its trust policy allows ecs-tasks.amazonaws.com, and the \
               deploying role has iam:PassRole on it",
        grace: Duration::from_secs(60),
    },
    // Fargate: "ResourceInitializationError: unable to pull secrets or registry auth: execution
    // resource retrieval failed: unable to retrieve secret from asm / ecr registry auth: ...".
    // Before the generic pull error: the task never got as far as pulling.
    KnownCause {
        kind: FailureKind::SecretsOrRegistryAuth,
        needles: &[
            "unable to pull secrets or registry auth",
            "unable to retrieve secret",
            "unable to retrieve ecr registry auth",
            "fetching secret data from",
        ],
        cause: "the task execution role cannot read the task's secrets or get ECR registry auth, \
                or the subnets have no route to Secrets Manager, SSM or ECR",
        hint: "give the execution role secretsmanager:GetSecretValue / ssm:GetParameters (and \
               kms:Decrypt for a customer key) on the secrets and ecr:GetAuthorizationToken; \
               private subnets need a NAT gateway or VPC endpoints",
        grace: NOW,
    },
    // "CannotPullContainerError: pull image manifest has been retried ... not found" / "pull
    // access denied" / "no basic auth credentials". The image is pinned by digest, so a retry
    // will not find a different image.
    KnownCause {
        kind: FailureKind::ImagePull,
        needles: &["cannotpullcontainererror", "pull access denied"],
        cause: "the image cannot be pulled: the execution role lacks ECR pull permissions, the \
                image is not at that reference, or the subnets have no route to ECR",
        hint: "give the execution role ecr:BatchGetImage and ecr:GetDownloadUrlForLayer on the \
               repository (AmazonECSTaskExecutionRolePolicy), check the image exists, and give \
               private subnets a NAT gateway or ecr.api/ecr.dkr/S3 endpoints",
        grace: NOW,
    },
    // "... no container instances met all of its requirements. The closest matching
    // container-instance ... encountered error "RESOURCE:ENI"": every awsvpc task takes an ENI,
    // and instance types allow few. Before the generic placement failure below.
    KnownCause {
        kind: FailureKind::NoFreeNetworkInterfaces,
        needles: &["resource:eni"],
        cause: "the container instances have no free network interfaces (each awsvpc task needs \
                its own ENI)",
        hint: "enable awsvpcTrunking, use instance types with more ENIs, or add instances",
        grace: Duration::from_secs(120),
    },
    // EC2 "There are not enough free addresses in subnet ..." / "InsufficientFreeAddressesInSubnet";
    // ECS surfaces it when the task's ENI cannot get an IP. Old tasks stopping can free some.
    KnownCause {
        kind: FailureKind::NoFreeIpAddresses,
        needles: &[
            "does not have enough free addresses",
            "not enough free addresses",
            "insufficientfreeaddressesinsubnet",
        ],
        cause: "the service's subnets have no free IP addresses for new tasks",
        hint: "add subnets with free addresses to the service's network configuration, or \
               lower maximumPercent so fewer tasks run side by side during a deploy",
        grace: Duration::from_secs(120),
    },
    // "... no container instances met all of its requirements. Reason: No Container Instances
    // were found in your cluster." Before the generic placement failure, which it contains.
    KnownCause {
        kind: FailureKind::NoContainerInstances,
        needles: &["no container instances were found in your cluster"],
        cause: "the cluster has no container instances, so this EC2-launch-type service has \
                nowhere to run its tasks",
        hint: "start instances in the cluster (or give it a capacity provider), or run the \
               service on Fargate",
        grace: NOW,
    },
    // "... was unable to place a task because no container instances met all of its
    // requirements. The closest matching container-instance ... has insufficient memory
    // available" (or CPU units, or "is already using a port required by your task").
    // A cluster that scales on reservation clears this in minutes.
    KnownCause {
        kind: FailureKind::InsufficientCapacity,
        // ECS has printed both "instance met" and "instances met" over the years.
        needles: &[
            "no container instances met all of its requirements",
            "no container instance met all of its requirements",
        ],
        cause: "no container instance has enough free CPU, memory or ports for a new task",
        hint: "add capacity, lower the task's cpu/memory, or use dynamic host ports; a rolling \
               deploy with maximumPercent 200 needs room for new tasks beside the old",
        grace: Duration::from_secs(180),
    },
    // Fargate: "... was unable to place a task. Reason: Capacity is unavailable at this time.
    // Please try again later or in a different availability zone." Usually transient.
    KnownCause {
        kind: FailureKind::InsufficientCapacity,
        needles: &["capacity is unavailable at this time"],
        cause: "Fargate has no capacity for this task size in the service's availability zones",
        hint: "give the service subnets in more availability zones, or retry later",
        grace: Duration::from_secs(300),
    },
    // "... Reason: You've reached the limit on the number of tasks you can run concurrently" /
    // "... the number of vCPUs you can run concurrently". A quota: waiting will not help.
    KnownCause {
        kind: FailureKind::QuotaReached,
        needles: &["reached the limit on the number of"],
        cause: "the account reached its ECS/Fargate quota for concurrent tasks or vCPUs",
        hint: "request a quota increase (Service Quotas, Amazon ECS / AWS Fargate), or stop \
               tasks elsewhere",
        grace: NOW,
    },
    // "(service X) is unable to consistently start tasks successfully." ECS's throttle logic:
    // tasks of this revision keep stopping before RUNNING. The stopped tasks say why.
    KnownCause {
        kind: FailureKind::TasksCannotStart,
        needles: &["is unable to consistently start tasks successfully"],
        cause: "ECS cannot start tasks of this revision and has begun throttling its retries",
        hint: "the stopped tasks' reasons below say why they stopped",
        grace: NOW,
    },
];

/// The first known cause whose text appears in `text` (an event message or a stopped reason).
pub fn classify(text: &str) -> Option<&'static KnownCause> {
    let lower = text.to_ascii_lowercase();
    KNOWN_CAUSES
        .iter()
        .find(|c| c.needles.iter().any(|n| lower.contains(n)))
}
