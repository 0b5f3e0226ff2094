# Shared by every environments/<env>/service root (linked as outputs.tf): the outputs the CLI
# relies on (docs/team-contract.md).

output "alb_dns_name" {
  description = "DNS name of the load balancer."
  value       = module.service.alb_dns_name
}

output "service_url" {
  description = "URL of the service."
  value       = module.service.service_url
}

output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = module.service.cluster_name
}

output "service_name" {
  description = "Name of the ECS service."
  value       = module.service.service_name
}

output "target_group_arn" {
  description = "ARN of the target group."
  value       = module.service.target_group_arn
}

output "log_group_name" {
  description = "Log group of the containers."
  value       = module.service.log_group_name
}

output "canary_service_name" {
  description = "Name of the canary's ECS service, or null when no canary runs."
  value       = module.service.canary_service_name
}

output "canary_weight" {
  description = "Percent of the requests the listener forwards to the canary (0 without one)."
  value       = module.service.canary_weight
}

output "models" {
  description = "The environment's other models by name: service_name, url (its routes answer under it) and target_group_arn."
  value       = module.service.models
}
