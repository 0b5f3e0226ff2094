mock_provider "aws" {
  source = "../../testing/mocks"

  mock_resource "aws_lb" {
    override_during = plan
    defaults = {
      arn      = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/svc/0123456789abcdef"
      dns_name = "svc-123.elb.amazonaws.com"
    }
  }
}

variables {
  name                = "svc"
  vpc_id              = "vpc-0a1b2c3d"
  subnet_ids          = ["subnet-0a1b2c3d", "subnet-4e5f6a7b"]
  ingress_cidr_blocks = ["0.0.0.0/0"]
}

run "defaults_are_secure" {
  command = plan

  assert {
    condition     = aws_lb.this.drop_invalid_header_fields && aws_lb.this.enable_deletion_protection
    error_message = "The ALB must drop invalid headers and be protected from deletion by default."
  }

  assert {
    condition     = aws_lb.this.internal == false && aws_lb.this.idle_timeout == 60 && length(aws_lb.this.access_logs) == 0
    error_message = "Defaults: internet-facing, 60 s idle timeout, no access logs."
  }

  assert {
    condition     = length(aws_lb_listener.https) == 0 && aws_lb_listener.http.default_action[0].type == "forward"
    error_message = "Without a certificate there is no HTTPS listener and HTTP forwards to the target group."
  }

  assert {
    condition     = keys(aws_vpc_security_group_ingress_rule.listener) == ["http-0"] && aws_vpc_security_group_ingress_rule.listener["http-0"].cidr_ipv4 == "0.0.0.0/0" && aws_vpc_security_group_ingress_rule.listener["http-0"].from_port == 80
    error_message = "Without a certificate only the HTTP port is open."
  }

  assert {
    condition = (
      aws_vpc_security_group_egress_rule.targets.cidr_ipv4 == "10.20.0.0/16" &&
      aws_vpc_security_group_egress_rule.targets.from_port == 32768 &&
      aws_vpc_security_group_egress_rule.targets.to_port == 65535
    )
    error_message = "Egress must be limited to the VPC CIDR on the ephemeral host-port range."
  }

  assert {
    condition = (
      aws_lb_target_group.this[0].target_type == "instance" &&
      aws_lb_target_group.this[0].port == 8080 &&
      aws_lb_target_group.this[0].health_check[0].path == "/health" &&
      aws_lb_target_group.this[0].health_check[0].port == "traffic-port" &&
      aws_lb_target_group.this[0].health_check[0].matcher == "200" &&
      aws_lb_target_group.this[0].deregistration_delay == "30"
    )
    error_message = "Target group: instance targets, health check on /health at the traffic port, 30 s deregistration."
  }

  assert {
    condition     = length(aws_lb_target_group.this[0].name) <= 32 && startswith(aws_lb_target_group.this[0].name, "svc-")
    error_message = "The target group name must stay within AWS's 32 characters and start with the module name."
  }

  assert {
    condition     = output.https_listener_arn == null && output.url == "http://svc-123.elb.amazonaws.com"
    error_message = "Without a certificate there is no HTTPS listener ARN and the URL is plain HTTP."
  }
}

run "https_with_redirect_and_logs" {
  command = plan

  variables {
    name                       = "svc-internal-with-27-chars"
    internal                   = true
    certificate_arn            = "arn:aws:acm:eu-west-1:111122223333:certificate/abcd-1234"
    ingress_cidr_blocks        = ["10.0.0.0/8", "192.168.0.0/16"]
    enable_deletion_protection = false
    idle_timeout               = 30
    access_logs                = { bucket = "my-alb-logs", prefix = "svc" }
    target_group = {
      port                 = 9000
      deregistration_delay = 120
      slow_start           = 60
      health_check         = { path = "/ready", matcher = "200-299", interval = 10 }
    }
  }

  assert {
    condition = (
      aws_lb_listener.https[0].ssl_policy == "ELBSecurityPolicy-TLS13-1-2-2021-06" &&
      aws_lb_listener.https[0].certificate_arn == "arn:aws:acm:eu-west-1:111122223333:certificate/abcd-1234" &&
      aws_lb_listener.https[0].default_action[0].type == "forward"
    )
    error_message = "The HTTPS listener must use the certificate, the TLS 1.3 policy and forward to the target group."
  }

  assert {
    condition = (
      aws_lb_listener.http.default_action[0].type == "redirect" &&
      aws_lb_listener.http.default_action[0].redirect[0].protocol == "HTTPS" &&
      aws_lb_listener.http.default_action[0].redirect[0].port == "443" &&
      aws_lb_listener.http.default_action[0].redirect[0].status_code == "HTTP_301"
    )
    error_message = "With a certificate, HTTP must redirect permanently to HTTPS."
  }

  assert {
    condition     = output.url == "https://svc-123.elb.amazonaws.com"
    error_message = "With a certificate the service URL is HTTPS on the default port."
  }

  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.listener) == 4 && aws_vpc_security_group_ingress_rule.listener["https-1"].cidr_ipv4 == "192.168.0.0/16" && aws_vpc_security_group_ingress_rule.listener["https-1"].to_port == 443
    error_message = "Each CIDR must reach both the HTTP and the HTTPS port."
  }

  assert {
    condition = (
      aws_lb.this.internal && !aws_lb.this.enable_deletion_protection && aws_lb.this.idle_timeout == 30 &&
      aws_lb.this.access_logs[0].bucket == "my-alb-logs" && aws_lb.this.access_logs[0].enabled
    )
    error_message = "Non-default load balancer settings must be passed through."
  }

  assert {
    condition = (
      aws_lb_target_group.this[0].port == 9000 && aws_lb_target_group.this[0].slow_start == 60 &&
      aws_lb_target_group.this[0].health_check[0].path == "/ready" &&
      aws_lb_target_group.this[0].health_check[0].matcher == "200-299" &&
      aws_lb_target_group.this[0].health_check[0].healthy_threshold == 2 &&
      length(aws_lb_target_group.this[0].name) <= 32
    )
    error_message = "Target group overrides must apply and unset health-check fields keep their defaults."
  }
}

run "rejects_bad_inputs" {
  command = plan

  variables {
    name                = "-bad"
    subnet_ids          = ["subnet-0a1b2c3d"]
    ingress_cidr_blocks = ["not-a-cidr"]
    certificate_arn     = "my-cert"
    ssl_policy          = "ELBSecurityPolicy-2016-08"
    target_group        = { protocol = "TCP", health_check = { path = "health", interval = 5, timeout = 5 } }
  }

  expect_failures = [
    var.name,
    var.subnet_ids,
    var.ingress_cidr_blocks,
    var.certificate_arn,
    var.ssl_policy,
    var.target_group,
  ]
}

run "rejects_long_name_and_bad_access_logs" {
  command = plan

  variables {
    name        = "this-name-is-far-too-long-for-aws"
    vpc_id      = "my-vpc"
    access_logs = { bucket = "arn:aws:s3:::logs" }
  }

  expect_failures = [
    var.name,
    var.vpc_id,
    var.access_logs,
  ]
}

run "https_with_a_certificate_created_in_the_same_apply" {
  command = plan

  # The certificate's ARN is unknown at plan time; create_https_listener = true keeps the counts known.
  module {
    source = "./tests/same_apply_certificate"
  }

  # Without create_https_listener this plan fails: "Invalid count argument" on the HTTPS listener.
  assert {
    condition     = output.serves_https
    error_message = "create_https_listener = true must serve HTTPS although the certificate's ARN is unknown at plan time."
  }
}

run "create_https_listener_contradicting_certificate_arn" {
  command = plan

  variables {
    create_https_listener = true
  }

  expect_failures = [aws_lb_listener.https]
}

run "https_disabled_with_a_certificate_is_refused" {
  command = plan

  variables {
    create_https_listener = false
    certificate_arn       = "arn:aws:acm:eu-west-1:111122223333:certificate/abcd-1234"
  }

  expect_failures = [aws_lb_listener.http]
}

run "waf_off_by_default" {
  command = plan

  assert {
    condition     = length(aws_wafv2_web_acl.this) == 0 && length(aws_wafv2_web_acl_association.this) == 0 && output.web_acl_arn == null
    error_message = "Without waf.enable there is no web ACL, no association and no web_acl_arn."
  }
}

run "waf_creates_a_rate_limited_web_acl" {
  command = plan

  variables {
    waf = { enable = true, rate_limit = 500 }
  }

  assert {
    condition = (
      aws_wafv2_web_acl.this[0].scope == "REGIONAL" &&
      length(aws_wafv2_web_acl.this[0].default_action[0].allow) == 1 &&
      aws_wafv2_web_acl.this[0].visibility_config[0].cloudwatch_metrics_enabled
    )
    error_message = "The module's web ACL must be regional, allow by default and publish CloudWatch metrics."
  }

  assert {
    condition = (
      length({ for r in aws_wafv2_web_acl.this[0].rule : r.name => r }["rate-limit-per-ip"].action[0].block) == 1 &&
      { for r in aws_wafv2_web_acl.this[0].rule : r.name => r }["rate-limit-per-ip"].priority == 1 &&
      { for r in aws_wafv2_web_acl.this[0].rule : r.name => r }["rate-limit-per-ip"].statement[0].rate_based_statement[0].limit == 500 &&
      { for r in aws_wafv2_web_acl.this[0].rule : r.name => r }["rate-limit-per-ip"].statement[0].rate_based_statement[0].aggregate_key_type == "IP" &&
      { for r in aws_wafv2_web_acl.this[0].rule : r.name => r }["rate-limit-per-ip"].visibility_config[0].cloudwatch_metrics_enabled
    )
    error_message = "A rate-based rule, first, must block a client IP above waf.rate_limit requests per 5 minutes and publish its metric."
  }

  assert {
    condition     = toset([for r in aws_wafv2_web_acl.this[0].rule : r.statement[0].managed_rule_group_statement[0].name if length(r.statement[0].managed_rule_group_statement) > 0]) == toset(["AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesAnonymousIpList"])
    error_message = "The web ACL must apply the known-bad-inputs and anonymous-IP managed rule groups."
  }

  assert {
    condition     = aws_wafv2_web_acl_association.this[0].resource_arn == "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/svc/0123456789abcdef"
    error_message = "The web ACL must be associated with the load balancer."
  }
}

run "waf_associates_an_existing_web_acl" {
  command = plan

  variables {
    waf = { enable = true, web_acl_arn = "arn:aws:wafv2:eu-west-1:111122223333:regional/webacl/shared/0000-1111" }
  }

  assert {
    condition = (
      length(aws_wafv2_web_acl.this) == 0 &&
      aws_wafv2_web_acl_association.this[0].web_acl_arn == "arn:aws:wafv2:eu-west-1:111122223333:regional/webacl/shared/0000-1111" &&
      output.web_acl_arn == "arn:aws:wafv2:eu-west-1:111122223333:regional/webacl/shared/0000-1111"
    )
    error_message = "A given web_acl_arn is associated as is, and the module creates no ACL of its own."
  }
}

run "rejects_bad_waf" {
  command = plan

  variables {
    waf = { enable = false, web_acl_arn = "arn:aws:wafv2:eu-west-1:111122223333:global/webacl/x/1", rate_limit = 5 }
  }

  expect_failures = [var.waf]
}

run "defaults_add_no_other_ingress" {
  command = plan

  assert {
    condition     = aws_lb.this.ip_address_type == "ipv4" && length(aws_vpc_security_group_ingress_rule.listener_other) == 0
    error_message = "By default the ALB is IPv4 only and admits only ingress_cidr_blocks, as before."
  }
}

run "dualstack_prefix_list_and_security_group_ingress" {
  command = plan

  variables {
    ip_address_type            = "dualstack"
    certificate_arn            = "arn:aws:acm:eu-west-1:111122223333:certificate/abcd-1234"
    ssl_policy                 = "ELBSecurityPolicy-TLS-1-2-Ext-2018-06"
    ingress_cidr_blocks        = []
    ingress_ipv6_cidr_blocks   = ["::/0"]
    ingress_prefix_list_ids    = ["pl-0123abcd"]
    ingress_security_group_ids = ["sg-0a1b2c3d4e"]
  }

  assert {
    condition     = aws_lb.this.ip_address_type == "dualstack" && aws_lb_listener.https[0].ssl_policy == "ELBSecurityPolicy-TLS-1-2-Ext-2018-06"
    error_message = "A dualstack ALB must be asked for, and a TLS-1.2-only policy accepted."
  }
  assert {
    condition = (
      length(aws_vpc_security_group_ingress_rule.listener) == 0 &&
      aws_vpc_security_group_ingress_rule.listener_other["http-ipv6-0"].cidr_ipv6 == "::/0" &&
      aws_vpc_security_group_ingress_rule.listener_other["https-ipv6-0"].from_port == 443 &&
      aws_vpc_security_group_ingress_rule.listener_other["http-pl-0"].prefix_list_id == "pl-0123abcd" &&
      aws_vpc_security_group_ingress_rule.listener_other["https-sg-0"].referenced_security_group_id == "sg-0a1b2c3d4e" &&
      length(aws_vpc_security_group_ingress_rule.listener_other) == 6
    )
    error_message = "Each listener port must admit each IPv6 CIDR, prefix list and security group."
  }
}

run "ipv6_ingress_needs_dualstack" {
  command = plan

  variables {
    ingress_ipv6_cidr_blocks = ["::/0"]
  }

  expect_failures = [aws_lb.this]
}

run "no_ingress_at_all_is_refused" {
  command = plan

  variables {
    ingress_cidr_blocks = []
  }

  expect_failures = [aws_security_group.this]
}

run "rejects_bad_ingress_sources_and_tls_1_0_policies" {
  command = plan

  variables {
    ip_address_type            = "ipv6"
    ingress_ipv6_cidr_blocks   = ["10.0.0.0/8"]
    ingress_prefix_list_ids    = ["com.amazonaws.global.cloudfront.origin-facing"]
    ingress_security_group_ids = ["my-group"]
    ssl_policy                 = "ELBSecurityPolicy-TLS13-1-0-2021-06"
  }

  expect_failures = [
    var.ip_address_type,
    var.ingress_ipv6_cidr_blocks,
    var.ingress_prefix_list_ids,
    var.ingress_security_group_ids,
    var.ssl_policy,
  ]
}

run "an_existing_caller_keeps_its_default_group_and_forward" {
  command = plan

  assert {
    condition = (
      length(aws_lb_target_group.this) == 1 && length(aws_lb_target_group.service) == 0 &&
      length(aws_lb_listener_rule.this) == 0 && keys(output.target_groups) == ["default"] &&
      aws_lb_listener.http.default_action[0].type == "forward" && length(aws_lb_listener.http.default_action[0].fixed_response) == 0
    )
    error_message = "Without the new inputs the module keeps one default target group, forwards to it and adds no rule."
  }
}

# Each target group and the HTTPS listener get an ARN of their own, so the rules' targets can be
# told apart (at plan they are unknown).
run "two_models_by_host_and_path_with_a_fixed_404" {
  command = plan

  override_resource {
    target          = aws_lb_target_group.service["houses"]
    override_during = plan
    values          = { arn = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/svc-houses-1a2b/0000000000000001" }
  }

  override_resource {
    target          = aws_lb_target_group.service["a-model-with-a-long-name-here"]
    override_during = plan
    values          = { arn = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/svc-a-model-3c4d/0000000000000002" }
  }

  override_resource {
    target          = aws_lb_listener.https[0]
    override_during = plan
    values          = { arn = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/app/svc/0123456789abcdef/0000000000000003" }
  }

  override_resource {
    target          = aws_lb_listener_rule.this["houses-path"]
    override_during = plan
    values          = { arn = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener-rule/app/svc/0123456789abcdef/0000000000000003/0000000000000004" }
  }

  variables {
    certificate_arn     = "arn:aws:acm:eu-west-1:111122223333:certificate/abcd-1234"
    create_target_group = false
    target_groups = {
      houses                        = { health_check = { path = "/health" } }
      a-model-with-a-long-name-here = { port = 9000 }
    }
    default_action = { type = "fixed-response" }
    listener_rules = {
      houses-host = { priority = 10, target_group_key = "houses", host_headers = ["houses.example.com"] }
      houses-path = { priority = 20, target_group_key = "houses", path_patterns = ["/models/houses/*"] }
      other-path  = { priority = 30, target_group_key = "a-model-with-a-long-name-here", host_headers = ["api.example.com"], path_patterns = ["/models/other/*"] }
    }
  }

  assert {
    condition = (
      length(aws_lb_target_group.this) == 0 && output.target_group_arn == null &&
      alltrue([for tg in aws_lb_target_group.service : length(tg.name) <= 32]) &&
      aws_lb_target_group.service["a-model-with-a-long-name-here"].port == 9000
    )
    error_message = "create_target_group = false leaves only the map's groups, each named within 32 characters."
  }

  assert {
    condition = (
      aws_lb_listener.https[0].default_action[0].type == "fixed-response" &&
      aws_lb_listener.https[0].default_action[0].fixed_response[0].status_code == "404" &&
      aws_lb_listener.https[0].default_action[0].target_group_arn == null &&
      aws_lb_listener.http.default_action[0].type == "redirect"
    )
    error_message = "A fixed-response default answers 404 on HTTPS (HTTP still redirects): no model is the default."
  }

  assert {
    condition = (
      aws_lb_listener_rule.this["houses-host"].listener_arn == aws_lb_listener.https[0].arn &&
      aws_lb_listener_rule.this["houses-host"].priority == 10 &&
      aws_lb_listener_rule.this["houses-host"].action[0].target_group_arn == aws_lb_target_group.service["houses"].arn &&
      flatten([for c in aws_lb_listener_rule.this["houses-host"].condition : [for h in c.host_header : h.values]]) == ["houses.example.com"] &&
      flatten([for c in aws_lb_listener_rule.this["houses-path"].condition : [for p in c.path_pattern : p.values]]) == ["/models/houses/*"] &&
      aws_lb_listener_rule.this["other-path"].action[0].target_group_arn == aws_lb_target_group.service["a-model-with-a-long-name-here"].arn &&
      length(aws_lb_listener_rule.this["other-path"].condition) == 2
    )
    error_message = "Rules sit on the HTTPS listener with their priority, conditions and own target group."
  }

  assert {
    condition     = output.target_groups["houses"].arn == aws_lb_target_group.service["houses"].arn && output.listener_rules["houses-path"] == aws_lb_listener_rule.this["houses-path"].arn
    error_message = "The outputs give each target group's and rule's ARN by key."
  }
}

run "http_only_rules_go_on_the_http_listener_and_may_forward_to_default" {
  command = plan

  variables {
    target_groups  = { b = {} }
    default_action = { target_group_key = "b" }
    listener_rules = { a = { priority = 1, target_group_key = "default", path_patterns = ["/a/*"] } }
  }

  assert {
    condition     = length(aws_lb_target_group.this) == 1 && length(aws_lb_listener_rule.this) == 1 && length(aws_lb_listener.https) == 0
    error_message = "Without HTTPS the rules go on the HTTP listener, and \"default\" names target_group."
  }
}

run "rejects_bad_rules_and_groups" {
  command = plan

  variables {
    target_groups = { default = {}, "bad_key" = { port = 0 } }
    listener_rules = {
      a = { priority = 5, target_group_key = "default" }
      b = { priority = 5, target_group_key = "default", path_patterns = ["models/*"] }
      c = { priority = 0, target_group_key = "default", host_headers = ["1", "2", "3"], path_patterns = ["/1", "/2", "/3"] }
    }
    default_action = { type = "redirect", fixed_response = { status_code = 700, content_type = "image/png" } }
  }

  expect_failures = [var.target_groups, var.listener_rules, var.default_action]
}

run "a_rule_to_a_missing_group_names_the_keys" {
  command = plan

  variables {
    listener_rules = { a = { priority = 5, target_group_key = "nope", path_patterns = ["/a/*"] } }
  }

  expect_failures = [aws_lb_listener_rule.this]
}

run "forwarding_to_a_missing_default_group_is_refused" {
  command = plan

  variables {
    create_target_group = false
    target_groups       = { b = {} }
  }

  expect_failures = [aws_lb_listener.http]
}

run "weights_split_the_default_forward_between_groups" {
  command = plan

  override_resource {
    target          = aws_lb_target_group.this[0]
    override_during = plan
    values          = { arn = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/svc/0000000000000001" }
  }

  override_resource {
    target          = aws_lb_target_group.service["canary"]
    override_during = plan
    values          = { arn = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/svc-canary/0000000000000002" }
  }

  variables {
    target_groups  = { canary = {} }
    default_action = { weights = { default = 90, canary = 10 } }
  }

  assert {
    condition = (
      aws_lb_listener.http.default_action[0].type == "forward" &&
      aws_lb_listener.http.default_action[0].target_group_arn == null &&
      { for tg in aws_lb_listener.http.default_action[0].forward[0].target_group : tg.arn => tg.weight } == {
        "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/svc/0000000000000001"        = 90
        "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/svc-canary/0000000000000002" = 10
      }
    )
    error_message = "Weights forward to both groups in those shares (a canary at 10%)."
  }
}

run "weights_to_a_missing_group_or_all_zero_are_refused" {
  command = plan

  variables {
    default_action = { weights = { default = 0, nope = 0 } }
  }

  expect_failures = [var.default_action]
}

run "weights_to_a_missing_group_name_it" {
  command = plan

  variables {
    default_action = { weights = { default = 90, nope = 10 } }
  }

  expect_failures = [aws_lb_listener.http]
}

run "awsvpc_tasks_get_ip_targets" {
  command = plan

  variables {
    target_group  = { target_type = "ip", port = 8080 }
    target_groups = { b = { target_type = "ip", port = 9090 }, c = {} }
  }

  assert {
    condition = (
      aws_lb_target_group.this[0].target_type == "ip" && aws_lb_target_group.this[0].port == 8080 &&
      aws_lb_target_group.service["b"].target_type == "ip" && aws_lb_target_group.service["c"].target_type == "instance"
    )
    error_message = "target_type \"ip\" reaches each group that asks for it; the others keep \"instance\"."
  }
}

run "rejects_a_target_type_ecs_cannot_register" {
  command = plan

  variables {
    target_group = { target_type = "lambda" }
  }

  expect_failures = [var.target_group]
}

run "rejects_a_target_type_ecs_cannot_register_in_target_groups" {
  command = plan

  variables {
    target_groups = { b = { target_type = "alb" } }
  }

  expect_failures = [var.target_groups]
}
