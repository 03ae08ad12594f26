output "deploy_role_arn" {
  description = "The workflow's role-to-assume."
  value       = aws_iam_role.deploy.arn
}

output "repository" {
  description = "The workflow's repository input."
  value       = aws_ecr_repository.app.name
}

output "cluster" {
  value = aws_ecs_cluster.main.name
}

output "service" {
  value = aws_ecs_service.app.name
}

output "url" {
  description = "The service's address (point a DNS name with the certificate's name at it)."
  value       = "https://${aws_lb.app.dns_name}"
}
