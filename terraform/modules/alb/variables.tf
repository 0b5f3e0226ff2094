################################################################################
# Common
################################################################################

variable "name" {
  description = "Name of the load balancer; also the stem of its security group and target group names."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,25}[a-zA-Z0-9])?$", var.name)) && !startswith(var.name, "internal-")
    error_message = "name \"${var.name}\" is invalid: it must be 1-27 letters, digits or hyphens, must not start or end with a hyphen nor start with \"internal-\" (the target group appends a 5-character suffix within AWS's 32-character limit); shorten or rename it."
  }
}

variable "tags" {
  description = "Tags added to every resource the module creates."
  type        = map(string)
  default     = {}
  nullable    = false
}

################################################################################
# Load Balancer
################################################################################

variable "vpc_id" {
  description = "ID of the VPC the load balancer, its security group and its target group live in."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id \"${var.vpc_id}\" must look like \"vpc-0123abcd\"; pass the ID of an existing VPC, not its name or ARN."
  }
}

variable "subnet_ids" {
  description = "Subnets to place the load balancer in, in at least two Availability Zones (public subnets for an internet-facing ALB)."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.subnet_ids) >= 2 && alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "subnet_ids ${jsonencode(var.subnet_ids)} must hold at least two subnet IDs (\"subnet-...\") in different Availability Zones; an ALB refuses fewer."
  }
}

variable "internal" {
  description = "Whether the load balancer is internal (private IPs only) rather than internet-facing."
  type        = bool
  default     = false
  nullable    = false
}

variable "idle_timeout" {
  description = "Seconds a connection may stay idle. Keep it below the backend's keep-alive timeout, or clients see intermittent 502s."
  type        = number
  default     = 60
  nullable    = false

  validation {
    condition     = var.idle_timeout >= 1 && var.idle_timeout <= 4000
    error_message = "idle_timeout ${var.idle_timeout} must be between 1 and 4000 seconds; keep it below the server's keep-alive timeout (the default 60 suits a gunicorn keep-alive above 60 s)."
  }
}

variable "enable_deletion_protection" {
  description = "Whether AWS refuses to delete the load balancer. Turn it off for short-lived environments before `terraform destroy`."
  type        = bool
  default     = true
  nullable    = false
}

variable "access_logs" {
  description = "S3 access logs; null disables them. The bucket policy must let the Region's ELB service write to it."
  type = object({
    bucket = string
    prefix = optional(string)
    enable = optional(bool, true)
  })
  default = null

  validation {
    condition     = var.access_logs == null || try(length(var.access_logs.bucket) > 0 && !startswith(var.access_logs.bucket, "arn:"), false)
    error_message = "access_logs.bucket ${jsonencode(try(var.access_logs.bucket, null))} must be a bucket name (not an ARN nor empty); set access_logs = null to disable logging."
  }
}

variable "ip_address_type" {
  description = "\"ipv4\", or \"dualstack\" for IPv4 and IPv6 clients (the subnets need IPv6 CIDRs; admit IPv6 clients with ingress_ipv6_cidr_blocks)."
  type        = string
  default     = "ipv4"
  nullable    = false

  validation {
    condition     = contains(["ipv4", "dualstack"], var.ip_address_type)
    error_message = "ip_address_type \"${var.ip_address_type}\" must be \"ipv4\" or \"dualstack\"."
  }
}

################################################################################
# Security Group
################################################################################

variable "ingress_cidr_blocks" {
  description = "IPv4 CIDR blocks allowed to reach the listeners (for example [\"0.0.0.0/0\"] for a public service, the VPC CIDR for an internal one). May be empty when another ingress_* input admits the clients."
  type        = list(string)
  nullable    = false

  validation {
    condition     = alltrue([for c in var.ingress_cidr_blocks : can(cidrhost(c, 0)) && !can(regex(":", c))])
    error_message = "ingress_cidr_blocks ${jsonencode(var.ingress_cidr_blocks)} must hold IPv4 CIDRs such as \"10.0.0.0/16\" or \"0.0.0.0/0\" (IPv6 ones go in ingress_ipv6_cidr_blocks)."
  }
}

variable "ingress_ipv6_cidr_blocks" {
  description = "IPv6 CIDR blocks allowed to reach the listeners (e.g. [\"::/0\"]); needs ip_address_type = \"dualstack\"."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for c in var.ingress_ipv6_cidr_blocks : can(cidrhost(c, 0)) && can(regex(":", c))])
    error_message = "ingress_ipv6_cidr_blocks ${jsonencode(var.ingress_ipv6_cidr_blocks)} must hold IPv6 CIDRs such as \"::/0\" or \"2001:db8::/32\" (IPv4 ones go in ingress_cidr_blocks)."
  }
}

variable "ingress_prefix_list_ids" {
  description = "Managed prefix lists (pl-...) whose CIDRs may reach the listeners, e.g. CloudFront's origin-facing list or a company's office ranges."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for id in var.ingress_prefix_list_ids : can(regex("^pl-[0-9a-f]+$", id))])
    error_message = "ingress_prefix_list_ids ${jsonencode(var.ingress_prefix_list_ids)} must hold prefix list IDs such as \"pl-0123abcd\" (not names or ARNs)."
  }
}

variable "ingress_security_group_ids" {
  description = "Security groups whose members may reach the listeners (e.g. an API gateway's VPC link or a bastion), for an internal load balancer."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for id in var.ingress_security_group_ids : can(regex("^sg-[0-9a-f]+$", id))])
    error_message = "ingress_security_group_ids ${jsonencode(var.ingress_security_group_ids)} must hold security group IDs such as \"sg-0123abcd\" (not names)."
  }
}

variable "target_port_range" {
  description = "Host ports the load balancer may reach in the VPC. Bridge mode with host port 0 maps containers into the instances' ephemeral range."
  type = object({
    from_port = optional(number, 32768)
    to_port   = optional(number, 65535)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.target_port_range.from_port >= 1 && var.target_port_range.from_port <= var.target_port_range.to_port && var.target_port_range.to_port <= 65535
    error_message = "target_port_range ${var.target_port_range.from_port}-${var.target_port_range.to_port} must satisfy 1 <= from_port <= to_port <= 65535; the default 32768-65535 covers ECS's dynamic host ports."
  }
}

################################################################################
# Target Group
################################################################################

variable "target_group" {
  description = "Target group for the ECS service: instance targets on the container's dynamic host port, health checked on /health."
  type = object({
    port                 = optional(number, 8080)
    protocol             = optional(string, "HTTP")
    deregistration_delay = optional(number, 30)
    slow_start           = optional(number, 0)
    load_balancing       = optional(string, "round_robin")
    health_check = optional(object({
      path                = optional(string, "/health")
      matcher             = optional(string, "200")
      interval            = optional(number, 15)
      timeout             = optional(number, 5)
      healthy_threshold   = optional(number, 2)
      unhealthy_threshold = optional(number, 3)
    }), {})
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.target_group.port >= 1 && var.target_group.port <= 65535
    error_message = "target_group.port ${var.target_group.port} must be the container port (1-65535), for example 8080."
  }

  validation {
    condition     = contains(["HTTP", "HTTPS"], var.target_group.protocol)
    error_message = "target_group.protocol \"${var.target_group.protocol}\" must be \"HTTP\" or \"HTTPS\" (the protocol the container speaks)."
  }

  validation {
    condition     = var.target_group.deregistration_delay >= 0 && var.target_group.deregistration_delay <= 3600
    error_message = "target_group.deregistration_delay ${var.target_group.deregistration_delay} must be 0-3600 seconds; keep it above the longest request."
  }

  validation {
    condition     = var.target_group.slow_start == 0 || (var.target_group.slow_start >= 30 && var.target_group.slow_start <= 900)
    error_message = "target_group.slow_start ${var.target_group.slow_start} must be 0 (off) or 30-900 seconds."
  }

  validation {
    condition     = contains(["round_robin", "least_outstanding_requests"], var.target_group.load_balancing)
    error_message = "target_group.load_balancing \"${var.target_group.load_balancing}\" must be \"round_robin\" or \"least_outstanding_requests\"."
  }

  validation {
    condition     = startswith(var.target_group.health_check.path, "/")
    error_message = "target_group.health_check.path \"${var.target_group.health_check.path}\" must start with \"/\", for example \"/health\"."
  }

  validation {
    condition     = can(regex("^[0-9]{3}([-,][0-9]{3})*$", var.target_group.health_check.matcher))
    error_message = "target_group.health_check.matcher \"${var.target_group.health_check.matcher}\" must be HTTP codes such as \"200\", \"200,204\" or \"200-299\"."
  }

  validation {
    condition = (
      var.target_group.health_check.interval >= 5 && var.target_group.health_check.interval <= 300 &&
      var.target_group.health_check.timeout >= 2 && var.target_group.health_check.timeout <= 120 &&
      var.target_group.health_check.timeout < var.target_group.health_check.interval
    )
    error_message = "target_group.health_check has interval ${var.target_group.health_check.interval} s and timeout ${var.target_group.health_check.timeout} s; it needs interval 5-300 s and timeout 2-120 s, with timeout below interval."
  }

  validation {
    condition = alltrue([
      for t in [var.target_group.health_check.healthy_threshold, var.target_group.health_check.unhealthy_threshold] : t >= 2 && t <= 10
    ])
    error_message = "target_group.health_check thresholds (healthy ${var.target_group.health_check.healthy_threshold}, unhealthy ${var.target_group.health_check.unhealthy_threshold}) must be between 2 and 10."
  }
}

################################################################################
# Listeners
################################################################################

variable "http_port" {
  description = "Port of the HTTP listener; it redirects to HTTPS when HTTPS is enabled and forwards otherwise."
  type        = number
  default     = 80
  nullable    = false

  validation {
    condition     = var.http_port >= 1 && var.http_port <= 65535
    error_message = "http_port ${var.http_port} must be between 1 and 65535."
  }
}

variable "https_port" {
  description = "Port of the HTTPS listener, created only when HTTPS is enabled (see create_https_listener)."
  type        = number
  default     = 443
  nullable    = false

  validation {
    condition     = var.https_port >= 1 && var.https_port <= 65535
    error_message = "https_port ${var.https_port} must be between 1 and 65535."
  }
}

variable "create_https_listener" {
  description = "Whether the HTTPS listener exists (and HTTP redirects to it). Null: whenever certificate_arn is set. Set true when the certificate is created in the same apply, whose ARN Terraform knows only after it."
  type        = bool
  default     = null
}

variable "certificate_arn" {
  description = "ARN of an ACM certificate. When set, an HTTPS listener serves the target group and the HTTP listener redirects to it. A certificate created in the same apply needs create_https_listener = true as well: its ARN is unknown at plan time."
  type        = string
  default     = null

  validation {
    condition     = var.certificate_arn == null || can(regex("^arn:aws[a-z-]*:(acm|iam):", var.certificate_arn))
    error_message = "certificate_arn \"${coalesce(var.certificate_arn, "null")}\" must be an ACM (or IAM server) certificate ARN, \"arn:aws:acm:REGION:ACCOUNT:certificate/ID\"; leave it null for HTTP only."
  }
}

variable "ssl_policy" {
  description = "TLS negotiation policy of the HTTPS listener."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  nullable    = false

  validation {
    # NOTE: ELBSecurityPolicy-TLS13-1-0-* and -1-1-* carry TLS13 in their names but admit TLS 1.0 / 1.1.
    condition     = can(regex("^ELBSecurityPolicy-(TLS13-1-[23]-|TLS-1-2-|FS-1-2-)", var.ssl_policy))
    error_message = "ssl_policy \"${var.ssl_policy}\" must allow only TLS 1.2+: an \"ELBSecurityPolicy-TLS13-1-2-...\", \"-TLS13-1-3-...\", \"-TLS-1-2-...\" (TLS 1.2 only, e.g. ELBSecurityPolicy-TLS-1-2-Ext-2018-06) or \"-FS-1-2-...\" policy; the default ELBSecurityPolicy-TLS13-1-2-2021-06 suits most clients."
  }
}

################################################################################
# WAF
################################################################################

variable "waf" {
  description = <<-EOT
    A WAFv2 web ACL on the load balancer. enable without web_acl_arn: the module creates a
    regional ACL that allows by default, blocks a client IP sending more than rate_limit
    requests in 5 minutes, then applies AWS's known-bad-inputs rules and blocks anonymizers
    (hosting providers are only counted), with CloudWatch metrics. With web_acl_arn: that
    existing ACL is associated instead (its ARN must be known at plan time: a variable or a
    data source).
  EOT
  type = object({
    enable      = optional(bool, false)
    web_acl_arn = optional(string)
    rate_limit  = optional(number, 2000)
  })
  # Spelled out (Terraform would fill it from the optional defaults) so that checkov, which does
  # not apply those defaults, still sees WAF off when a caller leaves it out.
  default  = { enable = false }
  nullable = false

  validation {
    condition     = var.waf.web_acl_arn == null || can(regex("^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:[0-9]{12}:regional/webacl/", var.waf.web_acl_arn))
    error_message = "waf.web_acl_arn \"${coalesce(var.waf.web_acl_arn, "null")}\" must be a regional WAFv2 web ACL ARN (\"arn:aws:wafv2:REGION:ACCOUNT:regional/webacl/NAME/ID\"); leave it null to let the module create the ACL."
  }

  validation {
    condition     = var.waf.web_acl_arn == null || var.waf.enable
    error_message = "waf.web_acl_arn is set but waf.enable is false, so nothing would be associated; set waf.enable = true, or drop web_acl_arn."
  }

  validation {
    condition     = var.waf.rate_limit >= 10 && var.waf.rate_limit <= 2000000000 && floor(var.waf.rate_limit) == var.waf.rate_limit
    error_message = "waf.rate_limit ${var.waf.rate_limit} must be a whole number of requests per 5 minutes per client IP from 10 to 2000000000 (WAF's limits); the default is 2000."
  }

}
