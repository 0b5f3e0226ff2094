# Shared by every environments/<env>/registry root (linked as outputs.tf): the outputs the CLI
# relies on (docs/team-contract.md).

output "repository_url" {
  description = "Where `mlinfra push` sends images."
  value       = module.registry.repository_url
}

output "api_key_secret_arn" {
  description = "The API key secret `mlinfra secret set` writes, or null when the environment needs no key."
  value       = module.registry.api_key_secret_arn
}
