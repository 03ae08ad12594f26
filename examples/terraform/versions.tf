# The example's infrastructure: nginx on ECS Fargate behind an ALB, the ECR repository it is
# pushed to, and the GitHub OIDC provider with the deploy role oidc-ecs-deploy assumes.
# `terraform init && terraform apply` in an account; the network (VPC, subnets) and the TLS
# certificate are yours and come in as variables.
terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.81, < 7.0" # 5.81: the OIDC provider needs no thumbprint
    }
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = {
      app        = var.name
      managed-by = "terraform"
    }
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
