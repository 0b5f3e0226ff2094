output "url" {
  description = "Base URL of the load balancer."
  value       = module.alb.url
}

output "target_group_arn" {
  description = "ARN of the target group to register the service in."
  value       = module.alb.target_group_arn
}
