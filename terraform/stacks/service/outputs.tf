output "alb_dns_name" {
  description = "DNS name of the load balancer."
  value       = module.alb.dns_name
}

output "service_url" {
  description = "URL of the service behind the load balancer."
  value       = module.alb.url
}

output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = module.cluster.cluster_name
}

output "service_name" {
  description = "Name of the ECS service."
  value       = module.task_definition.service_name
}

output "target_group_arn" {
  description = "ARN of the service's target group."
  value       = module.alb.target_group_arn
}

output "log_group_name" {
  description = "Log group of the service's containers."
  value       = module.cloudwatch.log_group_name
}

output "vpc_id" {
  description = "ID of the environment's VPC."
  value       = aws_vpc.this.id
}

output "canary_service_name" {
  description = "Name of the canary's ECS service, or null when no canary runs."
  value       = one(module.canary[*].service_name)
}

output "canary_weight" {
  description = "Percent of the requests the listener forwards to the canary (0 without one)."
  value       = local.canary ? var.canary.weight : 0
}

output "models" {
  description = "The environment's other models by name: the ECS service that runs each, its URL prefix (its routes answer under it: <url>/predict) and its target group."
  value = {
    for name, model in local.models : name => {
      service_name     = module.model[name].service_name
      url              = "${module.alb.url}${model.route_prefix}"
      target_group_arn = module.alb.target_groups["model-${name}"].arn
    }
  }
}
