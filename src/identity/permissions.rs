//! `oidc-ecs-deploy permissions-policy`: the least-privilege IAM permissions policy the deploy
//! role needs for what this action does, and nothing else: push to the named ECR repositories
//! (the registry token is the one action that only takes `*`), register a task definition and
//! roll out the named services of one cluster (reads of their tasks, deployments and revisions;
//! tags only while registering), read target health and the services' logs, and pass only the
//! named task and execution roles, only to ECS tasks. Actions that IAM cannot scope to a resource
//! (`ecr:GetAuthorizationToken`, `ecs:RegisterTaskDefinition`, `ecs:DescribeTaskDefinition`,
//! `elasticloadbalancing:DescribeTargetHealth`) are alone in their statements on `*`, so nothing
//! else rides on that wildcard; `ecs:ListTasks` is held to the cluster by its `ecs:cluster` key.

use serde_json::{Value, json};

use super::trust::arn_fields;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionsSpec {
    pub partition: String,
    pub account: String,
    pub region: String,
    /// ECR repository names; at least one.
    pub repositories: Vec<String>,
    /// Whether the action may create a missing repository (input `create-repository`).
    pub create_repository: bool,
    pub cluster: String,
    /// ECS service names in `cluster`; at least one.
    pub services: Vec<String>,
    /// Role ARNs the task definition names (`taskRoleArn`, `executionRoleArn`).
    pub pass_roles: Vec<String>,
    /// CloudWatch Logs groups the services log to; none means every group of the account and
    /// region (reads only).
    pub log_groups: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PermissionsError {
    #[error("the account {0:?} is not a 12-digit AWS account ID")]
    BadAccount(String),
    #[error("the region {0:?} is not an AWS region name (like us-east-1)")]
    BadRegion(String),
    #[error("name at least one {0}")]
    Missing(&'static str),
    #[error("the {what} {value:?} is not a valid name ({rule})")]
    BadName {
        what: &'static str,
        value: String,
        rule: &'static str,
    },
    #[error("the role {0:?} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)")]
    BadRole(String),
}

/// A complete permissions-policy document for `spec`.
pub fn generate(spec: &PermissionsSpec) -> Result<Value, PermissionsError> {
    validate(spec)?;
    let (p, r, a) = (&spec.partition, &spec.region, &spec.account);
    let cluster = &spec.cluster;
    let arn = |service: &str, resource: String| format!("arn:{p}:{service}:{r}:{a}:{resource}");
    let repositories: Vec<String> = spec
        .repositories
        .iter()
        .map(|name| arn("ecr", format!("repository/{name}")))
        .collect();
    let per_service = |kind: &str, suffix: &str| -> Vec<String> {
        spec.services
            .iter()
            .map(|s| arn("ecs", format!("{kind}/{cluster}/{s}{suffix}")))
            .collect()
    };
    let log_streams: Vec<String> = if spec.log_groups.is_empty() {
        vec![arn("logs", "log-group:*:log-stream:*".into())]
    } else {
        spec.log_groups
            .iter()
            .map(|g| arn("logs", format!("log-group:{g}:log-stream:*")))
            .collect()
    };
    let mut ecr_actions = vec![
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:CompleteLayerUpload",
        "ecr:DescribeImageScanFindings",
        "ecr:DescribeImages",
        "ecr:DescribeRepositories",
        "ecr:GetDownloadUrlForLayer",
        "ecr:InitiateLayerUpload",
        "ecr:PutImage",
        "ecr:UploadLayerPart",
    ];
    if spec.create_repository {
        ecr_actions.insert(2, "ecr:CreateRepository");
    }
    let cluster_arn = arn("ecs", format!("cluster/{cluster}"));
    let mut statements = vec![
        allow("EcrLogin", &["ecr:GetAuthorizationToken"], json!("*")),
        allow("EcrPush", &ecr_actions, json!(repositories)),
        allow(
            "EcsTaskDefinitions",
            &["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"],
            json!("*"),
        ),
        json!({
            "Sid": "EcsTagOnlyWhileRegistering",
            "Effect": "Allow",
            "Action": "ecs:TagResource",
            "Resource": arn("ecs", "task-definition/*".into()),
            "Condition": { "StringEquals": { "ecs:CreateAction": "RegisterTaskDefinition" } },
        }),
        allow(
            "EcsServices",
            &[
                "ecs:DescribeServices",
                "ecs:ListServiceDeployments",
                "ecs:UpdateService",
            ],
            json!(per_service("service", "")),
        ),
        allow(
            "EcsDeploymentsAndRevisions",
            &[
                "ecs:DescribeServiceDeployments",
                "ecs:DescribeServiceRevisions",
            ],
            json!(
                [
                    per_service("service-deployment", "/*"),
                    per_service("service-revision", "/*")
                ]
                .concat()
            ),
        ),
        allow(
            "EcsCluster",
            &["ecs:DescribeClusters", "ecs:ListContainerInstances"],
            json!(cluster_arn),
        ),
        json!({
            "Sid": "EcsListTasksInTheCluster",
            "Effect": "Allow",
            "Action": "ecs:ListTasks",
            "Resource": "*",
            "Condition": { "ArnEquals": { "ecs:cluster": cluster_arn } },
        }),
        allow(
            "EcsTasks",
            &["ecs:DescribeTasks"],
            json!(arn("ecs", format!("task/{cluster}/*"))),
        ),
        allow(
            "TargetHealth",
            &["elasticloadbalancing:DescribeTargetHealth"],
            json!("*"),
        ),
        allow("TaskLogs", &["logs:GetLogEvents"], json!(log_streams)),
    ];
    if !spec.pass_roles.is_empty() {
        statements.push(json!({
            "Sid": "PassOnlyTheTaskRolesToEcsTasks",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": spec.pass_roles,
            "Condition": { "StringEquals": { "iam:PassedToService": "ecs-tasks.amazonaws.com" } },
        }));
    }
    Ok(json!({ "Version": "2012-10-17", "Statement": statements }))
}

fn allow(sid: &str, actions: &[&str], resource: Value) -> Value {
    let action = if actions.len() == 1 {
        json!(actions[0])
    } else {
        json!(actions)
    };
    json!({ "Sid": sid, "Effect": "Allow", "Action": action, "Resource": resource })
}

fn validate(spec: &PermissionsSpec) -> Result<(), PermissionsError> {
    if !(spec.account.len() == 12 && spec.account.bytes().all(|b| b.is_ascii_digit())) {
        return Err(PermissionsError::BadAccount(spec.account.clone()));
    }
    let region_ok = spec.region.split('-').count() >= 3
        && spec
            .region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !region_ok {
        return Err(PermissionsError::BadRegion(spec.region.clone()));
    }
    if spec.repositories.is_empty() {
        return Err(PermissionsError::Missing("ECR repository (--repository)"));
    }
    if spec.services.is_empty() {
        return Err(PermissionsError::Missing("ECS service (--service)"));
    }
    let name = |what, value: &String, extra: &[u8], rule| {
        let ok = !value.is_empty()
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b) || extra.contains(&b));
        if ok {
            Ok(())
        } else {
            Err(PermissionsError::BadName {
                what,
                value: value.clone(),
                rule,
            })
        }
    };
    for repo in &spec.repositories {
        name(
            "ECR repository",
            repo,
            b"./",
            "letters, digits, '-', '_', '.', '/'",
        )?;
    }
    name("cluster", &spec.cluster, b"", "letters, digits, '-', '_'")?;
    for service in &spec.services {
        name("service", service, b"", "letters, digits, '-', '_'")?;
    }
    for group in &spec.log_groups {
        name(
            "log group",
            group,
            b"./#",
            "letters, digits, '-', '_', '.', '/', '#'",
        )?;
    }
    for role in &spec.pass_roles {
        let is_role = arn_fields(role).is_some_and(|a| {
            a.service == "iam"
                && a.account.len() == 12
                && a.resource
                    .is_some_and(|r| r.starts_with("role/") && r.len() > 5)
        });
        if !is_role {
            return Err(PermissionsError::BadRole(role.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "permissions_tests.rs"]
mod tests;
