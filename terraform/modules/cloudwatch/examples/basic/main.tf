# The service's log group, its alarms and a dashboard; alarms mail an address through an
# encrypted SNS topic when one is given.

# The cluster the alarms watch (Container Insights on, for the running-tasks alarm). The service
# need not exist yet: its alarms wait in INSUFFICIENT_DATA until it reports metrics.
resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

module "cloudwatch" {
  source = "../.."

  name          = "${var.name}-${var.service_name}"
  cluster_name  = aws_ecs_cluster.this.name
  service_name  = var.service_name
  load_balancer = var.load_balancer

  log_group = {
    retention_in_days = 30
  }

  alarm_thresholds = {
    p99_response_time_seconds = 0.5
  }

  sns_topic = {
    create        = var.alarm_email != null
    subscriptions = var.alarm_email == null ? {} : { oncall = { protocol = "email", endpoint = var.alarm_email } }
  }

  tags = { Example = "cloudwatch-basic" }
}
