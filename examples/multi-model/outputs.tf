output "alb_dns_name" {
  description = "DNS name of the shared load balancer."
  value       = module.alb.dns_name
}

output "model_urls" {
  description = "Each model's predict URL, by host and by path."
  value = {
    for name, model in local.models : name => {
      by_host = "https://${name}.${var.zone_name}${model.prefix}/predict"
      by_path = "https://api.${var.zone_name}${model.prefix}/predict"
    }
  }
}

output "target_group_arns" {
  description = "Target group of each model."
  value       = { for name in keys(local.models) : name => module.alb.target_groups[name].arn }
}

output "service_names" {
  description = "ECS service of each model."
  value       = { for name, service in module.service : name => service.service_name }
}

output "alarm_topic_arn" {
  description = "The SNS topic every model's alarms notify."
  value       = aws_sns_topic.alarms.arn
}
