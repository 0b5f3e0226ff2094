locals {
  log_group_name = coalesce(var.log_group.name, "/ecs/${var.name}")

  create_kms_key = var.sns_topic.create && var.sns_topic.kms_key_arn == null
  alarm_actions  = concat(aws_sns_topic.alarms[*].arn, var.alarm_topic_arns)

  service_dimensions = {
    ClusterName = var.cluster_name
    ServiceName = var.service_name
  }
  alb_dimensions = var.load_balancer == null ? {} : {
    LoadBalancer = var.load_balancer.arn_suffix
  }
  target_group_dimensions = var.load_balancer == null ? {} : {
    LoadBalancer = var.load_balancer.arn_suffix
    TargetGroup  = var.load_balancer.target_group_arn_suffix
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

################################################################################
# Log Group
################################################################################

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338: retention is an input; 90 days by default keeps request logs affordable, raise it where compliance asks for a year.
  name              = local.log_group_name
  retention_in_days = var.log_group.retention_in_days
  kms_key_id        = var.log_group.kms_key_arn

  tags = var.tags
}

################################################################################
# Metric Alarms
################################################################################

# var.alarms overrides, per alarm, the module-wide switch, threshold and evaluation.
locals {
  alarm_settings = {
    for key, threshold in {
      cpu-high            = var.alarm_thresholds.cpu_utilization_percent
      memory-high         = var.alarm_thresholds.memory_utilization_percent
      alb-5xx             = var.alarm_thresholds.alb_5xx_count
      target-5xx          = var.alarm_thresholds.target_5xx_count
      unhealthy-hosts     = var.alarm_thresholds.unhealthy_hosts
      p99-latency         = var.alarm_thresholds.p99_response_time_seconds
      tasks-below-desired = var.alarm_thresholds.tasks_below_desired
      } : key => {
      enable              = try(var.alarms[key].enable, true)
      threshold           = coalesce(try(var.alarms[key].threshold, null), threshold)
      evaluation_periods  = coalesce(try(var.alarms[key].evaluation_periods, null), var.alarm_evaluation.evaluation_periods)
      datapoints_to_alarm = coalesce(try(var.alarms[key].datapoints_to_alarm, null), var.alarm_evaluation.datapoints_to_alarm)
    }
  }
}

locals {
  # Every alarm on a single metric; "missing" says what no data means for that metric.
  metric_alarms = merge(
    {
      cpu-high = {
        description = "Average CPU of ${var.service_name} above ${local.alarm_settings["cpu-high"].threshold}%: check the scaling limits (max_capacity) and the task's CPU reservation."
        namespace   = "AWS/ECS"
        metric      = "CPUUtilization"
        dimensions  = local.service_dimensions
        statistic   = "Average"
        percentile  = null
        comparison  = "GreaterThanThreshold"
        threshold   = local.alarm_settings["cpu-high"].threshold
        missing     = "missing"
      }
      memory-high = {
        description = "Average memory of ${var.service_name} above ${local.alarm_settings["memory-high"].threshold}%: tasks near their limit are OOM-killed; raise the task memory or scale out."
        namespace   = "AWS/ECS"
        metric      = "MemoryUtilization"
        dimensions  = local.service_dimensions
        statistic   = "Average"
        percentile  = null
        comparison  = "GreaterThanThreshold"
        threshold   = local.alarm_settings["memory-high"].threshold
        missing     = "missing"
      }
    },
    var.load_balancer == null ? {} : {
      alb-5xx = {
        description = "The load balancer itself answered 5xx (no healthy target, target timeouts or resets): check target health and the deployment."
        namespace   = "AWS/ApplicationELB"
        metric      = "HTTPCode_ELB_5XX_Count"
        dimensions  = local.alb_dimensions
        statistic   = "Sum"
        percentile  = null
        comparison  = "GreaterThanOrEqualToThreshold"
        threshold   = local.alarm_settings["alb-5xx"].threshold
        missing     = "notBreaching" # no requests, no errors
      }
      target-5xx = {
        description = "${var.service_name} answered 5xx: read its log group for the failing requests."
        namespace   = "AWS/ApplicationELB"
        metric      = "HTTPCode_Target_5XX_Count"
        dimensions  = local.target_group_dimensions
        statistic   = "Sum"
        percentile  = null
        comparison  = "GreaterThanOrEqualToThreshold"
        threshold   = local.alarm_settings["target-5xx"].threshold
        missing     = "notBreaching"
      }
      unhealthy-hosts = {
        description = "Targets of ${var.service_name} fail the /health check: look at the stopped tasks' reasons and the container logs."
        namespace   = "AWS/ApplicationELB"
        metric      = "UnHealthyHostCount"
        dimensions  = local.target_group_dimensions
        statistic   = "Maximum"
        percentile  = null
        comparison  = "GreaterThanOrEqualToThreshold"
        threshold   = local.alarm_settings["unhealthy-hosts"].threshold
        missing     = "missing"
      }
      p99-latency = {
        description = "p99 response time of ${var.service_name} above ${local.alarm_settings["p99-latency"].threshold} s: the service is saturated or a dependency is slow."
        namespace   = "AWS/ApplicationELB"
        metric      = "TargetResponseTime"
        dimensions  = local.target_group_dimensions
        statistic   = null
        percentile  = "p99"
        comparison  = "GreaterThanThreshold"
        threshold   = local.alarm_settings["p99-latency"].threshold
        missing     = "notBreaching"
      }
    },
  )
}

resource "aws_cloudwatch_metric_alarm" "metric" {
  for_each = var.create_alarms ? { for key, alarm in local.metric_alarms : key => alarm if local.alarm_settings[key].enable } : {}

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  extended_statistic  = each.value.percentile
  comparison_operator = each.value.comparison
  threshold           = each.value.threshold
  treat_missing_data  = each.value.missing
  period              = var.alarm_evaluation.period
  evaluation_periods  = local.alarm_settings[each.key].evaluation_periods
  datapoints_to_alarm = local.alarm_settings[each.key].datapoints_to_alarm

  actions_enabled = true
  alarm_actions   = local.alarm_actions
  ok_actions      = var.enable_ok_actions ? local.alarm_actions : []

  tags = var.tags
}

# Container Insights publishes both counts; their difference is the number of tasks missing.
resource "aws_cloudwatch_metric_alarm" "tasks_below_desired" {
  count = var.create_alarms && local.alarm_settings["tasks-below-desired"].enable ? 1 : 0

  alarm_name          = "${var.name}-tasks-below-desired"
  alarm_description   = "${var.service_name} runs fewer tasks than desired: look at the service events (placement, failing health checks, image pull). Needs Container Insights on the cluster."
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = local.alarm_settings["tasks-below-desired"].threshold
  evaluation_periods  = local.alarm_settings["tasks-below-desired"].evaluation_periods
  datapoints_to_alarm = local.alarm_settings["tasks-below-desired"].datapoints_to_alarm
  # Container Insights reports every minute; silence means the service or its metrics are gone.
  treat_missing_data = "breaching"

  metric_query {
    id          = "missing"
    expression  = "desired - running"
    label       = "Tasks below desired"
    return_data = true
  }

  metric_query {
    id = "desired"

    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "DesiredTaskCount"
      dimensions  = local.service_dimensions
      stat        = "Average"
      period      = var.alarm_evaluation.period
    }
  }

  metric_query {
    id = "running"

    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "RunningTaskCount"
      dimensions  = local.service_dimensions
      stat        = "Average"
      period      = var.alarm_evaluation.period
    }
  }

  actions_enabled = true
  alarm_actions   = local.alarm_actions
  ok_actions      = var.enable_ok_actions ? local.alarm_actions : []

  tags = var.tags
}

# The service writes MaxFeaturePSI (the largest population stability index of its features
# against the training reference, over a sliding window) as an EMF log line; CloudWatch Logs
# extracts it with no agent. No dimension: the alarm holds across model versions.
resource "aws_cloudwatch_metric_alarm" "drift" {
  count = var.create_alarms && var.drift_alarm.enable ? 1 : 0

  alarm_name          = "${var.name}-drift"
  alarm_description   = "A feature of ${var.service_name}'s requests drifted from the training data (PSI above ${var.drift_alarm.threshold}): run mlinfra monitor to see which, then retrain or check the caller."
  namespace           = var.drift_alarm.namespace
  metric_name         = "MaxFeaturePSI"
  statistic           = "Maximum"
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.drift_alarm.threshold
  period              = var.alarm_evaluation.period
  evaluation_periods  = var.drift_alarm.evaluation_periods
  datapoints_to_alarm = var.drift_alarm.evaluation_periods
  # The service writes nothing while it serves nothing: no traffic is no drift.
  treat_missing_data = "notBreaching"

  actions_enabled = true
  alarm_actions   = local.alarm_actions
  ok_actions      = var.enable_ok_actions ? local.alarm_actions : []

  tags = var.tags
}

################################################################################
# Alarm Notifications
################################################################################

resource "aws_sns_topic" "alarms" {
  count = var.sns_topic.create ? 1 : 0

  name              = "${var.name}-alarms"
  kms_master_key_id = coalesce(var.sns_topic.kms_key_arn, one(aws_kms_key.sns[*].arn))

  tags = var.tags
}

resource "aws_sns_topic_subscription" "alarms" {
  # An e-mail address is its own key; each address confirms its subscription from the mail AWS sends.
  for_each = var.sns_topic.create ? merge(
    { for address in var.sns_topic.email_addresses : address => { protocol = "email", endpoint = address } },
    var.sns_topic.subscriptions,
  ) : {}

  topic_arn = aws_sns_topic.alarms[0].arn
  protocol  = each.value.protocol
  endpoint  = each.value.endpoint
}

# The AWS managed SNS key does not admit CloudWatch, whose alarms must encrypt what they publish.
resource "aws_kms_key" "sns" {
  count = local.create_kms_key ? 1 : 0

  description         = "Encrypts the ${var.name}-alarms SNS topic; usable by CloudWatch alarms."
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchAlarmsPublish"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
      },
    ]
  })

  tags = var.tags
}

resource "aws_kms_alias" "sns" {
  count = local.create_kms_key ? 1 : 0

  name          = "alias/${var.name}-alarms"
  target_key_id = aws_kms_key.sns[0].key_id
}

################################################################################
# Dashboard
################################################################################

locals {
  region = data.aws_region.current.name

  lb             = coalesce(var.load_balancer, { arn_suffix = "", target_group_arn_suffix = "" })
  service_metric = ["ClusterName", var.cluster_name, "ServiceName", var.service_name]
  alb_metric     = ["LoadBalancer", local.lb.arn_suffix]
  tg_metric      = concat(local.alb_metric, ["TargetGroup", local.lb.target_group_arn_suffix])

  alb_widgets = [for w in [
    {
      title   = "Requests and 5xx"
      stat    = "Sum"
      metrics = [for m in ["RequestCount", "HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count"] : concat(["AWS/ApplicationELB", m], m == "HTTPCode_ELB_5XX_Count" ? local.alb_metric : local.tg_metric)]
    },
    {
      title   = "Target response time (s)"
      stat    = "p99"
      metrics = [for p in ["p50", "p90", "p99"] : concat(["AWS/ApplicationELB", "TargetResponseTime"], local.tg_metric, [{ stat = p, label = p }])]
    },
    {
      title   = "Healthy and unhealthy targets"
      stat    = "Maximum"
      metrics = [for m in ["HealthyHostCount", "UnHealthyHostCount"] : concat(["AWS/ApplicationELB", m], local.tg_metric)]
    },
  ] : w if var.load_balancer != null]

  service_widgets = [
    {
      title   = "Service CPU and memory (%)"
      stat    = "Average"
      metrics = [for m in ["CPUUtilization", "MemoryUtilization"] : concat(["AWS/ECS", m], local.service_metric)]
    },
    {
      title   = "Tasks: running vs desired"
      stat    = "Average"
      metrics = [for m in ["RunningTaskCount", "DesiredTaskCount", "PendingTaskCount"] : concat(["ECS/ContainerInsights", m], local.service_metric)]
    },
  ]

  # On top, the state of every alarm at a glance.
  alarm_widgets = [for w in [{
    type   = "alarm"
    x      = 0
    y      = 0
    width  = 24
    height = 3
    properties = {
      title  = "Alarms"
      alarms = concat(values(aws_cloudwatch_metric_alarm.metric)[*].arn, aws_cloudwatch_metric_alarm.tasks_below_desired[*].arn, aws_cloudwatch_metric_alarm.drift[*].arn)
    }
  }] : w if var.create_alarms]
  top = var.create_alarms ? 3 : 0

  metric_widgets = [
    for i, w in concat(local.alb_widgets, local.service_widgets) : {
      type   = "metric"
      x      = (i % 2) * 12
      y      = local.top + floor(i / 2) * 6
      width  = 12
      height = 6
      properties = {
        title   = w.title
        region  = local.region
        stat    = w.stat
        period  = var.alarm_evaluation.period
        view    = "timeSeries"
        metrics = w.metrics
      }
    }
  ]

  # Below the metrics: the service's newest log lines.
  logs_widget = {
    type   = "log"
    x      = 0
    y      = local.top + ceil(length(local.metric_widgets) / 2) * 6
    width  = 24
    height = 6
    properties = {
      title  = "Newest log lines"
      region = local.region
      query  = "SOURCE '${local.log_group_name}' | fields @timestamp, @message | sort @timestamp desc | limit 50"
      view   = "table"
    }
  }
}

resource "aws_cloudwatch_dashboard" "this" {
  count = var.create_dashboard ? 1 : 0

  dashboard_name = var.name
  dashboard_body = jsonencode({ widgets = concat(local.alarm_widgets, local.metric_widgets, [local.logs_widget]) })
}
