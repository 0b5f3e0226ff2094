locals {
  target_tracking = {
    for key, policy in {
      cpu = merge(var.cpu_policy, {
        metric         = "ECSServiceAverageCPUUtilization"
        resource_label = null
      })
      memory = merge(var.memory_policy, {
        metric         = "ECSServiceAverageMemoryUtilization"
        resource_label = null
      })
      requests = merge(var.request_count_policy, {
        metric = "ALBRequestCountPerTarget"
        # The metric is per target group of one load balancer: "app/<alb>/<id>/targetgroup/<tg>/<id>".
        resource_label = (!var.request_count_policy.create ? null
          : var.request_count_policy.resource_label != null ? var.request_count_policy.resource_label
          : "${var.request_count_policy.alb_arn_suffix}/${var.request_count_policy.target_group_arn_suffix}"
        )
      })
    } : key => policy if policy.create
  }
}

################################################################################
# Scalable Target
################################################################################

resource "aws_appautoscaling_target" "this" {
  service_namespace  = "ecs"
  resource_id        = "service/${var.cluster_name}/${var.service_name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.min_capacity
  max_capacity       = var.max_capacity

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.min_capacity <= var.max_capacity
      error_message = "min_capacity (${var.min_capacity}) exceeds max_capacity (${var.max_capacity}); raise max_capacity or lower min_capacity."
    }
  }
}

################################################################################
# Target Tracking Policies
################################################################################

resource "aws_appautoscaling_policy" "target_tracking" {
  for_each = local.target_tracking

  name               = "${var.name}-${each.key}"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  resource_id        = aws_appautoscaling_target.this.resource_id
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = each.value.target_value
    scale_in_cooldown  = each.value.scale_in_cooldown
    scale_out_cooldown = each.value.scale_out_cooldown
    disable_scale_in   = each.value.disable_scale_in

    predefined_metric_specification {
      predefined_metric_type = each.value.metric
      resource_label         = each.value.resource_label
    }
  }
}

################################################################################
# Scheduled Actions
################################################################################

resource "aws_appautoscaling_scheduled_action" "this" {
  for_each = var.scheduled_actions

  name               = "${var.name}-${each.key}"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  resource_id        = aws_appautoscaling_target.this.resource_id
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension
  schedule           = each.value.schedule
  timezone           = each.value.timezone
  start_time         = each.value.start_time
  end_time           = each.value.end_time

  scalable_target_action {
    min_capacity = each.value.min_capacity
    max_capacity = each.value.max_capacity
  }
}
