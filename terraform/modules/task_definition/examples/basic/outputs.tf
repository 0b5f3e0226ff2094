output "service_name" {
  description = "Name of the ECS service."
  value       = module.service.service_name
}

output "task_definition_arn" {
  description = "Task definition the service runs."
  value       = module.service.task_definition_arn
}
