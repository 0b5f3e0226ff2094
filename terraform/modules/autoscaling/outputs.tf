output "resource_id" {
  description = "Application Auto Scaling resource ID of the service (service/CLUSTER/SERVICE)."
  value       = aws_appautoscaling_target.this.resource_id
}

output "min_capacity" {
  description = "Fewest tasks the policies keep."
  value       = aws_appautoscaling_target.this.min_capacity
}

output "max_capacity" {
  description = "Most tasks the policies allow."
  value       = aws_appautoscaling_target.this.max_capacity
}

output "policy_arns" {
  description = "ARNs of the target tracking policies, keyed by cpu, memory and requests (only those enabled)."
  value       = { for key, policy in aws_appautoscaling_policy.target_tracking : key => policy.arn }
}

output "scheduled_action_arns" {
  description = "ARNs of the scheduled actions, keyed like var.scheduled_actions."
  value       = { for key, action in aws_appautoscaling_scheduled_action.this : key => action.arn }
}
