mock_provider "aws" {
  source = "../../testing/mocks"
}

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
    cpu_policy    = { create = false }
    memory_policy = { target_value = 75, disable_scale_in = true }
    request_count_policy = {
      create                  = true
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

run "three_policies_each_with_its_own_target" {
  command = plan

  variables {
    cpu_policy    = { target_value = 60 }
    memory_policy = { target_value = 70 }
    request_count_policy = {
      create         = true
      target_value   = 800
      resource_label = "app/mlinfra-prod/50dc6c495c0c9188/targetgroup/mlinfra-prod-1a2b/943f017f100becff"
    }
  }

  assert {
    condition = {
      for key, policy in aws_appautoscaling_policy.target_tracking : key => [
        policy.target_tracking_scaling_policy_configuration[0].predefined_metric_specification[0].predefined_metric_type,
        policy.target_tracking_scaling_policy_configuration[0].target_value,
      ]
      } == {
      cpu      = ["ECSServiceAverageCPUUtilization", 60]
      memory   = ["ECSServiceAverageMemoryUtilization", 70]
      requests = ["ALBRequestCountPerTarget", 800]
    }
    error_message = "CPU, memory and requests per target must each track their own metric and target."
  }

  assert {
    condition     = aws_appautoscaling_policy.target_tracking["requests"].target_tracking_scaling_policy_configuration[0].predefined_metric_specification[0].resource_label == "app/mlinfra-prod/50dc6c495c0c9188/targetgroup/mlinfra-prod-1a2b/943f017f100becff"
    error_message = "A given resource_label must label the request count metric as is."
  }

  assert {
    condition     = aws_appautoscaling_policy.target_tracking["cpu"].target_tracking_scaling_policy_configuration[0].predefined_metric_specification[0].resource_label == null
    error_message = "Only the request count metric takes a resource label."
  }
}

run "rejects_a_resource_label_beside_the_suffixes" {
  command = plan

  variables {
    request_count_policy = {
      create                  = true
      resource_label          = "app/mlinfra-prod/50dc6c495c0c9188/targetgroup/mlinfra-prod-1a2b/943f017f100becff"
      alb_arn_suffix          = "app/mlinfra-prod/50dc6c495c0c9188"
      target_group_arn_suffix = "targetgroup/mlinfra-prod-1a2b/943f017f100becff"
    }
  }

  expect_failures = [var.request_count_policy]
}

run "rejects_a_malformed_resource_label" {
  command = plan

  variables {
    request_count_policy = { create = true, resource_label = "targetgroup/mlinfra-prod-1a2b/943f017f100becff" }
  }

  expect_failures = [var.request_count_policy]
}

run "rejects_bad_inputs" {
  command = plan

  variables {
    cluster_name         = "arn:aws:ecs:eu-west-1:111122223333:cluster/mlinfra-prod"
    cpu_policy           = { target_value = 170 }
    request_count_policy = { create = true, alb_arn_suffix = "app/x/1" }
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
