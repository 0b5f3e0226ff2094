output "repository_url" {
  description = "Where `mlinfra push` sends images."
  value       = module.ecr.repository_url
}

output "api_key_secret_arn" {
  description = "ARN of the API key secret (`mlinfra secret set` writes its value), or null when the environment needs no key."
  value       = one(aws_secretsmanager_secret.api_key[*].arn)
}
