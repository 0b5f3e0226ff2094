variable "cluster_name" {
  description = "Name of an existing ECS cluster."
  type        = string
  nullable    = false
}

variable "service_name" {
  description = "Name of an existing ECS service in that cluster."
  type        = string
  nullable    = false
}

variable "alb_arn_suffix" {
  description = "ARN suffix (app/NAME/ID) of the service's load balancer; with target_group_arn_suffix it turns on request-count tracking."
  type        = string
  default     = null
}

variable "target_group_arn_suffix" {
  description = "ARN suffix (targetgroup/NAME/ID) of the service's target group."
  type        = string
  default     = null
}
