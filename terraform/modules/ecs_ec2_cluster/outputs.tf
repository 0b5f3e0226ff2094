output "cluster_arn" {
  description = "ARN of the ECS cluster (the task_definition module's cluster_arn)."
  value       = aws_ecs_cluster.this.arn
}

output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "capacity_provider_name" {
  description = "Name of the EC2 capacity provider (the task_definition module's capacity_provider_name)."
  # Read from the association so that a service planned against it waits until the cluster accepts it.
  value = one(aws_ecs_cluster_capacity_providers.this.capacity_providers)
}

output "autoscaling_group_name" {
  description = "Name of the Auto Scaling group of container instances."
  value       = aws_autoscaling_group.this.name
}

output "autoscaling_group_arn" {
  description = "ARN of the Auto Scaling group of container instances."
  value       = aws_autoscaling_group.this.arn
}

output "instance_security_group_id" {
  description = "Security group of the container instances."
  value       = aws_security_group.instance.id
}

output "instance_role_arn" {
  description = "ARN of the IAM role of the container instances (attach extra policies to it if needed)."
  value       = aws_iam_role.instance.arn
}

output "instance_role_name" {
  description = "Name of the IAM role of the container instances."
  value       = aws_iam_role.instance.name
}

output "launch_template_id" {
  description = "ID of the launch template of the container instances."
  value       = aws_launch_template.this.id
}

output "ami_id" {
  description = "AMI the instances launch from (the SSM parameter's value unless ami_id was given)."
  value       = local.ami_id
}
