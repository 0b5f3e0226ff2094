locals {
  canary = var.canary.image != null
  target_group_settings = {
    port                 = var.task.container_port
    deregistration_delay = var.load_balancer.deregistration_delay
  }
  # A model's rule priority follows its name's place in the sorted map (a new model can shift the
  # others': the ALB renumbers rules in place). The image answers under its route prefix.
  models = {
    for index, name in sort(keys(var.models)) : name => merge(var.models[name], {
      priority     = 100 + index
      route_prefix = "/models/${name}"
    })
  }
  tags = merge(var.tags, {
    Project     = "mlinfra"
    Environment = var.environment
  })
}

################################################################################
# Load Balancer
################################################################################

module "alb" {
  source = "../../modules/alb"

  name                       = var.name
  vpc_id                     = aws_vpc.this.id
  subnet_ids                 = aws_subnet.public[*].id
  enable_deletion_protection = var.load_balancer.enable_deletion_protection
  # Known at plan time even when the certificate is requested in this apply.
  create_https_listener = local.create_https_listener
  certificate_arn       = local.certificate_arn
  ingress_cidr_blocks   = var.load_balancer.ingress_cidr_blocks
  # The bucket through its policy: ELB checks that it may write there before it turns logs on.
  access_logs = var.load_balancer.enable_access_logs ? { bucket = aws_s3_bucket_policy.access_logs[0].bucket, prefix = var.name } : null
  waf = {
    enable     = var.load_balancer.waf_rate_limit != null
    rate_limit = coalesce(var.load_balancer.waf_rate_limit, 2000)
  }
  target_group = {
    port                 = var.task.container_port
    deregistration_delay = var.load_balancer.deregistration_delay
  }
  # The canary's group exists while a canary runs; the listener splits requests by weight. Each
  # of the other models has a group of its own, reached by its path rule.
  target_groups = merge(
    local.canary ? { canary = local.target_group_settings } : {},
    { for name in keys(var.models) : "model-${name}" => local.target_group_settings },
  )
  listener_rules = {
    for name, model in local.models : name => {
      priority         = model.priority
      target_group_key = "model-${name}"
      path_patterns    = [model.route_prefix, "${model.route_prefix}/*"]
    }
  }
  default_action = local.canary ? { weights = { default = 100 - var.canary.weight, canary = var.canary.weight } } : {}

  tags = local.tags
}

################################################################################
# Cluster
################################################################################

module "cluster" {
  source = "../../modules/ecs_ec2_cluster"

  name                  = var.name
  vpc_id                = aws_vpc.this.id
  subnet_ids            = local.instance_subnet_ids
  alb_security_group_id = module.alb.security_group_id
  instance_type         = var.cluster.instance_type
  instance_count        = { min = var.cluster.min_instances, max = var.cluster.max_instances }
  force_delete          = var.cluster.force_delete

  tags = local.tags

  # The instances need their default route before they boot (ECS agent registration).
  depends_on = [aws_route_table_association.public, aws_route_table_association.private]
}

################################################################################
# Logs and Alarms
################################################################################

module "cloudwatch" {
  source = "../../modules/cloudwatch"

  name             = var.name
  cluster_name     = module.cluster.cluster_name
  service_name     = var.name
  log_group        = { retention_in_days = var.observability.log_retention_days }
  create_alarms    = var.observability.create_alarms
  create_dashboard = var.observability.create_dashboard
  load_balancer = {
    arn_suffix              = module.alb.arn_suffix
    target_group_arn_suffix = module.alb.target_group_arn_suffix
  }
  # One topic per environment, made only when someone subscribes to it.
  sns_topic = {
    create        = length(var.observability.alarm_emails) > 0
    subscriptions = { for address in var.observability.alarm_emails : address => { protocol = "email", endpoint = address } }
  }
  alarm_topic_arns = var.observability.alarm_topic_arns

  tags = local.tags
}

################################################################################
# Autoscaling
################################################################################

module "autoscaling" {
  source = "../../modules/autoscaling"

  name          = var.name
  cluster_name  = module.cluster.cluster_name
  service_name  = module.task_definition.service_name
  min_capacity  = var.scaling.min_tasks
  max_capacity  = var.scaling.max_tasks
  cpu_policy    = { target_value = var.scaling.cpu_target }
  memory_policy = { target_value = var.scaling.memory_target }
  request_count_policy = {
    create                  = var.scaling.requests_per_target != null
    target_value            = coalesce(var.scaling.requests_per_target, 1000)
    alb_arn_suffix          = module.alb.arn_suffix
    target_group_arn_suffix = module.alb.target_group_arn_suffix
  }

  tags = local.tags
}

module "model_autoscaling" {
  source   = "../../modules/autoscaling"
  for_each = local.models

  name          = "${var.name}-${each.key}"
  cluster_name  = module.cluster.cluster_name
  service_name  = module.model[each.key].service_name
  min_capacity  = each.value.min_tasks
  max_capacity  = each.value.max_tasks
  cpu_policy    = { target_value = var.scaling.cpu_target }
  memory_policy = { target_value = var.scaling.memory_target }

  tags = merge(local.tags, { Model = each.key })
}
