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
    error_message = "environment must be one of local, dev, staging, prod."
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
  description = "Task count: desired at creation, then Application Auto Scaling keeps it between min and max on the CPU target (percent)."
  type = object({
    desired_count = optional(number, 1)
    min_tasks     = optional(number, 1)
    max_tasks     = optional(number, 2)
    cpu_target    = optional(number, 70)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.scaling.min_tasks >= 1 && var.scaling.min_tasks <= var.scaling.desired_count && var.scaling.desired_count <= var.scaling.max_tasks
    error_message = "scaling needs 1 <= min_tasks <= desired_count <= max_tasks."
  }
}

################################################################################
# Load Balancer
################################################################################

variable "load_balancer" {
  description = "ALB settings: deletion protection (on for prod), an optional ACM certificate for HTTPS, the CIDRs admitted to the listeners, and how long a deregistered task drains (seconds; above the longest request)."
  type = object({
    deletion_protection  = optional(bool, false)
    certificate_arn      = optional(string)
    ingress_cidr_blocks  = optional(list(string), ["0.0.0.0/0"])
    deregistration_delay = optional(number, 30)
  })
  default  = {}
  nullable = false
}

################################################################################
# Observability
################################################################################

variable "observability" {
  description = "Log retention in days, whether metric alarms are created, and the dashboard."
  type = object({
    log_retention_days = optional(number, 30)
    alarms_enabled     = optional(bool, true)
    dashboard_enabled  = optional(bool, true)
  })
  default  = {}
  nullable = false
}
