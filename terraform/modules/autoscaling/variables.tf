################################################################################
# Common
################################################################################

variable "name" {
  description = "Stem of the scaling policy and scheduled action names."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,200}$", var.name))
    error_message = "name \"${var.name}\" is invalid: it must be 1-201 letters, digits, '.', '_' or '-', starting with a letter or digit; rename it."
  }
}

variable "tags" {
  description = "Tags added to the scalable target."
  type        = map(string)
  default     = {}
  nullable    = false
}

################################################################################
# Scalable Target
################################################################################

variable "cluster_name" {
  description = "Name of the ECS cluster that runs the service (the name, not the ARN)."
  type        = string
  nullable    = false

  validation {
    condition     = length(var.cluster_name) > 0 && !startswith(var.cluster_name, "arn:")
    error_message = "cluster_name \"${var.cluster_name}\" must be the cluster's name, not empty nor an ARN; pass aws_ecs_cluster.x.name."
  }
}

variable "service_name" {
  description = "Name of the ECS service whose desired count is scaled (the name, not the ARN)."
  type        = string
  nullable    = false

  validation {
    condition     = length(var.service_name) > 0 && !startswith(var.service_name, "arn:")
    error_message = "service_name \"${var.service_name}\" must be the service's name, not empty nor an ARN; pass aws_ecs_service.x.name."
  }
}

variable "min_capacity" {
  description = "Fewest tasks the policies may scale in to; two keep one task per AZ of a two-AZ service."
  type        = number
  default     = 2
  nullable    = false

  validation {
    condition     = var.min_capacity >= 0 && floor(var.min_capacity) == var.min_capacity
    error_message = "min_capacity ${var.min_capacity} must be a whole number of tasks >= 0; set 2 or more for a service that survives the loss of one task."
  }
}

variable "max_capacity" {
  description = "Most tasks the policies may scale out to; must be >= min_capacity."
  type        = number
  default     = 10
  nullable    = false

  validation {
    condition     = var.max_capacity >= 1 && floor(var.max_capacity) == var.max_capacity
    error_message = "max_capacity ${var.max_capacity} must be a whole number of tasks >= 1, at least min_capacity (the default is 10)."
  }
}

################################################################################
# Target Tracking Policies
################################################################################

variable "cpu_policy" {
  description = "Target tracking on the service's average CPU utilization (percent). Set create = false to drop it."
  type = object({
    create             = optional(bool, true)
    target_value       = optional(number, 70)
    scale_in_cooldown  = optional(number, 300)
    scale_out_cooldown = optional(number, 60)
    disable_scale_in   = optional(bool, false)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.cpu_policy.target_value > 0 && var.cpu_policy.target_value <= 100
    error_message = "cpu_policy.target_value ${var.cpu_policy.target_value} must be a percentage in (0, 100], for example 70 (the default)."
  }

  validation {
    condition     = var.cpu_policy.scale_in_cooldown >= 0 && var.cpu_policy.scale_out_cooldown >= 0
    error_message = "cpu_policy cooldowns (in ${var.cpu_policy.scale_in_cooldown}, out ${var.cpu_policy.scale_out_cooldown}) must be >= 0 seconds."
  }
}

variable "memory_policy" {
  description = "Target tracking on the service's average memory utilization (percent). Set create = false to drop it."
  type = object({
    create             = optional(bool, true)
    target_value       = optional(number, 80)
    scale_in_cooldown  = optional(number, 300)
    scale_out_cooldown = optional(number, 60)
    disable_scale_in   = optional(bool, false)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.memory_policy.target_value > 0 && var.memory_policy.target_value <= 100
    error_message = "memory_policy.target_value ${var.memory_policy.target_value} must be a percentage in (0, 100], for example 80."
  }

  validation {
    condition     = var.memory_policy.scale_in_cooldown >= 0 && var.memory_policy.scale_out_cooldown >= 0
    error_message = "memory_policy cooldowns (in ${var.memory_policy.scale_in_cooldown}, out ${var.memory_policy.scale_out_cooldown}) must be >= 0 seconds."
  }
}

variable "request_count_policy" {
  description = "Target tracking on ALB requests per target (per minute). Off by default; enabling it needs resource_label (\"app/<alb>/<id>/targetgroup/<tg>/<id>\"), or the alb module's arn_suffix and target_group_arn_suffix from which the module builds it."
  type = object({
    create                  = optional(bool, false)
    target_value            = optional(number, 1000)
    resource_label          = optional(string)
    alb_arn_suffix          = optional(string)
    target_group_arn_suffix = optional(string)
    scale_in_cooldown       = optional(number, 300)
    scale_out_cooldown      = optional(number, 60)
    disable_scale_in        = optional(bool, false)
  })
  default  = {}
  nullable = false

  validation {
    condition = !var.request_count_policy.create || (var.request_count_policy.resource_label != null ?
      can(regex("^app/[^/]+/[^/]+/targetgroup/[^/]+/[^/]+$", var.request_count_policy.resource_label)) &&
      var.request_count_policy.alb_arn_suffix == null && var.request_count_policy.target_group_arn_suffix == null
      :
      can(regex("^app/[^/]+/[^/]+$", var.request_count_policy.alb_arn_suffix)) &&
      can(regex("^targetgroup/[^/]+/[^/]+$", var.request_count_policy.target_group_arn_suffix))
    )
    error_message = "request_count_policy got resource_label ${jsonencode(var.request_count_policy.resource_label)}, alb_arn_suffix ${jsonencode(var.request_count_policy.alb_arn_suffix)} and target_group_arn_suffix ${jsonencode(var.request_count_policy.target_group_arn_suffix)}; with create = true it needs either resource_label \"app/NAME/ID/targetgroup/NAME/ID\" alone, or alb_arn_suffix (\"app/NAME/ID\") and target_group_arn_suffix (\"targetgroup/NAME/ID\"): the alb module's arn_suffix and target_group_arn_suffix outputs."
  }

  validation {
    condition     = var.request_count_policy.target_value > 0
    error_message = "request_count_policy.target_value ${var.request_count_policy.target_value} must be > 0 requests per target per minute."
  }

  validation {
    condition     = var.request_count_policy.scale_in_cooldown >= 0 && var.request_count_policy.scale_out_cooldown >= 0
    error_message = "request_count_policy cooldowns (in ${var.request_count_policy.scale_in_cooldown}, out ${var.request_count_policy.scale_out_cooldown}) must be >= 0 seconds."
  }
}

################################################################################
# Scheduled Actions
################################################################################

variable "scheduled_actions" {
  description = "Scheduled capacity changes keyed by a short name, for example a larger floor during business hours. Schedules use at(...), rate(...) or cron(...)."
  type = map(object({
    schedule     = string
    timezone     = optional(string, "UTC")
    min_capacity = optional(number)
    max_capacity = optional(number)
    start_time   = optional(string)
    end_time     = optional(string)
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for a in values(var.scheduled_actions) : can(regex("^(at|rate|cron)\\(.+\\)$", a.schedule))])
    error_message = "scheduled_actions ${jsonencode([for k, a in var.scheduled_actions : k if !can(regex("^(at|rate|cron)\\(.+\\)$", a.schedule))])}: each schedule must be \"at(yyyy-mm-ddThh:mm:ss)\", \"rate(value unit)\" or \"cron(fields)\", for example \"cron(0 8 ? * MON-FRI *)\"."
  }

  validation {
    condition     = alltrue([for a in values(var.scheduled_actions) : a.min_capacity != null || a.max_capacity != null])
    error_message = "scheduled_actions ${jsonencode([for k, a in var.scheduled_actions : k if a.min_capacity == null && a.max_capacity == null])}: each scheduled action must set min_capacity, max_capacity or both; an action that changes neither does nothing."
  }

  validation {
    condition = alltrue([
      for a in values(var.scheduled_actions) :
      a.min_capacity == null || a.max_capacity == null || try(a.min_capacity <= a.max_capacity, false)
    ])
    error_message = "scheduled_actions ${jsonencode([for k, a in var.scheduled_actions : k if a.min_capacity != null && a.max_capacity != null && try(a.min_capacity > a.max_capacity, false)])}: min_capacity must not exceed max_capacity; swap or fix the values."
  }

  validation {
    condition     = alltrue([for k in keys(var.scheduled_actions) : can(regex("^[a-zA-Z0-9_.-]+$", k))])
    error_message = "scheduled_actions keys ${jsonencode([for k in keys(var.scheduled_actions) : k if !can(regex("^[a-zA-Z0-9_.-]+$", k))])} are invalid: keys become action names: use letters, digits, '.', '_' or '-' only."
  }
}
