locals {
  # create_https_listener lets a caller whose certificate is created in the same apply (its ARN unknown
  # until then) say so at plan time: count cannot wait for an unknown.
  create_https_listener = var.create_https_listener != null ? var.create_https_listener : var.certificate_arn != null
  listener_ports = concat(
    [{ name = "http", port = var.http_port }],
    local.create_https_listener ? [{ name = "https", port = var.https_port }] : [],
  )

  # Port and protocol force a new target group; deriving the name from them lets
  # create_before_destroy build the new group before the old name is released.
  target_group_name = format("%s-%s", var.name, substr(sha1(jsonencode([var.target_group.port, var.target_group.protocol])), 0, 4))
}

data "aws_vpc" "this" {
  id = var.vpc_id
}

################################################################################
# Load Balancer
################################################################################

# NOTE: no checkov skip here. WAF, access logs, the HTTPS redirect and deletion protection follow
# the inputs, and checkov evaluates them per module call: a caller that turns one off sees the
# finding and justifies it in its own module block.
resource "aws_lb" "this" {
  name                       = var.name
  load_balancer_type         = "application"
  internal                   = var.internal
  subnets                    = var.subnet_ids
  security_groups            = [aws_security_group.this.id]
  idle_timeout               = var.idle_timeout
  ip_address_type            = var.ip_address_type
  drop_invalid_header_fields = true
  enable_deletion_protection = var.enable_deletion_protection

  dynamic "access_logs" {
    for_each = var.access_logs != null ? [var.access_logs] : []

    content {
      bucket  = access_logs.value.bucket
      prefix  = access_logs.value.prefix
      enabled = access_logs.value.enable
    }
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = length(var.ingress_ipv6_cidr_blocks) == 0 || var.ip_address_type == "dualstack"
      error_message = "ingress_ipv6_cidr_blocks admits IPv6 clients, but an \"ipv4\" load balancer has no IPv6 address: set ip_address_type = \"dualstack\"."
    }
  }
}

################################################################################
# Security Group
################################################################################

resource "aws_security_group" "this" {
  name_prefix = "${var.name}-alb-"
  description = "Load balancer ${var.name}: listeners from the allowed CIDRs, targets in the VPC."
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-alb" })

  # Listeners keep pointing at the group while a replacement is attached.
  lifecycle {
    create_before_destroy = true

    precondition {
      condition     = length(concat(var.ingress_cidr_blocks, var.ingress_ipv6_cidr_blocks, var.ingress_prefix_list_ids, var.ingress_security_group_ids)) > 0
      error_message = "No client may reach the listeners: set ingress_cidr_blocks (e.g. [\"0.0.0.0/0\"]), ingress_ipv6_cidr_blocks, ingress_prefix_list_ids or ingress_security_group_ids."
    }
  }
}

resource "aws_vpc_security_group_ingress_rule" "listener" {
  # Keyed by position, not by CIDR: a CIDR known only after apply (a VPC's own) must not
  # leave for_each without keys at plan time.
  for_each = {
    for pair in setproduct(local.listener_ports, range(length(var.ingress_cidr_blocks))) :
    "${pair[0].name}-${pair[1]}" => { cidr = var.ingress_cidr_blocks[pair[1]], port = pair[0].port }
  }

  security_group_id = aws_security_group.this.id
  description       = "Listener port ${each.value.port} from ${each.value.cidr}"
  ip_protocol       = "tcp"
  cidr_ipv4         = each.value.cidr
  from_port         = each.value.port
  to_port           = each.value.port

  tags = var.tags
}

# IPv6 CIDRs, prefix lists and security groups; rules from IPv4 CIDRs keep their own resource
# (and addresses) above. Keyed by position, for the same reason.
locals {
  other_ingress_sources = concat(
    [for i, cidr in var.ingress_ipv6_cidr_blocks : { key = "ipv6-${i}", cidr_ipv6 = cidr, prefix_list_id = null, security_group_id = null, label = cidr }],
    [for i, id in var.ingress_prefix_list_ids : { key = "pl-${i}", cidr_ipv6 = null, prefix_list_id = id, security_group_id = null, label = id }],
    [for i, id in var.ingress_security_group_ids : { key = "sg-${i}", cidr_ipv6 = null, prefix_list_id = null, security_group_id = id, label = id }],
  )
}

resource "aws_vpc_security_group_ingress_rule" "listener_other" {
  for_each = {
    for pair in setproduct(local.listener_ports, local.other_ingress_sources) :
    "${pair[0].name}-${pair[1].key}" => merge(pair[1], { port = pair[0].port })
  }

  security_group_id            = aws_security_group.this.id
  description                  = "Listener port ${each.value.port} from ${each.value.label}"
  ip_protocol                  = "tcp"
  cidr_ipv6                    = each.value.cidr_ipv6
  prefix_list_id               = each.value.prefix_list_id
  referenced_security_group_id = each.value.security_group_id
  from_port                    = each.value.port
  to_port                      = each.value.port

  tags = var.tags
}

resource "aws_vpc_security_group_egress_rule" "targets" {
  security_group_id = aws_security_group.this.id
  description       = "Targets' host ports (traffic and health checks) inside the VPC"
  ip_protocol       = "tcp"
  cidr_ipv4         = data.aws_vpc.this.cidr_block
  from_port         = var.target_port_range.from_port
  to_port           = var.target_port_range.to_port

  tags = var.tags
}

################################################################################
# Target Group
################################################################################

locals {
  # The default group (target_group) plus the map's; listener rules and outputs see them all.
  target_group_settings = merge(
    var.create_target_group ? { (local.default_target_group_key) = var.target_group } : {},
    var.target_groups,
  )
  default_target_group_key = "default"
}

resource "aws_lb_target_group" "this" {
  count = var.create_target_group ? 1 : 0

  name        = local.target_group_name
  vpc_id      = var.vpc_id
  target_type = var.target_group.target_type
  # instance: ECS registers each bridge-mode task on its dynamic host port, so this port is the
  # default only; ip: each awsvpc task registers its own address on this port.
  port                          = var.target_group.port
  protocol                      = var.target_group.protocol
  deregistration_delay          = var.target_group.deregistration_delay
  slow_start                    = var.target_group.slow_start
  load_balancing_algorithm_type = var.target_group.load_balancing

  health_check {
    enabled             = true
    path                = var.target_group.health_check.path
    port                = "traffic-port"
    protocol            = var.target_group.protocol
    matcher             = var.target_group.health_check.matcher
    interval            = var.target_group.health_check.interval
    timeout             = var.target_group.health_check.timeout
    healthy_threshold   = var.target_group.health_check.healthy_threshold
    unhealthy_threshold = var.target_group.health_check.unhealthy_threshold
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

# The default group was a single resource before create_target_group existed.
moved {
  from = aws_lb_target_group.this
  to   = aws_lb_target_group.this[0]
}

resource "aws_lb_target_group" "service" {
  for_each = var.target_groups

  # The stem is cut so the 5-character suffix fits AWS's 32; the suffix hashes the key too, so
  # two keys cut to the same stem still get two names.
  name                          = format("%s-%s", trimsuffix(substr("${var.name}-${each.key}", 0, 26), "-"), substr(sha1(jsonencode([each.key, each.value.port, each.value.protocol])), 0, 4))
  vpc_id                        = var.vpc_id
  target_type                   = each.value.target_type
  port                          = each.value.port
  protocol                      = each.value.protocol
  deregistration_delay          = each.value.deregistration_delay
  slow_start                    = each.value.slow_start
  load_balancing_algorithm_type = each.value.load_balancing

  health_check {
    enabled             = true
    path                = each.value.health_check.path
    port                = "traffic-port"
    protocol            = each.value.protocol
    matcher             = each.value.health_check.matcher
    interval            = each.value.health_check.interval
    timeout             = each.value.health_check.timeout
    healthy_threshold   = each.value.health_check.healthy_threshold
    unhealthy_threshold = each.value.health_check.unhealthy_threshold
  }

  tags = merge(var.tags, { TargetGroupKey = each.key })

  lifecycle {
    create_before_destroy = true
  }
}

locals {
  target_group_arns = merge(
    { for k, tg in aws_lb_target_group.this : local.default_target_group_key => tg.arn },
    { for k, tg in aws_lb_target_group.service : k => tg.arn },
  )
}

################################################################################
# Listeners
################################################################################

locals {
  # A weighted forward names its groups in a forward block instead of target_group_arn.
  weighted_forward    = var.default_action.type == "forward" && length(var.default_action.weights) > 0
  default_forward_arn = var.default_action.type == "forward" && !local.weighted_forward ? lookup(local.target_group_arns, coalesce(var.default_action.target_group_key, local.default_target_group_key), null) : null
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  port              = var.http_port
  protocol          = "HTTP"

  default_action {
    type             = local.create_https_listener ? "redirect" : var.default_action.type
    target_group_arn = local.create_https_listener ? null : local.default_forward_arn

    dynamic "forward" {
      for_each = !local.create_https_listener && local.weighted_forward ? [var.default_action.weights] : []

      content {
        dynamic "target_group" {
          for_each = forward.value

          content {
            arn    = local.target_group_arns[target_group.key]
            weight = target_group.value
          }
        }
      }
    }

    dynamic "fixed_response" {
      for_each = !local.create_https_listener && var.default_action.type == "fixed-response" ? [var.default_action.fixed_response] : []

      content {
        status_code  = tostring(fixed_response.value.status_code)
        content_type = fixed_response.value.content_type
        message_body = fixed_response.value.message_body
      }
    }

    dynamic "redirect" {
      for_each = local.create_https_listener ? [var.https_port] : []

      content {
        port        = tostring(redirect.value)
        protocol    = "HTTPS"
        status_code = "HTTP_301"
      }
    }
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = !(var.create_https_listener == false && var.certificate_arn != null)
      error_message = "create_https_listener is false but certificate_arn is set, so the certificate would be ignored; drop certificate_arn, or leave create_https_listener null (or true)."
    }

    precondition {
      condition     = !local.weighted_forward || length(setsubtract(keys(var.default_action.weights), keys(local.target_group_settings))) == 0
      error_message = "default_action.weights names target groups ${jsonencode(setsubtract(keys(var.default_action.weights), keys(local.target_group_settings)))} that do not exist: use keys of target_groups (${jsonencode(keys(var.target_groups))}) or \"default\" for target_group."
    }

    precondition {
      condition     = local.weighted_forward || var.default_action.type != "forward" || contains(keys(local.target_group_settings), coalesce(var.default_action.target_group_key, local.default_target_group_key))
      error_message = "default_action forwards to target group \"${coalesce(var.default_action.target_group_key, local.default_target_group_key)}\", which does not exist (create_target_group = false leaves no \"default\"): set default_action.target_group_key to one of ${jsonencode(keys(var.target_groups))}, or default_action = { type = \"fixed-response\" } for a 404."
    }
  }
}

resource "aws_lb_listener" "https" {
  count = local.create_https_listener ? 1 : 0

  load_balancer_arn = aws_lb.this.arn
  port              = var.https_port
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = var.certificate_arn

  default_action {
    type             = var.default_action.type
    target_group_arn = local.default_forward_arn

    dynamic "forward" {
      for_each = local.weighted_forward ? [var.default_action.weights] : []

      content {
        dynamic "target_group" {
          for_each = forward.value

          content {
            arn    = local.target_group_arns[target_group.key]
            weight = target_group.value
          }
        }
      }
    }

    dynamic "fixed_response" {
      for_each = var.default_action.type == "fixed-response" ? [var.default_action.fixed_response] : []

      content {
        status_code  = tostring(fixed_response.value.status_code)
        content_type = fixed_response.value.content_type
        message_body = fixed_response.value.message_body
      }
    }
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.certificate_arn != null
      error_message = "create_https_listener is true but certificate_arn is null: pass the certificate's ARN (an aws_acm_certificate_validation's certificate_arn when the stack requests one), or set create_https_listener = false."
    }
  }
}

################################################################################
# Listener Rules
################################################################################

locals {
  # Rules go on the listener that serves: HTTPS when it exists (HTTP then only redirects).
  rule_listener_arn = local.create_https_listener ? one(aws_lb_listener.https[*].arn) : aws_lb_listener.http.arn
}

resource "aws_lb_listener_rule" "this" {
  for_each = var.listener_rules

  listener_arn = local.rule_listener_arn
  priority     = each.value.priority

  action {
    type             = "forward"
    target_group_arn = lookup(local.target_group_arns, each.value.target_group_key, null)
  }

  dynamic "condition" {
    for_each = length(each.value.host_headers) > 0 ? [each.value.host_headers] : []

    content {
      host_header {
        values = condition.value
      }
    }
  }

  dynamic "condition" {
    for_each = length(each.value.path_patterns) > 0 ? [each.value.path_patterns] : []

    content {
      path_pattern {
        values = condition.value
      }
    }
  }

  tags = merge(var.tags, { ListenerRuleKey = each.key })

  lifecycle {
    precondition {
      condition     = contains(keys(local.target_group_settings), each.value.target_group_key)
      error_message = "listener_rules[\"${each.key}\"].target_group_key \"${each.value.target_group_key}\" names no target group: use a key of target_groups (${jsonencode(keys(var.target_groups))}) or \"default\" for target_group."
    }
  }
}

################################################################################
# WAF
################################################################################

locals {
  create_web_acl = var.waf.enable && var.waf.web_acl_arn == null
  web_acl_arn    = var.waf.enable ? coalesce(var.waf.web_acl_arn, one(aws_wafv2_web_acl.this[*].arn)) : null
  # NOTE: the association reaches the ALB through this local, null when WAF is off: checkov keeps
  # count = 0 resources in its graph, and a direct reference would pass CKV2_AWS_28 with WAF off.
  waf_protected_alb_arn = var.waf.enable ? aws_lb.this.arn : null
}

resource "aws_wafv2_web_acl" "this" {
  #checkov:skip=CKV2_AWS_31: the module's ACL never has a logging configuration (its metrics and sampled requests are on); for full request logs add aws_wafv2_web_acl_logging_configuration on the web_acl_arn output.
  count = local.create_web_acl ? 1 : 0

  name        = var.name
  description = "Load balancer ${var.name}: blocks a client IP above ${var.waf.rate_limit} requests per 5 minutes."
  scope       = "REGIONAL"

  default_action {
    allow {}
  }

  rule {
    name     = "rate-limit-per-ip"
    priority = 1

    action {
      block {}
    }

    statement {
      rate_based_statement {
        limit              = var.waf.rate_limit
        aggregate_key_type = "IP"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-rate-limit-per-ip"
      sampled_requests_enabled   = true
    }
  }

  # Requests carrying known exploit patterns (Log4j JNDI lookups, ...): the group's own actions.
  rule {
    name     = "known-bad-inputs"
    priority = 2

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
        vendor_name = "AWS"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-known-bad-inputs"
      sampled_requests_enabled   = true
    }
  }

  # Anonymizers (Tor, VPN and proxy exits) are blocked; hosting providers are only counted, as
  # an API's legitimate clients often run in a cloud.
  rule {
    name     = "anonymous-ip"
    priority = 3

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesAnonymousIpList"
        vendor_name = "AWS"

        rule_action_override {
          name = "HostingProviderIPList"

          action_to_use {
            count {}
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-anonymous-ip"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = var.name
    sampled_requests_enabled   = true
  }

  tags = var.tags
}

resource "aws_wafv2_web_acl_association" "this" {
  count = var.waf.enable ? 1 : 0

  resource_arn = local.waf_protected_alb_arn
  web_acl_arn  = local.web_acl_arn
}
