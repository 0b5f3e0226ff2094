output "repository_arn" {
  description = "ARN of the repository (for IAM policies that pull from it)."
  value       = aws_ecr_repository.this.arn
}

output "repository_name" {
  description = "Name of the repository."
  value       = aws_ecr_repository.this.name
}

output "repository_url" {
  description = "URL to tag and push images to: <account>.dkr.ecr.<region>.amazonaws.com/<name>."
  value       = aws_ecr_repository.this.repository_url
}

output "registry_id" {
  description = "ID of the registry (the AWS account) holding the repository."
  value       = aws_ecr_repository.this.registry_id
}

output "lifecycle_policy" {
  description = "The lifecycle policy document applied to the repository (JSON)."
  value       = aws_ecr_lifecycle_policy.this.policy
}
