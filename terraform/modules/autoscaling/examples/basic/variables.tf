variable "name" {
  description = "Name of the example's cluster, service and scaling policies."
  type        = string
  default     = "mlinfra-autoscaling-example"
  nullable    = false
}

variable "alb_arn_suffix" {
  description = "ARN suffix (app/NAME/ID) of a load balancer in front of the service; with target_group_arn_suffix it turns on request-count tracking."
  type        = string
  default     = null
}

variable "target_group_arn_suffix" {
  description = "ARN suffix (targetgroup/NAME/ID) of the service's target group."
  type        = string
  default     = null
}
