output "log_group_name" {
  description = "Log group for the service's awslogs driver."
  value       = module.cloudwatch.log_group_name
}

output "alarm_arns" {
  description = "ARNs of the alarms by short name."
  value       = module.cloudwatch.alarm_arns
}
