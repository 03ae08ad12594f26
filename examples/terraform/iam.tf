# GitHub's OIDC provider and the role the deploy workflow assumes with the job's token.
#
# The trust policy admits two subjects of one repository and nothing else: a job on `main`
# without an environment (sub = repo:O/R:ref:refs/heads/main) and a job in the `production`
# environment (sub = repo:O/R:environment:production; GitHub puts the environment in `sub`
# instead of the branch, so restrict the environment to `main` in its deployment-branch rules).
# `oidc-ecs-deploy trust-policy --account ID --repo O/R --branch main --environment production`
# prints the same document, and `oidc-ecs-deploy check-trust` explains any job it refuses.
locals {
  oidc_host = "token.actions.githubusercontent.com"
  oidc_provider_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : (
    "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:oidc-provider/${local.oidc_host}"
  )
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  cluster   = aws_ecs_cluster.main.name
}

resource "aws_iam_openid_connect_provider" "github" {
  count          = var.create_oidc_provider ? 1 : 0
  url            = "https://${local.oidc_host}"
  client_id_list = ["sts.amazonaws.com"]
}

data "aws_iam_policy_document" "deploy_trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:sub"
      values = [
        "repo:${var.github_repository}:ref:refs/heads/main",
        "repo:${var.github_repository}:environment:production",
      ]
    }
  }
}

resource "aws_iam_role" "deploy" {
  name                 = "${var.name}-deploy"
  description          = "Assumed by ${var.github_repository}'s deploy workflow through GitHub OIDC"
  assume_role_policy   = data.aws_iam_policy_document.deploy_trust.json
  max_session_duration = 3600
}

resource "aws_iam_role_policy" "deploy" {
  name   = "deploy"
  role   = aws_iam_role.deploy.id
  policy = data.aws_iam_policy_document.deploy.json
}

# What oidc-ecs-deploy calls, and nothing more. STS needs no statement: AssumeRoleWithWebIdentity
# is authorized by the trust policy above, GetCallerIdentity by nobody.
data "aws_iam_policy_document" "deploy" {
  # The registry login. GetAuthorizationToken has no resource-level permission: "*" is the only
  # resource it accepts (the token it returns still only opens repositories allowed below).
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  # Push over the registry API (blob checks, uploads, the manifest), the existing-tag check,
  # and the scan gate, on this one repository.
  statement {
    sid = "EcrPush"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:InitiateLayerUpload",
      "ecr:UploadLayerPart",
      "ecr:CompleteLayerUpload",
      "ecr:PutImage",
      "ecr:BatchGetImage",
      "ecr:DescribeImages",
      "ecr:DescribeRepositories",
      "ecr:DescribeImageScanFindings",
    ]
    resources = [aws_ecr_repository.app.arn]
  }
  # Task definitions: neither call supports resource-level permissions ("*" is required).
  statement {
    sid       = "EcsTaskDefinitions"
    actions   = ["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"]
    resources = ["*"]
  }
  # Tags on the new revision, only while registering it.
  statement {
    sid       = "EcsTagNewRevision"
    actions   = ["ecs:TagResource"]
    resources = ["arn:${local.partition}:ecs:${var.region}:${local.account}:task-definition/${var.name}:*"]
    condition {
      test     = "StringEquals"
      variable = "ecs:CreateAction"
      values   = ["RegisterTaskDefinition"]
    }
  }
  # The deploy itself and its watch, on this service and its cluster.
  statement {
    sid = "EcsDeployService"
    actions = [
      "ecs:DescribeServices",
      "ecs:UpdateService",
      "ecs:ListServiceDeployments",
    ]
    resources = [aws_ecs_service.app.id]
  }
  statement {
    sid = "EcsWatchDeployments"
    actions = [
      "ecs:DescribeServiceDeployments",
      "ecs:StopServiceDeployment",
    ]
    resources = ["arn:${local.partition}:ecs:${var.region}:${local.account}:service-deployment/${local.cluster}/${var.name}/*"]
  }
  statement {
    sid       = "EcsCluster"
    actions   = ["ecs:DescribeClusters", "ecs:ListContainerInstances"]
    resources = [aws_ecs_cluster.main.arn]
  }
  # Stopped tasks are the evidence of a failed rollout (their reasons and exit codes).
  statement {
    sid       = "EcsTasks"
    actions   = ["ecs:ListTasks", "ecs:DescribeTasks"]
    resources = ["*"] # ListTasks has no resource-level permission; the condition pins the cluster
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [aws_ecs_cluster.main.arn]
    }
  }
  # Target health: DescribeTargetHealth has no resource-level permission.
  statement {
    sid       = "Elbv2Read"
    actions   = ["elasticloadbalancing:DescribeTargetHealth"]
    resources = ["*"]
  }
  # The last log lines of a crashed container, from this service's log group only.
  statement {
    sid       = "LogsRead"
    actions   = ["logs:GetLogEvents"]
    resources = ["${aws_cloudwatch_log_group.app.arn}:log-stream:*"]
  }
  # A new revision names the same task and execution roles; passing them to ECS, and only to
  # ECS, is what registering it takes. No other role can be passed.
  statement {
    sid       = "PassTaskRoles"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.task.arn, aws_iam_role.execution.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
}
