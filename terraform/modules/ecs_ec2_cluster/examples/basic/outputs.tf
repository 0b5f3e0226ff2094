output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = module.cluster.cluster_arn
}

output "capacity_provider_name" {
  description = "Name of the capacity provider services should use."
  value       = module.cluster.capacity_provider_name
}

output "ami_id" {
  description = "AMI the instances launch from."
  value       = module.cluster.ami_id
}
