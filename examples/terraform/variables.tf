variable "region" {
  description = "AWS region, e.g. eu-west-1."
  type        = string
}

variable "name" {
  description = "Name of the service, its cluster, repository and log group."
  type        = string
  default     = "web"
}

variable "github_repository" {
  description = "The repository that deploys, as OWNER/REPO (case as GitHub shows it)."
  type        = string
}

variable "vpc_id" {
  description = "The VPC the service runs in."
  type        = string
}

variable "public_subnet_ids" {
  description = "Subnets of the load balancer (two or more, in different zones)."
  type        = list(string)
}

variable "private_subnet_ids" {
  description = "Subnets of the tasks (no public IP; ECR and CloudWatch Logs reached through NAT or VPC endpoints)."
  type        = list(string)
}

variable "certificate_arn" {
  description = "ACM certificate for the HTTPS listener."
  type        = string
}

variable "access_logs_bucket" {
  description = "The S3 bucket that receives the load balancer's access logs (the account's log bucket)."
  type        = string
}

variable "create_oidc_provider" {
  description = "Create the GitHub OIDC provider (false when the account already has it: one per account)."
  type        = bool
  default     = true
}

variable "desired_count" {
  description = "Tasks to run; two or more keep serving during a rolling deploy."
  type        = number
  default     = 2
}
