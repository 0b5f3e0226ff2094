mock_provider "aws" {}

variables {
  name         = "svc"
  cluster_name = "mlinfra-prod"
  service_name = "predictor"
}

run "defaults_follow_the_guide" {
  command = plan

  assert {
    condition = (
      aws_appautoscaling_target.this.resource_id == "service/mlinfra-prod/predictor" &&
      aws_appautoscaling_target.this.scalable_dimension == "ecs:service:DesiredCount" &&
      aws_appautoscaling_target.this.min_capacity == 2 &&
      aws_appautoscaling_target.this.max_capacity == 10
    )
    error_message = "The target must scale the service's desired count between 2 and 10."
  }

  assert {
    condition     = keys(aws_appautoscaling_policy.target_tracking) == ["cpu", "memory"]
    error_message = "CPU and memory tracking are on by default; request count is off until given the ALB's suffixes."
  }

  assert {
    condition = (
      aws_appautoscaling_policy.target_tracking["cpu"].target_tracking_scaling_policy_configuration[0].target_value == 70 &&
      aws_appautoscaling_policy.target_tracking["cpu"].target_tracking_scaling_policy_configuration[0].predefined_metric_specification[0].predefined_metric_type == "ECSServiceAverageCPUUtilization" &&
      aws_appautoscaling_policy.target_tracking["cpu"].target_tracking_scaling_policy_configuration[0].scale_in_cooldown == 300 &&
      aws_appautoscaling_policy.target_tracking["cpu"].target_tracking_scaling_policy_configuration[0].scale_out_cooldown == 60 &&
      aws_appautoscaling_policy.target_tracking["cpu"].policy_type == "TargetTrackingScaling" &&
      aws_appautoscaling_policy.target_tracking["cpu"].name == "svc-cpu"
    )
    error_message = "CPU tracking must target 70% with a slow scale-in and a fast scale-out."
  }

  assert {
    condition     = aws_appautoscaling_policy.target_tracking["memory"].target_tracking_scaling_policy_configuration[0].predefined_metric_specification[0].predefined_metric_type == "ECSServiceAverageMemoryUtilization"
    error_message = "Memory tracking must use the service's average memory utilization."
  }

  assert {
    condition     = length(aws_appautoscaling_scheduled_action.this) == 0
    error_message = "No scheduled actions by default."
  }
}

run "request_count_and_schedules" {
  command = plan

  variables {
    min_capacity  = 1
    max_capacity  = 4
    cpu_policy    = { enabled = false }
    memory_policy = { target_value = 75, disable_scale_in = true }
    request_count_policy = {
      enabled                 = true
      target_value            = 500
      alb_arn_suffix          = "app/mlinfra-prod/50dc6c495c0c9188"
      target_group_arn_suffix = "targetgroup/mlinfra-prod-1a2b/943f017f100becff"
      scale_in_cooldown       = 600
    }
    scheduled_actions = {
      business-hours = { schedule = "cron(0 8 ? * MON-FRI *)", timezone = "Europe/Paris", min_capacity = 3 }
      night          = { schedule = "cron(0 20 ? * MON-FRI *)", min_capacity = 1, max_capacity = 4 }
    }
  }

  assert {
    condition     = keys(aws_appautoscaling_policy.target_tracking) == ["memory", "requests"]
    error_message = "A disabled CPU policy must be dropped and the request count policy added."
  }

  assert {
    condition = (
      aws_appautoscaling_policy.target_tracking["requests"].target_tracking_scaling_policy_configuration[0].predefined_metric_specification[0].predefined_metric_type == "ALBRequestCountPerTarget" &&
      aws_appautoscaling_policy.target_tracking["requests"].target_tracking_scaling_policy_configuration[0].predefined_metric_specification[0].resource_label == "app/mlinfra-prod/50dc6c495c0c9188/targetgroup/mlinfra-prod-1a2b/943f017f100becff" &&
      aws_appautoscaling_policy.target_tracking["requests"].target_tracking_scaling_policy_configuration[0].target_value == 500 &&
      aws_appautoscaling_policy.target_tracking["requests"].target_tracking_scaling_policy_configuration[0].scale_in_cooldown == 600
    )
    error_message = "Request count tracking must be labelled <alb arn_suffix>/<target group arn_suffix>."
  }

  assert {
    condition = (
      aws_appautoscaling_policy.target_tracking["memory"].target_tracking_scaling_policy_configuration[0].target_value == 75 &&
      aws_appautoscaling_policy.target_tracking["memory"].target_tracking_scaling_policy_configuration[0].disable_scale_in
    )
    error_message = "Memory policy overrides must apply."
  }

  assert {
    condition = (
      aws_appautoscaling_scheduled_action.this["business-hours"].timezone == "Europe/Paris" &&
      aws_appautoscaling_scheduled_action.this["business-hours"].scalable_target_action[0].min_capacity == "3" &&
      aws_appautoscaling_scheduled_action.this["night"].timezone == "UTC" &&
      aws_appautoscaling_scheduled_action.this["night"].name == "svc-night"
    )
    error_message = "Scheduled actions must carry their schedule, timezone (UTC by default) and capacities."
  }
}

run "rejects_bad_inputs" {
  command = plan

  variables {
    cluster_name         = "arn:aws:ecs:eu-west-1:111122223333:cluster/mlinfra-prod"
    cpu_policy           = { target_value = 170 }
    request_count_policy = { enabled = true, alb_arn_suffix = "app/x/1" }
    scheduled_actions = {
      noop = { schedule = "every day" }
    }
  }

  expect_failures = [
    var.cluster_name,
    var.cpu_policy,
    var.request_count_policy,
    var.scheduled_actions,
  ]
}

run "rejects_min_above_max" {
  command = plan

  variables {
    min_capacity = 5
    max_capacity = 3
  }

  expect_failures = [aws_appautoscaling_target.this]
}
