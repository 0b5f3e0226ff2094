output "repository_url" {
  description = "URL to tag and push images to."
  value       = module.ecr.repository_url
}

output "repository_arn" {
  description = "ARN of the repository."
  value       = module.ecr.repository_arn
}
