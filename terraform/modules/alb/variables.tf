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
  description = "Target group for the ECS service, health checked on /health: target_type \"instance\" (the default) for bridge-mode tasks on their dynamic host ports, \"ip\" for awsvpc tasks (task_definition network_mode = \"awsvpc\"), which register their own address on port."
  type = object({
    port                 = optional(number, 8080)
    protocol             = optional(string, "HTTP")
    target_type          = optional(string, "instance")
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
    condition     = contains(["instance", "ip"], var.target_group.target_type)
    error_message = "target_group.target_type \"${var.target_group.target_type}\" must be \"instance\" (bridge-mode tasks, the default) or \"ip\" (awsvpc tasks)."
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

variable "create_target_group" {
  description = "Whether the default target group (target_group, key \"default\") exists. Set false when every model has its own group in target_groups."
  type        = bool
  default     = true
  nullable    = false
}

variable "target_groups" {
  description = "More target groups keyed by name (one per model), each shaped like target_group. Reach one from listener_rules by its key; the output target_groups gives each its arn for the ECS service."
  type = map(object({
    port                 = optional(number, 8080)
    protocol             = optional(string, "HTTP")
    target_type          = optional(string, "instance")
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
  }))
  default  = {}
  nullable = false

  validation {
    condition     = !contains(keys(var.target_groups), "default")
    error_message = "target_groups has a key \"default\", the key of the module's own target_group: rename the entry (e.g. the model's name)."
  }

  validation {
    condition     = alltrue([for k in keys(var.target_groups) : can(regex("^[a-zA-Z0-9-]{1,32}$", k))])
    error_message = "target_groups keys ${jsonencode(keys(var.target_groups))} must be 1-32 letters, digits or hyphens (a key enters the target group's name)."
  }

  validation {
    condition = alltrue([for tg in values(var.target_groups) : (
      tg.port >= 1 && tg.port <= 65535 && contains(["HTTP", "HTTPS"], tg.protocol) &&
      contains(["instance", "ip"], tg.target_type) &&
      tg.deregistration_delay >= 0 && tg.deregistration_delay <= 3600 &&
      (tg.slow_start == 0 || (tg.slow_start >= 30 && tg.slow_start <= 900)) &&
      contains(["round_robin", "least_outstanding_requests"], tg.load_balancing) &&
      startswith(tg.health_check.path, "/") &&
      can(regex("^[0-9]{3}([-,][0-9]{3})*$", tg.health_check.matcher)) &&
      tg.health_check.interval >= 5 && tg.health_check.interval <= 300 &&
      tg.health_check.timeout >= 2 && tg.health_check.timeout < tg.health_check.interval &&
      tg.health_check.healthy_threshold >= 2 && tg.health_check.healthy_threshold <= 10 &&
      tg.health_check.unhealthy_threshold >= 2 && tg.health_check.unhealthy_threshold <= 10
    )])
    error_message = "target_groups entries must each satisfy target_group's limits: port 1-65535, protocol HTTP or HTTPS, target_type instance or ip, deregistration_delay 0-3600, slow_start 0 or 30-900, load_balancing round_robin or least_outstanding_requests, a health_check.path starting with \"/\", matcher codes such as \"200\", interval 5-300 s above timeout (2-120 s), thresholds 2-10; see the target_group errors for the entry at fault by passing it as target_group."
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

################################################################################
# Listener Rules
################################################################################

variable "default_action" {
  description = "What the serving listener (HTTPS, else HTTP) does with a request no listener rule matches: \"forward\" to target_group_key (null: the default target group), or with weights (a share per target group key, e.g. { default = 90, canary = 10 }) to several groups at random in those proportions (a canary); or \"fixed-response\" (404 by default), so that no model has to be the default."
  type = object({
    type             = optional(string, "forward")
    target_group_key = optional(string)
    weights          = optional(map(number), {})
    fixed_response = optional(object({
      status_code  = optional(number, 404)
      content_type = optional(string, "application/json")
      message_body = optional(string, "{\"error\":{\"code\":\"not_found\",\"message\":\"No model serves this host and path.\"}}")
    }), {})
  })
  default  = {}
  nullable = false

  validation {
    condition     = contains(["forward", "fixed-response"], var.default_action.type)
    error_message = "default_action.type \"${var.default_action.type}\" must be \"forward\" or \"fixed-response\"."
  }

  validation {
    condition     = length(var.default_action.weights) == 0 || (var.default_action.type == "forward" && var.default_action.target_group_key == null && length(var.default_action.weights) <= 5 && alltrue([for w in values(var.default_action.weights) : w >= 0 && w <= 999 && floor(w) == w]) && sum(concat([0], values(var.default_action.weights))) > 0)
    error_message = "default_action.weights ${jsonencode(var.default_action.weights)} must be whole numbers 0-999 for at most 5 target groups, at least one above 0, on a \"forward\" without target_group_key (the ALB's weighted forward)."
  }

  validation {
    condition     = var.default_action.fixed_response.status_code >= 200 && var.default_action.fixed_response.status_code <= 599
    error_message = "default_action.fixed_response.status_code ${var.default_action.fixed_response.status_code} must be an HTTP status 200-599 (404 for \"no model here\")."
  }

  validation {
    condition     = contains(["text/plain", "text/css", "text/html", "application/javascript", "application/json"], var.default_action.fixed_response.content_type)
    error_message = "default_action.fixed_response.content_type \"${var.default_action.fixed_response.content_type}\" must be one the ALB accepts: text/plain, text/css, text/html, application/javascript or application/json."
  }

  validation {
    condition     = length(var.default_action.fixed_response.message_body) <= 1024
    error_message = "default_action.fixed_response.message_body is ${length(var.default_action.fixed_response.message_body)} characters; the ALB takes at most 1024."
  }
}

variable "listener_rules" {
  description = "Rules on the serving listener (HTTPS, else HTTP), keyed by name: each forwards requests matching all its conditions (any of host_headers, e.g. [\"a.example.com\"], and any of path_patterns, e.g. [\"/models/a/*\"]) to target_groups[target_group_key] (\"default\": target_group). Lower priority wins."
  type = map(object({
    priority         = number
    target_group_key = string
    host_headers     = optional(list(string), [])
    path_patterns    = optional(list(string), [])
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for r in values(var.listener_rules) : r.priority >= 1 && r.priority <= 50000 && floor(r.priority) == r.priority])
    error_message = "listener_rules priorities ${jsonencode({ for k, r in var.listener_rules : k => r.priority })} must be whole numbers 1-50000."
  }

  validation {
    condition     = length(distinct([for r in values(var.listener_rules) : r.priority])) == length(var.listener_rules)
    error_message = "listener_rules priorities ${jsonencode({ for k, r in var.listener_rules : k => r.priority })} repeat; give each rule its own priority (a listener refuses two rules at one)."
  }

  validation {
    condition     = alltrue([for r in values(var.listener_rules) : length(r.host_headers) + length(r.path_patterns) > 0])
    error_message = "Every listener rule needs a condition: set host_headers, path_patterns or both in ${jsonencode([for k, r in var.listener_rules : k if length(r.host_headers) + length(r.path_patterns) == 0])}."
  }

  validation {
    condition     = alltrue([for r in values(var.listener_rules) : length(r.host_headers) <= 5 && length(r.path_patterns) <= 5 && length(r.host_headers) + length(r.path_patterns) <= 5])
    error_message = "A listener rule takes at most 5 condition values in all (an ALB limit); split the rule in two with their own priorities."
  }

  validation {
    condition     = alltrue(flatten([for r in values(var.listener_rules) : [for p in r.path_patterns : startswith(p, "/") || startswith(p, "*")]]))
    error_message = "listener_rules path_patterns must start with \"/\" (or \"*\"), e.g. \"/models/a/*\"."
  }
}
