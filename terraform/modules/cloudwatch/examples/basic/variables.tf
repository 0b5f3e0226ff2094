variable "name" {
  description = "Name of the example's ECS cluster and stem of its alarms' names."
  type        = string
  default     = "mlinfra-cloudwatch-example"
  nullable    = false
}

variable "service_name" {
  description = "Name of the ECS service to watch, in that cluster."
  type        = string
  default     = "predictor"
  nullable    = false
}

variable "load_balancer" {
  description = "ARN suffixes of the service's ALB and target group; null skips the load balancer alarms."
  type = object({
    arn_suffix              = string
    target_group_arn_suffix = string
  })
  default = null
}

variable "alarm_email" {
  description = "Address that receives alarm notifications (it must confirm the subscription); null creates no topic."
  type        = string
  default     = null
}
