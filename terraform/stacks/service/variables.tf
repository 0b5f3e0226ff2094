################################################################################
# Common
################################################################################

variable "name" {
  description = "Stem of every resource name in the environment, e.g. \"mlinfra-prod\"."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}$", var.name))
    error_message = "name must be 2-23 lowercase letters, digits or '-', starting with a letter (ALB and target group names allow 32 characters including suffixes), e.g. \"mlinfra-prod\"."
  }
}

variable "environment" {
  description = "Environment name (local, dev, staging, prod); tagged on every resource."
  type        = string
  nullable    = false

  validation {
    condition     = contains(["local", "dev", "staging", "prod"], var.environment)
    error_message = "environment \"${var.environment}\" must be one of local, dev, staging, prod."
  }
}

variable "tags" {
  description = "Extra tags on every resource (Environment and Project are always set)."
  type        = map(string)
  default     = {}
  nullable    = false
}

################################################################################
# Network
################################################################################

variable "network" {
  description = "The VPC: its CIDR, how many AZs (2-3) get subnets, and whether instances sit in private subnets behind one NAT gateway (true) or in the public subnets (false, cheaper)."
  type = object({
    cidr              = optional(string, "10.0.0.0/16")
    az_count          = optional(number, 2)
    private_instances = optional(bool, false)
  })
  default  = {}
  nullable = false

  validation {
    condition     = can(cidrsubnet(var.network.cidr, 4, 15)) && var.network.az_count >= 2 && var.network.az_count <= 3
    error_message = "network needs an IPv4 cidr of /20 or larger (e.g. \"10.0.0.0/16\") and az_count 2 or 3 (the ALB needs two AZs)."
  }
}

################################################################################
# Cluster
################################################################################

variable "cluster" {
  description = "Container instances: EC2 type, Auto Scaling group bounds, and force_delete for throw-away environments (destroy without waiting for protected instances)."
  type = object({
    instance_type = optional(string, "t3.small")
    min_instances = optional(number, 1)
    max_instances = optional(number, 2)
    force_delete  = optional(bool, false)
  })
  default  = {}
  nullable = false
}

################################################################################
# Service
################################################################################

variable "container_image" {
  description = "Full image URI with tag or digest (<registry>/<repository>:<tag>); written per deploy by the CLI into .mlinfra/<env>/image.auto.tfvars.json. The task_definition module validates it."
  type        = string
  nullable    = false
}

variable "models" {
  description = "The environment's other models, beside its own (container_image, answering at /predict): each key names a model that answers at /models/<key>/predict through the same load balancer (a path rule), run by the service \"<name>-<key>\" with its own image, target group and scaling between min_tasks and max_tasks. The CLI writes the images into .mlinfra/<env>/models.auto.tfvars.json during `mlinfra deploy --model <key>`."
  type = map(object({
    image     = string
    min_tasks = optional(number, 1)
    max_tasks = optional(number, 2)
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for name in keys(var.models) : can(regex("^[a-z][a-z0-9-]{0,19}$", name)) && name != "canary"])
    error_message = "models keys ${jsonencode(keys(var.models))} must be 1-20 lowercase letters, digits or '-', starting with a letter, and not \"canary\" (a key names the service <name>-<key> and its route /models/<key>)."
  }

  validation {
    condition     = alltrue([for model in values(var.models) : model.min_tasks >= 1 && model.min_tasks <= model.max_tasks])
    error_message = "Each model needs 1 <= min_tasks <= max_tasks; got ${jsonencode({ for name, model in var.models : name => [model.min_tasks, model.max_tasks] })}."
  }
}

variable "canary" {
  description = "A canary beside the stable service: image (null: no canary service) runs as the service \"<name>-canary\" with desired_count tasks in its own target group, and the listener forwards weight percent of the requests to it (the rest to the stable service). The CLI writes it into .mlinfra/<env>/canary.auto.tfvars.json during `mlinfra deploy --canary`."
  type = object({
    image         = optional(string)
    weight        = optional(number, 0)
    desired_count = optional(number, 1)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.canary.weight >= 0 && var.canary.weight <= 100 && floor(var.canary.weight) == var.canary.weight
    error_message = "canary.weight ${var.canary.weight} must be a whole percent 0-100 of the requests."
  }

  validation {
    condition     = var.canary.desired_count >= 1 && floor(var.canary.desired_count) == var.canary.desired_count
    error_message = "canary.desired_count ${var.canary.desired_count} must be a whole number of tasks, at least 1 (set canary.image = null for no canary)."
  }

  validation {
    condition     = var.canary.image != null || var.canary.weight == 0
    error_message = "canary.weight is ${var.canary.weight} but canary.image is null: nothing would answer that share; set the image or weight = 0."
  }
}

variable "task" {
  description = "Task size (CPU units and MiB for the container) and the port the service listens on."
  type = object({
    cpu            = optional(number, 512)
    memory         = optional(number, 1024)
    container_port = optional(number, 8080)
  })
  default  = {}
  nullable = false
}

variable "scaling" {
  description = "Task count: desired at creation, then Application Auto Scaling keeps it between min and max by target tracking on CPU and memory (percent) and, when requests_per_target is set, on ALB requests per task per minute."
  type = object({
    desired_count       = optional(number, 1)
    min_tasks           = optional(number, 1)
    max_tasks           = optional(number, 2)
    cpu_target          = optional(number, 70)
    memory_target       = optional(number, 80)
    requests_per_target = optional(number)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.scaling.min_tasks >= 1 && var.scaling.min_tasks <= var.scaling.desired_count && var.scaling.desired_count <= var.scaling.max_tasks
    error_message = "scaling has min_tasks ${var.scaling.min_tasks}, desired_count ${var.scaling.desired_count} and max_tasks ${var.scaling.max_tasks}; set them so that 1 <= min_tasks <= desired_count <= max_tasks."
  }

  validation {
    condition     = var.scaling.requests_per_target == null || try(var.scaling.requests_per_target > 0, false)
    error_message = "scaling.requests_per_target ${jsonencode(var.scaling.requests_per_target)} must be a number of requests per task per minute above 0, or null to scale on CPU and memory only."
  }
}

variable "api_key" {
  description = "The API key clients send as X-API-Key: whether they need one (the registry stack of the same environment then holds the secret, \"mlinfra/<environment>/api-key\"), and the version the tasks read (the CLI writes the current one, so a rotation rolls the tasks; null reads AWSCURRENT when a task starts). required = false: no key, /predict is open."
  type = object({
    required   = bool
    version_id = optional(string)
  })
  default  = { required = false }
  nullable = false
}

################################################################################
# Load Balancer
################################################################################

variable "load_balancer" {
  description = <<-EOT
    ALB settings: deletion protection (on for prod); HTTPS (an existing ACM certificate_arn, or a
    domain whose certificate the stack requests and validates by DNS in the public Route 53
    zone zone_name; port 80 then answers 301 to 443); the CIDRs admitted to the listeners; how
    long a deregistered task drains (seconds; above the longest request); access logs to a
    bucket the stack makes (kept access_log_days); a WAF rate limit per client IP (requests per
    5 minutes) or null for no WAF.
  EOT
  type = object({
    enable_deletion_protection = optional(bool, false)
    https = optional(object({
      certificate_arn = optional(string)
      domain          = optional(string)
      zone_name       = optional(string)
    }))
    ingress_cidr_blocks  = optional(list(string), ["0.0.0.0/0"])
    deregistration_delay = optional(number, 30)
    enable_access_logs   = optional(bool, false)
    access_log_days      = optional(number, 90)
    waf_rate_limit       = optional(number)
  })
  default  = {}
  nullable = false

  # NOTE: staging and prod serve HTTPS only; a root without a certificate fails at plan, not
  # after a public plain-HTTP endpoint exists.
  validation {
    condition     = !contains(["staging", "prod"], var.environment) || var.load_balancer.https != null
    error_message = "load_balancer.https is required in ${var.environment}: set load_balancer.https.certificate_arn to an ACM certificate, or load_balancer.https.domain and zone_name to have the stack request one."
  }

  validation {
    condition = var.load_balancer.https == null || try(
      (var.load_balancer.https.certificate_arn != null) != (var.load_balancer.https.domain != null && var.load_balancer.https.zone_name != null),
      false
    )
    error_message = "load_balancer.https ${jsonencode(var.load_balancer.https)} needs exactly one of certificate_arn (an existing ACM certificate) or domain together with zone_name (the stack requests the certificate)."
  }

  validation {
    condition     = var.load_balancer.waf_rate_limit == null || try(var.load_balancer.waf_rate_limit >= 10 && var.load_balancer.waf_rate_limit <= 2000000000, false)
    error_message = "load_balancer.waf_rate_limit ${jsonencode(var.load_balancer.waf_rate_limit)} must be 10-2000000000 requests per 5 minutes per client IP (WAF's range), or null for no WAF."
  }
}

################################################################################
# Observability
################################################################################

variable "observability" {
  description = "Log retention in days, whether metric alarms are created, the dashboard, and who hears the alarms: e-mail addresses subscribed to the environment's SNS topic and existing topic ARNs (chat, paging) that every alarm also notifies, on alarm and on OK."
  type = object({
    log_retention_days = optional(number, 30)
    create_alarms      = optional(bool, true)
    create_dashboard   = optional(bool, true)
    alarm_emails       = optional(list(string), [])
    alarm_topic_arns   = optional(list(string), [])
  })
  default  = {}
  nullable = false

  validation {
    condition     = !var.observability.create_alarms || length(var.observability.alarm_emails) + length(var.observability.alarm_topic_arns) > 0
    error_message = "observability.create_alarms is true but nobody is notified: add observability.alarm_emails (e-mail addresses) or alarm_topic_arns (an existing SNS topic for chat or paging)."
  }
}
