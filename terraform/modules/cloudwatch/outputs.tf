output "log_group_name" {
  description = "Name of the service's log group, for the awslogs driver."
  value       = aws_cloudwatch_log_group.this.name
}

output "log_group_arn" {
  description = "ARN of the service's log group, for the execution role's write permission."
  value       = aws_cloudwatch_log_group.this.arn
}

output "alarm_arns" {
  description = "ARNs of the alarms, keyed by short name (cpu-high, memory-high, tasks-below-desired, drift and, with a load balancer, alb-5xx, target-5xx, unhealthy-hosts, p99-latency)."
  value = merge(
    { for key, alarm in aws_cloudwatch_metric_alarm.metric : key => alarm.arn },
    { for alarm in aws_cloudwatch_metric_alarm.tasks_below_desired : "tasks-below-desired" => alarm.arn },
    { for alarm in aws_cloudwatch_metric_alarm.drift : "drift" => alarm.arn },
  )
}

output "sns_topic_arn" {
  description = "ARN of the module's alarm topic, or null when sns_topic.create is false."
  value       = one(aws_sns_topic.alarms[*].arn)
}

output "alarm_action_arns" {
  description = "Every topic ARN the alarms notify."
  value       = local.alarm_actions
}

output "kms_key_arn" {
  description = "ARN of the KMS key the module created for its topic, or null."
  value       = one(aws_kms_key.sns[*].arn)
}

output "dashboard_name" {
  description = "Name of the dashboard, or null when create_dashboard is false."
  value       = one(aws_cloudwatch_dashboard.this[*].dashboard_name)
}
