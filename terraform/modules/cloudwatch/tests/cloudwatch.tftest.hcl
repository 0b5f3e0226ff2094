mock_provider "aws" {
  source = "../../testing/mocks"

  mock_resource "aws_kms_key" {
    override_during = plan
    defaults = {
      arn = "arn:aws:kms:eu-west-1:111122223333:key/0000-created"
    }
  }

  # Alarm ARNs feed the dashboard's alarm widget, which the plan-time asserts decode.
  mock_resource "aws_cloudwatch_metric_alarm" {
    override_during = plan
    defaults = {
      arn = "arn:aws:cloudwatch:eu-west-1:111122223333:alarm:svc-mock"
    }
  }

  mock_resource "aws_sns_topic" {
    override_during = plan
    defaults = {
      arn = "arn:aws:sns:eu-west-1:111122223333:svc-alarms"
    }
  }
}

variables {
  name         = "svc"
  cluster_name = "mlinfra-prod"
  service_name = "predictor"
}

run "defaults_without_load_balancer" {
  command = plan

  assert {
    condition = (
      aws_cloudwatch_log_group.this.name == "/ecs/svc" &&
      aws_cloudwatch_log_group.this.retention_in_days == 90 &&
      aws_cloudwatch_log_group.this.kms_key_id == null
    )
    error_message = "The log group defaults to /ecs/<name> with 90 days retention."
  }

  assert {
    condition     = keys(aws_cloudwatch_metric_alarm.metric) == ["cpu-high", "memory-high"] && length(aws_cloudwatch_metric_alarm.tasks_below_desired) == 1
    error_message = "Without a load balancer only the service alarms exist."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.metric["cpu-high"].threshold == 85 &&
      aws_cloudwatch_metric_alarm.metric["cpu-high"].dimensions == tomap({ ClusterName = "mlinfra-prod", ServiceName = "predictor" }) &&
      aws_cloudwatch_metric_alarm.metric["cpu-high"].period == 60 &&
      aws_cloudwatch_metric_alarm.metric["cpu-high"].evaluation_periods == 5 &&
      aws_cloudwatch_metric_alarm.metric["cpu-high"].datapoints_to_alarm == 3 &&
      aws_cloudwatch_metric_alarm.metric["cpu-high"].actions_enabled
    )
    error_message = "The CPU alarm must watch the service at 85% over 3 of 5 minutes."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.tasks_below_desired[0].treat_missing_data == "breaching" &&
      aws_cloudwatch_metric_alarm.tasks_below_desired[0].threshold == 1 &&
      length([for q in aws_cloudwatch_metric_alarm.tasks_below_desired[0].metric_query : q if q.expression == "desired - running" && q.return_data == true]) == 1 &&
      length([for q in aws_cloudwatch_metric_alarm.tasks_below_desired[0].metric_query : q if length(q.metric) > 0 && try(q.metric[0].namespace, "") == "ECS/ContainerInsights"]) == 2
    )
    error_message = "Tasks below desired must compare Container Insights' desired and running counts, and treat silence as a failure."
  }

  assert {
    condition     = length(aws_sns_topic.alarms) == 0 && length(aws_kms_key.sns) == 0 && output.alarm_action_arns == []
    error_message = "No topic, key or alarm actions unless asked for."
  }

  assert {
    condition = (
      length(jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets) == 4 &&
      jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets[0].type == "alarm" &&
      length(jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets[0].properties.alarms) == 4 &&
      jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets[1].properties.region == "eu-west-1" &&
      jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets[3].type == "log" &&
      strcontains(jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets[3].properties.query, "SOURCE '/ecs/svc'")
    )
    error_message = "The dashboard shows the alarms, the service widgets and its log lines, in the current Region."
  }
}

run "load_balancer_topic_and_overrides" {
  command = plan

  variables {
    load_balancer = {
      arn_suffix              = "app/mlinfra-prod/50dc6c495c0c9188"
      target_group_arn_suffix = "targetgroup/mlinfra-prod-1a2b/943f017f100becff"
    }
    log_group = {
      name              = "/mlinfra/prod/predictor"
      retention_in_days = 365
      kms_key_arn       = "arn:aws:kms:eu-west-1:111122223333:key/logs"
    }
    alarm_thresholds = { p99_response_time_seconds = 0.25, cpu_utilization_percent = 75 }
    alarm_evaluation = { period = 120, evaluation_periods = 3, datapoints_to_alarm = 2 }
    sns_topic = {
      create        = true
      subscriptions = { oncall = { protocol = "email", endpoint = "oncall@example.com" } }
    }
    alarm_topic_arns  = ["arn:aws:sns:eu-west-1:111122223333:pager"]
    enable_ok_actions = false
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.metric) == 6 && contains(keys(aws_cloudwatch_metric_alarm.metric), "p99-latency")
    error_message = "A load balancer adds the 5xx, unhealthy-host and latency alarms."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.metric["p99-latency"].extended_statistic == "p99" &&
      aws_cloudwatch_metric_alarm.metric["p99-latency"].statistic == null &&
      aws_cloudwatch_metric_alarm.metric["p99-latency"].threshold == 0.25 &&
      aws_cloudwatch_metric_alarm.metric["p99-latency"].dimensions.TargetGroup == "targetgroup/mlinfra-prod-1a2b/943f017f100becff" &&
      aws_cloudwatch_metric_alarm.metric["alb-5xx"].dimensions == tomap({ LoadBalancer = "app/mlinfra-prod/50dc6c495c0c9188" }) &&
      aws_cloudwatch_metric_alarm.metric["cpu-high"].threshold == 75 &&
      aws_cloudwatch_metric_alarm.metric["cpu-high"].period == 120
    )
    error_message = "Thresholds, evaluation and dimensions must follow the inputs."
  }

  assert {
    condition = (
      aws_sns_topic.alarms[0].kms_master_key_id == "arn:aws:kms:eu-west-1:111122223333:key/0000-created" &&
      aws_kms_key.sns[0].enable_key_rotation &&
      jsondecode(aws_kms_key.sns[0].policy).Statement[1].Principal.Service == "cloudwatch.amazonaws.com" &&
      aws_sns_topic_subscription.alarms["oncall"].endpoint == "oncall@example.com"
    )
    error_message = "The created topic must be encrypted with a rotated key that CloudWatch may use."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.metric["target-5xx"].alarm_actions == toset(["arn:aws:sns:eu-west-1:111122223333:svc-alarms", "arn:aws:sns:eu-west-1:111122223333:pager"]) &&
      length(aws_cloudwatch_metric_alarm.metric["target-5xx"].ok_actions) == 0
    )
    error_message = "Alarms notify the created and the given topics, and not on OK when enable_ok_actions is false."
  }

  assert {
    condition = (
      aws_cloudwatch_log_group.this.name == "/mlinfra/prod/predictor" &&
      aws_cloudwatch_log_group.this.retention_in_days == 365 &&
      aws_cloudwatch_log_group.this.kms_key_id == "arn:aws:kms:eu-west-1:111122223333:key/logs"
    )
    error_message = "Log group overrides must apply."
  }

  assert {
    condition = (
      length(jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets) == 7 &&
      length(jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets[0].properties.alarms) == 8
    )
    error_message = "With a load balancer the dashboard adds requests, latency and target health, and shows all seven alarms."
  }
}

run "every_alarm_notifies_the_topics_on_alarm_and_ok" {
  command = plan

  variables {
    load_balancer = {
      arn_suffix              = "app/mlinfra-prod/50dc6c495c0c9188"
      target_group_arn_suffix = "targetgroup/mlinfra-prod-1a2b/943f017f100becff"
    }
    sns_topic = {
      create          = true
      email_addresses = ["oncall@example.com", "ml-team@example.com"]
      subscriptions   = { pager = { protocol = "https", endpoint = "https://events.example.com/hook" } }
    }
    alarm_topic_arns = ["arn:aws:sns:eu-west-1:111122223333:chat"]
  }

  # Every alarm resource of the module, whatever its kind: a new one must be added here too
  # (tests/unit/terraform/test_modules.py checks that each sets alarm_actions and ok_actions).
  assert {
    condition = alltrue([
      for alarm in concat(values(aws_cloudwatch_metric_alarm.metric), aws_cloudwatch_metric_alarm.tasks_below_desired) :
      alarm.actions_enabled &&
      alarm.alarm_actions == toset(["arn:aws:sns:eu-west-1:111122223333:svc-alarms", "arn:aws:sns:eu-west-1:111122223333:chat"]) &&
      alarm.ok_actions == alarm.alarm_actions
    ])
    error_message = "Every alarm must notify the module's topic and alarm_topic_arns when it fires and when it returns to OK."
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.metric) + length(aws_cloudwatch_metric_alarm.tasks_below_desired) == 7
    error_message = "The assertion above must have covered all seven alarms."
  }

  assert {
    condition = {
      for key, sub in aws_sns_topic_subscription.alarms : key => [sub.protocol, sub.endpoint, sub.topic_arn]
      } == {
      "oncall@example.com"  = ["email", "oncall@example.com", "arn:aws:sns:eu-west-1:111122223333:svc-alarms"]
      "ml-team@example.com" = ["email", "ml-team@example.com", "arn:aws:sns:eu-west-1:111122223333:svc-alarms"]
      pager                 = ["https", "https://events.example.com/hook", "arn:aws:sns:eu-west-1:111122223333:svc-alarms"]
    }
    error_message = "Each e-mail address and each endpoint must be subscribed to the module's topic."
  }
}

run "rejects_subscriptions_without_a_topic_and_bad_addresses" {
  command = plan

  variables {
    sns_topic = { create = false, email_addresses = ["not-an-address"] }
  }

  expect_failures = [var.sns_topic]
}

run "given_key_and_switches_off" {
  command = plan

  variables {
    create_alarms    = false
    create_dashboard = false
    sns_topic        = { create = true, kms_key_arn = "arn:aws:kms:eu-west-1:111122223333:key/mine" }
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.metric) == 0 && length(aws_cloudwatch_metric_alarm.tasks_below_desired) == 0 && length(aws_cloudwatch_dashboard.this) == 0
    error_message = "create_alarms and create_dashboard must switch them off."
  }

  assert {
    condition     = length(aws_kms_key.sns) == 0 && aws_sns_topic.alarms[0].kms_master_key_id == "arn:aws:kms:eu-west-1:111122223333:key/mine"
    error_message = "A given key must be used instead of creating one."
  }
}

run "drift_alarm_on_max_feature_psi" {
  command = plan

  variables {
    sns_topic   = { create = true }
    drift_alarm = { threshold = 0.4, evaluation_periods = 1 }
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.drift[0].namespace == "mlinfra" &&
      aws_cloudwatch_metric_alarm.drift[0].metric_name == "MaxFeaturePSI" &&
      aws_cloudwatch_metric_alarm.drift[0].statistic == "Maximum" &&
      aws_cloudwatch_metric_alarm.drift[0].comparison_operator == "GreaterThanThreshold" &&
      aws_cloudwatch_metric_alarm.drift[0].threshold == 0.4 &&
      aws_cloudwatch_metric_alarm.drift[0].evaluation_periods == 1 &&
      aws_cloudwatch_metric_alarm.drift[0].treat_missing_data == "notBreaching" &&
      aws_cloudwatch_metric_alarm.drift[0].dimensions == null
    )
    error_message = "The drift alarm must watch the largest feature PSI above its threshold, across versions, no traffic being no drift."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.drift[0].alarm_actions == toset(["arn:aws:sns:eu-west-1:111122223333:svc-alarms"]) && contains(keys(output.alarm_arns), "drift")
    error_message = "The drift alarm must notify the environment's topic and be among the alarm ARNs."
  }
}

run "drift_alarm_off" {
  command = plan

  variables {
    drift_alarm = { enable = false }
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.drift) == 0
    error_message = "drift_alarm.enable = false must drop the drift alarm."
  }
}

run "rejects_a_non_positive_drift_threshold" {
  command = plan

  variables {
    drift_alarm = { threshold = 0 }
  }

  expect_failures = [var.drift_alarm]
}

run "dashboard_without_alarms" {
  command = plan

  variables {
    create_alarms = false
  }

  assert {
    condition = (
      length(jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets) == 3 &&
      jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets[0].type == "metric" &&
      jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets[0].y == 0
    )
    error_message = "Without alarms the dashboard starts with the metric widgets and has no alarm widget."
  }
}

run "per_alarm_switch_threshold_and_evaluation" {
  command = plan

  variables {
    load_balancer = {
      arn_suffix              = "app/mlinfra-prod/50dc6c495c0c9188"
      target_group_arn_suffix = "targetgroup/mlinfra-prod-1a2b/943f017f100becff"
    }
    alarms = {
      alb-5xx             = { enable = false } # a second service on a shared ALB: the first one alarms
      p99-latency         = { threshold = 2.5, evaluation_periods = 10, datapoints_to_alarm = 8 }
      tasks-below-desired = { enable = false }
    }
  }

  assert {
    condition     = !contains(keys(aws_cloudwatch_metric_alarm.metric), "alb-5xx") && contains(keys(aws_cloudwatch_metric_alarm.metric), "target-5xx") && length(aws_cloudwatch_metric_alarm.tasks_below_desired) == 0
    error_message = "enable = false must drop that alarm only."
  }
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.metric["p99-latency"].threshold == 2.5 && strcontains(aws_cloudwatch_metric_alarm.metric["p99-latency"].alarm_description, "above 2.5 s") &&
      aws_cloudwatch_metric_alarm.metric["p99-latency"].evaluation_periods == 10 &&
      aws_cloudwatch_metric_alarm.metric["p99-latency"].datapoints_to_alarm == 8 &&
      aws_cloudwatch_metric_alarm.metric["cpu-high"].evaluation_periods == 5 &&
      aws_cloudwatch_metric_alarm.metric["cpu-high"].datapoints_to_alarm == 3
    )
    error_message = "An alarm's own threshold and evaluation must replace the module-wide ones for it alone."
  }
}

run "rejects_bad_alarm_settings" {
  command = plan

  variables {
    alarms = {
      cpu_high    = { enable = false }
      memory-high = { evaluation_periods = 2, datapoints_to_alarm = 3 }
    }
  }

  expect_failures = [var.alarms]
}

run "rejects_bad_inputs" {
  command = plan

  variables {
    service_name     = "arn:aws:ecs:eu-west-1:111122223333:service/mlinfra-prod/predictor"
    log_group        = { retention_in_days = 45 }
    load_balancer    = { arn_suffix = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/x/1", target_group_arn_suffix = "targetgroup/x/1" }
    alarm_thresholds = { memory_utilization_percent = 150 }
    alarm_evaluation = { period = 30 }
    sns_topic        = { create = true, kms_key_arn = "alias/aws/sns" }
    alarm_topic_arns = ["pager"]
  }

  expect_failures = [
    var.service_name,
    var.log_group,
    var.load_balancer,
    var.alarm_thresholds,
    var.alarm_evaluation,
    var.sns_topic,
    var.alarm_topic_arns,
  ]
}
