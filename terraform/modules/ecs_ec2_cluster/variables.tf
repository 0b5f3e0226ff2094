################################################################################
# Common
################################################################################

variable "name" {
  description = "Name of the cluster; also the stem of its instance role, launch template, Auto Scaling group and capacity provider names."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z0-9][a-zA-Z0-9_-]{0,39}$", var.name)) && !can(regex("^(?i)(aws|ecs|fargate)", var.name))
    error_message = "name must be 1-40 letters, digits, '-' or '_', starting with a letter or digit but not with \"aws\", \"ecs\" or \"fargate\" (ECS reserves them for capacity provider names, and \"<name>-ecs-instance\" must fit IAM's 64 characters); rename it, e.g. \"mlinfra-prod\"."
  }
}

variable "tags" {
  description = "Tags added to every resource the module creates (and propagated to the instances)."
  type        = map(string)
  default     = {}
  nullable    = false
}

################################################################################
# Cluster
################################################################################

variable "container_insights" {
  description = "CloudWatch Container Insights for the cluster: \"enabled\", \"enhanced\" (per-task and per-container metrics) or \"disabled\"."
  type        = string
  default     = "enabled"
  nullable    = false

  validation {
    condition     = contains(["enabled", "enhanced", "disabled"], var.container_insights)
    error_message = "container_insights \"${var.container_insights}\" must be \"enabled\", \"enhanced\" or \"disabled\" (lower case)."
  }
}

################################################################################
# Launch Template
################################################################################

variable "instance_type" {
  description = "EC2 instance type of the container instances."
  type        = string
  default     = "t3.medium"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.instance_type))
    error_message = "instance_type must be an EC2 instance type such as \"t3.medium\" or \"c7i.large\"."
  }
}

variable "ami_id" {
  description = "AMI of the container instances. Null reads the current ECS-optimized AMI from the SSM parameter ami_ssm_parameter_name at plan time."
  type        = string
  default     = null

  validation {
    condition     = var.ami_id == null || can(regex("^ami-[0-9a-f]{8,17}$", coalesce(var.ami_id, "-")))
    error_message = "ami_id must look like \"ami-0123456789abcdef0\", or be null to use the ECS-optimized AMI from SSM."
  }
}

variable "ami_ssm_parameter_name" {
  description = "SSM parameter holding the AMI id when ami_id is null (the ECS-optimized Amazon Linux 2023 AMI by default; use .../arm64/recommended/image_id for Graviton)."
  type        = string
  default     = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
  nullable    = false

  validation {
    condition     = startswith(var.ami_ssm_parameter_name, "/")
    error_message = "ami_ssm_parameter_name must be a parameter path starting with \"/\", e.g. \"/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id\"."
  }
}

variable "root_volume" {
  description = "Root EBS volume of each instance; always encrypted (kms_key_arn null uses the account's default EBS key)."
  type = object({
    size_gb     = optional(number, 30)
    type        = optional(string, "gp3")
    kms_key_arn = optional(string)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.root_volume.size_gb >= 30 && var.root_volume.size_gb <= 16384
    error_message = "root_volume.size_gb must be between 30 (the ECS-optimized AL2023 AMI's snapshot size) and 16384."
  }

  validation {
    condition     = contains(["gp3", "gp2", "io1", "io2"], var.root_volume.type)
    error_message = "root_volume.type must be one of \"gp3\", \"gp2\", \"io1\", \"io2\"."
  }
}

variable "metadata_hop_limit" {
  description = "IMDSv2 response hop limit. 1 keeps containers in bridge mode from reaching the instance's credentials (they use their task role instead)."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = var.metadata_hop_limit >= 1 && var.metadata_hop_limit <= 64
    error_message = "metadata_hop_limit must be between 1 and 64; keep 1 unless a container truly needs the instance metadata."
  }
}

variable "ecs_agent_config" {
  description = "Extra ECS agent settings appended to /etc/ecs/ecs.config (e.g. { ECS_CONTAINER_STOP_TIMEOUT = \"30s\" }). ECS_CLUSTER is always set by the module."
  type        = map(string)
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for k in keys(var.ecs_agent_config) : can(regex("^ECS_[A-Z0-9_]+$", k)) && k != "ECS_CLUSTER"])
    error_message = "ecs_agent_config keys must be ECS agent variables (\"ECS_...\" in upper case) other than ECS_CLUSTER, which the module sets."
  }

  validation {
    condition     = !contains(keys(var.ecs_agent_config), "ECS_DYNAMIC_HOST_PORT_RANGE") && !contains(keys(var.ecs_agent_config), "ECS_WARM_POOLS_CHECK")
    error_message = "ecs_agent_config sets ECS_DYNAMIC_HOST_PORT_RANGE or ECS_WARM_POOLS_CHECK; set host_port_range (so the security group admits the same ports) or warm_pool instead."
  }
}

variable "host_port_range" {
  description = "Host ports the ECS agent maps bridge-mode containers to (host port 0), admitted from the ALB. Pass the same object as the alb module's target_port_range; a range other than the default is written to the agent as ECS_DYNAMIC_HOST_PORT_RANGE."
  type = object({
    from_port = optional(number, 32768)
    to_port   = optional(number, 65535)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.host_port_range.from_port >= 1024 && var.host_port_range.from_port <= var.host_port_range.to_port && var.host_port_range.to_port <= 65535
    error_message = "host_port_range ${var.host_port_range.from_port}-${var.host_port_range.to_port} must satisfy 1024 <= from_port <= to_port <= 65535 (below 1024 are privileged ports); the default 32768-65535 is the agent's own."
  }
}

################################################################################
# Instance Security Group
################################################################################

variable "vpc_id" {
  description = "ID of the VPC the instances run in."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must look like \"vpc-0123abcd\"; pass the ID of an existing VPC, not its name or ARN."
  }
}

variable "alb_security_group_id" {
  description = "Security group of the load balancer (the alb module's security_group_id): the only source admitted to the instances, on the ephemeral host ports of bridge mode."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^sg-[0-9a-f]+$", var.alb_security_group_id))
    error_message = "alb_security_group_id must look like \"sg-0123abcd\"; pass the alb module's security_group_id output."
  }
}

variable "egress_cidr_blocks" {
  description = "Destinations the instances may reach on HTTPS (443): the ECS, ECR, CloudWatch Logs and SSM endpoints. Narrow it to a proxy or VPC-endpoint range where there is one."
  type        = list(string)
  default     = ["0.0.0.0/0"]
  nullable    = false

  validation {
    condition     = length(var.egress_cidr_blocks) > 0 && alltrue([for c in var.egress_cidr_blocks : can(cidrhost(c, 0))])
    error_message = "egress_cidr_blocks must hold at least one IPv4 CIDR block such as \"10.0.0.0/16\"; without HTTPS egress the ECS agent cannot register."
  }
}

################################################################################
# Auto Scaling Group
################################################################################

variable "subnet_ids" {
  description = "Subnets for the instances, in at least two Availability Zones (private subnets with a NAT or VPC endpoints)."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.subnet_ids) >= 2 && alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "subnet_ids must hold at least two subnet IDs (\"subnet-...\"), in different Availability Zones, so that one zone's loss leaves capacity."
  }
}

variable "instance_count" {
  description = "Bounds of the Auto Scaling group. The capacity provider's managed scaling moves the desired count between them."
  type = object({
    min = optional(number, 1)
    max = optional(number, 4)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.instance_count.min >= 0 && var.instance_count.max >= 1 && var.instance_count.min <= var.instance_count.max
    error_message = "instance_count needs 0 <= min <= max and max >= 1 (e.g. { min = 1, max = 4 })."
  }
}

variable "force_delete" {
  description = "Let `terraform destroy` delete the Auto Scaling group without waiting for its (scale-in protected) instances to terminate. Useful for throw-away environments."
  type        = bool
  default     = false
  nullable    = false
}

################################################################################
# Capacity Provider
################################################################################

variable "managed_scaling" {
  description = "Capacity provider managed scaling: target_capacity is the percentage of instance capacity tasks should use (100 = no spare instances); step sizes bound each scaling action."
  type = object({
    target_capacity           = optional(number, 100)
    minimum_scaling_step_size = optional(number, 1)
    maximum_scaling_step_size = optional(number, 2)
    instance_warmup_period    = optional(number, 180)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.managed_scaling.target_capacity >= 1 && var.managed_scaling.target_capacity <= 100
    error_message = "managed_scaling.target_capacity must be a percentage from 1 to 100 (below 100 keeps spare instances warm)."
  }

  validation {
    condition     = var.managed_scaling.minimum_scaling_step_size >= 1 && var.managed_scaling.minimum_scaling_step_size <= var.managed_scaling.maximum_scaling_step_size && var.managed_scaling.maximum_scaling_step_size <= 10000
    error_message = "managed_scaling needs 1 <= minimum_scaling_step_size <= maximum_scaling_step_size <= 10000."
  }
}

variable "managed_termination_protection" {
  description = "Let ECS protect instances that run tasks from scale-in. Also sets the Auto Scaling group's scale-in protection, which ECS requires to match."
  type        = bool
  default     = true
  nullable    = false
}

################################################################################
# Instance IAM Role
################################################################################

variable "enable_ssm_session_manager" {
  description = "Attach AmazonSSMManagedInstanceCore so that operators reach instances through SSM Session Manager (no SSH key, no open port)."
  type        = bool
  default     = true
  nullable    = false
}

variable "iam_role_path" {
  description = "IAM path of the container instances' IAM role and instance profile (e.g. \"/mlinfra/\"), for organisations that give teams a path of their own."
  type        = string
  default     = "/"
  nullable    = false

  validation {
    condition     = can(regex("^/([\\x21-\\x7E]{0,510}/)?$", var.iam_role_path))
    error_message = "iam_role_path is \"${var.iam_role_path}\"; set a path that starts and ends with \"/\" (e.g. \"/mlinfra/\"), or \"/\" for none."
  }
}

variable "iam_role_permissions_boundary" {
  description = "ARN of the managed policy set as the permissions boundary of the container instances' IAM role; null sets none. Organisations that enforce boundaries refuse roles created without one."
  type        = string
  default     = null

  validation {
    condition     = var.iam_role_permissions_boundary == null || can(regex("^arn:aws[a-z-]*:iam::(aws|[0-9]{12}):policy/", var.iam_role_permissions_boundary))
    error_message = "iam_role_permissions_boundary must be the ARN of an IAM managed policy, \"arn:aws:iam::<account>:policy/<name>\"; leave it null for no boundary."
  }
}

################################################################################
# Auto Scaling Group
################################################################################

variable "instance_refresh" {
  description = "Rolling replacement of the instances whenever the launch template changes (a new AMI from the SSM parameter, instance type or agent setting). Off by default so an existing caller's plan does not change; turn it on, or the fleet keeps running the old version."
  type = object({
    enable                 = optional(bool, false)
    min_healthy_percentage = optional(number, 90)
    instance_warmup        = optional(number, 300)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.instance_refresh.min_healthy_percentage >= 0 && var.instance_refresh.min_healthy_percentage <= 100
    error_message = "instance_refresh.min_healthy_percentage ${var.instance_refresh.min_healthy_percentage} must be 0-100; 90 replaces one instance in ten at a time."
  }

  validation {
    condition     = var.instance_refresh.instance_warmup >= 0
    error_message = "instance_refresh.instance_warmup ${var.instance_refresh.instance_warmup} must be a number of seconds >= 0 (the time an instance needs to join the cluster, e.g. 300)."
  }
}

variable "spot" {
  description = "Spot capacity: a mixed instances policy over instance_type plus instance_types, On-Demand for on_demand_base_capacity instances and on_demand_percentage_above_base_capacity percent above it. null: On-Demand instances of instance_type only."
  type = object({
    instance_types                           = optional(list(string), [])
    on_demand_base_capacity                  = optional(number, 0)
    on_demand_percentage_above_base_capacity = optional(number, 0)
    allocation_strategy                      = optional(string, "price-capacity-optimized")
  })
  default = null

  validation {
    condition     = var.spot == null || try(var.spot.on_demand_base_capacity >= 0 && var.spot.on_demand_percentage_above_base_capacity >= 0 && var.spot.on_demand_percentage_above_base_capacity <= 100, false)
    error_message = "spot needs on_demand_base_capacity >= 0 and on_demand_percentage_above_base_capacity 0-100 (0: all Spot above the base)."
  }

  validation {
    condition     = var.spot == null || try(contains(["price-capacity-optimized", "capacity-optimized", "capacity-optimized-prioritized", "lowest-price"], var.spot.allocation_strategy), false)
    error_message = "spot.allocation_strategy must be \"price-capacity-optimized\" (recommended), \"capacity-optimized\", \"capacity-optimized-prioritized\" or \"lowest-price\"."
  }
}

variable "warm_pool" {
  description = "A warm pool of pre-initialised instances (Stopped, Running or Hibernated) that scale-out takes from; the agent waits (ECS_WARM_POOLS_CHECK) until an instance leaves the pool. Not available together with spot."
  type = object({
    pool_state            = optional(string, "Stopped")
    min_size              = optional(number, 0)
    max_prepared_capacity = optional(number)
    reuse_on_scale_in     = optional(bool, true)
  })
  default = null

  validation {
    condition     = var.warm_pool == null || try(contains(["Stopped", "Running", "Hibernated"], var.warm_pool.pool_state) && var.warm_pool.min_size >= 0, false)
    error_message = "warm_pool.pool_state must be \"Stopped\", \"Running\" or \"Hibernated\", and warm_pool.min_size >= 0."
  }
}
