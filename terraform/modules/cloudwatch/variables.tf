################################################################################
# Common
################################################################################

variable "name" {
  description = "Stem of every name the module gives: log group (/ecs/NAME by default), alarms, SNS topic and dashboard."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z0-9][a-zA-Z0-9_-]{0,200}$", var.name))
    error_message = "name \"${var.name}\" is invalid: it must be 1-201 letters, digits, '_' or '-', starting with a letter or digit (it also names the SNS topic and dashboard); rename it."
  }
}

variable "tags" {
  description = "Tags added to every resource the module creates (the dashboard takes none)."
  type        = map(string)
  default     = {}
  nullable    = false
}

################################################################################
# Log Group
################################################################################

variable "log_group" {
  description = "The service's log group. name defaults to /ecs/<name>; kms_key_arn must be a key whose policy admits logs.<region>.amazonaws.com."
  type = object({
    name              = optional(string)
    retention_in_days = optional(number, 90)
    kms_key_arn       = optional(string)
  })
  default  = {}
  nullable = false

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_group.retention_in_days)
    error_message = "log_group.retention_in_days ${var.log_group.retention_in_days} must be one CloudWatch accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653, or 0 to keep logs forever."
  }

  validation {
    condition     = var.log_group.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.log_group.kms_key_arn))
    error_message = "log_group.kms_key_arn \"${coalesce(var.log_group.kms_key_arn, "null")}\" must be a KMS key ARN (\"arn:aws:kms:REGION:ACCOUNT:key/ID\"), not an alias or key ID; leave it null for CloudWatch's default encryption."
  }

  validation {
    condition     = var.log_group.name == null || can(regex("^[a-zA-Z0-9_./#-]{1,512}$", var.log_group.name))
    error_message = "log_group.name \"${coalesce(var.log_group.name, "null")}\" is invalid: it may hold only letters, digits and _ . / # - (1-512 characters), for example \"/ecs/mlinfra-prod\"."
  }
}

################################################################################
# Metric Alarms
################################################################################

variable "cluster_name" {
  description = "Name of the ECS cluster running the service (ClusterName dimension)."
  type        = string
  nullable    = false

  validation {
    condition     = length(var.cluster_name) > 0 && !startswith(var.cluster_name, "arn:")
    error_message = "cluster_name \"${var.cluster_name}\" must be the cluster's name, not empty nor an ARN; pass aws_ecs_cluster.x.name."
  }
}

variable "service_name" {
  description = "Name of the ECS service (ServiceName dimension)."
  type        = string
  nullable    = false

  validation {
    condition     = length(var.service_name) > 0 && !startswith(var.service_name, "arn:")
    error_message = "service_name \"${var.service_name}\" must be the service's name, not empty nor an ARN; pass aws_ecs_service.x.name."
  }
}

variable "load_balancer" {
  description = "ARN suffixes of the service's ALB and target group (the alb module's arn_suffix and target_group_arn_suffix); null drops the load balancer alarms and widgets."
  type = object({
    arn_suffix              = string
    target_group_arn_suffix = string
  })
  default = null

  validation {
    condition = var.load_balancer == null || try(
      can(regex("^app/[^/]+/[^/]+$", var.load_balancer.arn_suffix)) &&
      can(regex("^targetgroup/[^/]+/[^/]+$", var.load_balancer.target_group_arn_suffix)),
      false
    )
    error_message = "load_balancer ${jsonencode(var.load_balancer)} is invalid: it needs arn_suffix \"app/NAME/ID\" and target_group_arn_suffix \"targetgroup/NAME/ID\" (ARN suffixes, not full ARNs); pass the alb module's outputs."
  }
}

variable "create_alarms" {
  description = "Whether to create the metric alarms; false keeps only the log group, topic and dashboard."
  type        = bool
  default     = true
  nullable    = false
}

variable "alarm_thresholds" {
  description = "Alarm thresholds: 5xx counts per period, unhealthy hosts, p99 target response time in seconds, CPU and memory in percent."
  type = object({
    alb_5xx_count              = optional(number, 10)
    target_5xx_count           = optional(number, 10)
    unhealthy_hosts            = optional(number, 1)
    p99_response_time_seconds  = optional(number, 1)
    cpu_utilization_percent    = optional(number, 85)
    memory_utilization_percent = optional(number, 85)
    tasks_below_desired        = optional(number, 1)
  })
  default  = {}
  nullable = false

  validation {
    condition = alltrue([
      var.alarm_thresholds.alb_5xx_count > 0,
      var.alarm_thresholds.target_5xx_count > 0,
      var.alarm_thresholds.unhealthy_hosts >= 1,
      var.alarm_thresholds.p99_response_time_seconds > 0,
      var.alarm_thresholds.tasks_below_desired >= 1,
    ])
    error_message = "alarm_thresholds ${jsonencode(var.alarm_thresholds)}: the 5xx counts and p99 response time (in seconds, not ms) must be > 0, unhealthy_hosts and tasks_below_desired (tasks missing) >= 1."
  }

  validation {
    condition = alltrue([
      for p in [var.alarm_thresholds.cpu_utilization_percent, var.alarm_thresholds.memory_utilization_percent] : p > 0 && p <= 100
    ])
    error_message = "alarm_thresholds CPU ${var.alarm_thresholds.cpu_utilization_percent} and memory ${var.alarm_thresholds.memory_utilization_percent} must be percentages in (0, 100], for example 85."
  }
}

variable "alarms" {
  description = "Per-alarm settings, keyed by alarm (cpu-high, memory-high, alb-5xx, target-5xx, unhealthy-hosts, p99-latency, tasks-below-desired): enable = false drops it (e.g. alb-5xx on all but one service sharing an ALB, which then alarms once), threshold, evaluation_periods and datapoints_to_alarm replace alarm_thresholds' and alarm_evaluation's for that alarm only."
  type = map(object({
    enable              = optional(bool, true)
    threshold           = optional(number)
    evaluation_periods  = optional(number)
    datapoints_to_alarm = optional(number)
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for k in keys(var.alarms) : contains(["cpu-high", "memory-high", "alb-5xx", "target-5xx", "unhealthy-hosts", "p99-latency", "tasks-below-desired"], k)])
    error_message = "alarms has keys ${jsonencode(keys(var.alarms))}; each must name an alarm of the module: cpu-high, memory-high, alb-5xx, target-5xx, unhealthy-hosts, p99-latency or tasks-below-desired."
  }

  validation {
    condition = alltrue([for a in values(var.alarms) : (
      (a.threshold == null || try(a.threshold >= 0, false)) &&
      (a.evaluation_periods == null || try(a.evaluation_periods >= 1 && floor(a.evaluation_periods) == a.evaluation_periods, false)) &&
      (a.datapoints_to_alarm == null || try(a.datapoints_to_alarm >= 1 && a.datapoints_to_alarm <= coalesce(a.evaluation_periods, a.datapoints_to_alarm), false))
    )])
    error_message = "alarms: threshold must be >= 0, evaluation_periods a whole number >= 1, and datapoints_to_alarm between 1 and the alarm's evaluation_periods."
  }
}

variable "drift_alarm" {
  description = "The drift alarm on the service's MaxFeaturePSI (written by the service as EMF, namespace as its SIGNALS_NAMESPACE): enable, PSI threshold (0.25: a shift worth acting on), and periods that must all breach."
  type = object({
    enable             = optional(bool, true)
    threshold          = optional(number, 0.25)
    evaluation_periods = optional(number, 3)
    namespace          = optional(string, "mlinfra")
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.drift_alarm.threshold > 0 && var.drift_alarm.evaluation_periods >= 1
    error_message = "drift_alarm threshold ${var.drift_alarm.threshold} must be > 0 (a PSI, e.g. 0.25) and evaluation_periods ${var.drift_alarm.evaluation_periods} >= 1."
  }
}

variable "alarm_evaluation" {
  description = "How alarms judge: period in seconds, number of periods evaluated, and how many of them must breach (M of N)."
  type = object({
    period              = optional(number, 60)
    evaluation_periods  = optional(number, 5)
    datapoints_to_alarm = optional(number, 3)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.alarm_evaluation.period >= 60 && var.alarm_evaluation.period % 60 == 0
    error_message = "alarm_evaluation.period ${var.alarm_evaluation.period} must be a multiple of 60 seconds (ALB and ECS metrics are per minute)."
  }

  validation {
    condition     = var.alarm_evaluation.datapoints_to_alarm >= 1 && var.alarm_evaluation.datapoints_to_alarm <= var.alarm_evaluation.evaluation_periods
    error_message = "alarm_evaluation.datapoints_to_alarm ${var.alarm_evaluation.datapoints_to_alarm} must be between 1 and evaluation_periods (${var.alarm_evaluation.evaluation_periods})."
  }
}

################################################################################
# Alarm Notifications
################################################################################

variable "sns_topic" {
  description = "An SNS topic for alarm and OK notifications, created when create = true, with a subscription for each of email_addresses and each of subscriptions (name => protocol and endpoint: https for a chat or paging webhook, sqs, lambda...). It is always encrypted: with kms_key_arn, or else with a key the module creates that CloudWatch may use."
  type = object({
    create          = optional(bool, false)
    kms_key_arn     = optional(string)
    email_addresses = optional(list(string), [])
    subscriptions = optional(map(object({
      protocol = string
      endpoint = string
    })), {})
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.sns_topic.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.sns_topic.kms_key_arn))
    error_message = "sns_topic.kms_key_arn \"${coalesce(var.sns_topic.kms_key_arn, "null")}\" must be a customer managed KMS key ARN; the AWS managed alias/aws/sns key cannot be used by CloudWatch alarms."
  }

  validation {
    condition     = alltrue([for s in values(var.sns_topic.subscriptions) : contains(["email", "email-json", "http", "https", "sqs", "lambda", "sms"], s.protocol)])
    error_message = "sns_topic.subscriptions ${jsonencode([for k, s in var.sns_topic.subscriptions : k if !contains(["email", "email-json", "http", "https", "sqs", "lambda", "sms"], s.protocol)])}: protocol must be one of email, email-json, http, https, sqs, lambda or sms."
  }

  validation {
    condition     = alltrue([for a in var.sns_topic.email_addresses : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", a))])
    error_message = "sns_topic.email_addresses ${jsonencode([for a in var.sns_topic.email_addresses : a if !can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", a))])} are not e-mail addresses; give addresses such as \"oncall@example.com\"."
  }

  validation {
    condition     = var.sns_topic.create || (length(var.sns_topic.email_addresses) == 0 && length(var.sns_topic.subscriptions) == 0)
    error_message = "sns_topic has email_addresses or subscriptions but create = false, so nobody would be subscribed; set sns_topic.create = true, or subscribe them to the topics of alarm_topic_arns yourself."
  }
}

variable "alarm_topic_arns" {
  description = "Existing SNS topic ARNs that alarms notify, in addition to the module's topic."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for a in var.alarm_topic_arns : can(regex("^arn:aws[a-z-]*:sns:", a))])
    error_message = "alarm_topic_arns ${jsonencode([for a in var.alarm_topic_arns : a if !can(regex("^arn:aws[a-z-]*:sns:", a))])} are not SNS topic ARNs; it must hold SNS topic ARNs (\"arn:aws:sns:REGION:ACCOUNT:NAME\")."
  }
}

variable "enable_ok_actions" {
  description = "Whether the alarm topics also hear when an alarm returns to OK."
  type        = bool
  default     = true
  nullable    = false
}

################################################################################
# Dashboard
################################################################################

variable "create_dashboard" {
  description = "Whether to create a CloudWatch dashboard of the service."
  type        = bool
  default     = true
  nullable    = false
}
