variable "region" {
  description = "AWS region of the cluster."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name of the service."
  type        = string
  default     = "mlinfra-example"
}

variable "container_image" {
  description = "Image URI with tag, as printed by `mlinfra build`/`mlinfra push`."
  type        = string
}

variable "repository_arn" {
  description = "ARN of the ECR repository holding the image (ecr module output)."
  type        = string
}

variable "log_group_name" {
  description = "CloudWatch Logs group for the container (cloudwatch module output)."
  type        = string
}

variable "cluster_arn" {
  description = "ARN of the ECS cluster (ecs_ec2_cluster module output)."
  type        = string
}

variable "capacity_provider_name" {
  description = "Capacity provider of the cluster (ecs_ec2_cluster module output)."
  type        = string
}

variable "target_group_arn" {
  description = "ALB target group (alb module output)."
  type        = string
}
