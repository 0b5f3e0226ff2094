# Scales an ECS service between 2 and 10 tasks on CPU (70%) and memory, adds request-count
# tracking when the load balancer's ARN suffixes are given, and keeps a larger floor during
# weekday business hours.

################################################################################
# Stand-in service
################################################################################

# A cluster with no container instances and a service on it, only to make the example complete:
# its tasks wait for capacity. In a real stack they come from the ecs_ec2_cluster and
# task_definition modules.
resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_ecs_task_definition" "this" {
  family                   = var.name
  requires_compatibilities = ["EC2"]
  network_mode             = "bridge"
  container_definitions = jsonencode([{
    name                   = "app"
    image                  = "public.ecr.aws/docker/library/busybox:1.36"
    command                = ["sleep", "infinity"]
    memory                 = 64
    essential              = true
    readonlyRootFilesystem = true
  }])
}

resource "aws_ecs_service" "this" {
  name            = var.name
  cluster         = aws_ecs_cluster.this.arn
  task_definition = aws_ecs_task_definition.this.arn
  desired_count   = 2

  lifecycle {
    ignore_changes = [desired_count] # the autoscaling module owns it
  }
}

################################################################################
# Autoscaling
################################################################################

module "autoscaling" {
  source = "../.."

  name         = var.name
  cluster_name = aws_ecs_cluster.this.name
  service_name = aws_ecs_service.this.name

  min_capacity = 2
  max_capacity = 10

  cpu_policy = { target_value = 70 }

  request_count_policy = {
    create                  = var.alb_arn_suffix != null && var.target_group_arn_suffix != null
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
