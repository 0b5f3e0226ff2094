output "arn" {
  description = "ARN of the load balancer."
  value       = aws_lb.this.arn
}

output "arn_suffix" {
  description = "ARN suffix of the load balancer (app/NAME/ID), the LoadBalancer dimension of its CloudWatch metrics."
  value       = aws_lb.this.arn_suffix
}

output "dns_name" {
  description = "DNS name of the load balancer."
  value       = aws_lb.this.dns_name
}

output "zone_id" {
  description = "Route 53 hosted zone ID of the load balancer, for alias records."
  value       = aws_lb.this.zone_id
}

output "url" {
  description = "Base URL of the service: https:// on the HTTPS listener when HTTPS is enabled, http:// otherwise."
  value = (local.create_https_listener
    ? "https://${aws_lb.this.dns_name}${var.https_port == 443 ? "" : ":${var.https_port}"}"
    : "http://${aws_lb.this.dns_name}${var.http_port == 80 ? "" : ":${var.http_port}"}"
  )
}

output "security_group_id" {
  description = "ID of the load balancer's security group; admit it on the instances' host-port range."
  value       = aws_security_group.this.id
}

output "target_group_arn" {
  description = "ARN of the default target group (target_group) the ECS service registers its tasks in; null with create_target_group = false."
  value       = one(aws_lb_target_group.this[*].arn)
}

output "target_group_arn_suffix" {
  description = "ARN suffix of the target group (targetgroup/NAME/ID), the TargetGroup metric dimension."
  value       = one(aws_lb_target_group.this[*].arn_suffix)
}

output "target_group_name" {
  description = "Name of the target group."
  value       = one(aws_lb_target_group.this[*].name)
}

output "http_listener_arn" {
  description = "ARN of the HTTP listener."
  value       = aws_lb_listener.http.arn
}

output "https_listener_arn" {
  description = "ARN of the HTTPS listener, or null when HTTPS is disabled."
  value       = one(aws_lb_listener.https[*].arn)
}

output "web_acl_arn" {
  description = "ARN of the WAFv2 web ACL associated with the load balancer (the module's or the given one), or null without WAF."
  value       = try(local.web_acl_arn, null)
}

output "target_groups" {
  description = "Every target group by key (\"default\" for target_group, then the keys of target_groups): arn, arn_suffix (the TargetGroup metric dimension) and name. Each model's ECS service takes its arn."
  value = merge(
    { for tg in aws_lb_target_group.this : "default" => { arn = tg.arn, arn_suffix = tg.arn_suffix, name = tg.name } },
    { for k, tg in aws_lb_target_group.service : k => { arn = tg.arn, arn_suffix = tg.arn_suffix, name = tg.name } },
  )
}

output "listener_rules" {
  description = "ARN of each listener rule, by key of listener_rules."
  value       = { for k, r in aws_lb_listener_rule.this : k => r.arn }
}
