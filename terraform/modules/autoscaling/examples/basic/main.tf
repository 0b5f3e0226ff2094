# Scales an existing ECS service between 2 and 10 tasks on CPU (70%) and memory, adds
# request-count tracking when the load balancer's ARN suffixes are given, and keeps a
# larger floor during weekday business hours.
module "autoscaling" {
  source = "../.."

  name         = "${var.cluster_name}-${var.service_name}"
  cluster_name = var.cluster_name
  service_name = var.service_name

  min_capacity = 2
  max_capacity = 10

  cpu_policy = { target_value = 70 }

  request_count_policy = {
    enabled                 = var.alb_arn_suffix != null && var.target_group_arn_suffix != null
    target_value            = 1000
    alb_arn_suffix          = var.alb_arn_suffix
    target_group_arn_suffix = var.target_group_arn_suffix
  }

  scheduled_actions = {
    business-hours = {
      schedule     = "cron(0 8 ? * MON-FRI *)"
      min_capacity = 4
    }
    after-hours = {
      schedule     = "cron(0 19 ? * MON-FRI *)"
      min_capacity = 2
    }
  }

  tags = { Example = "autoscaling-basic" }
}
