locals {
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

  name                = var.name
  vpc_id              = aws_vpc.this.id
  subnet_ids          = aws_subnet.public[*].id
  deletion_protection = var.load_balancer.deletion_protection
  certificate_arn     = var.load_balancer.certificate_arn
  ingress_cidr_blocks = var.load_balancer.ingress_cidr_blocks
  target_group = {
    port                 = var.task.container_port
    deregistration_delay = var.load_balancer.deregistration_delay
  }

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
  create_alarms    = var.observability.alarms_enabled
  create_dashboard = var.observability.dashboard_enabled
  load_balancer = {
    arn_suffix              = module.alb.arn_suffix
    target_group_arn_suffix = module.alb.target_group_arn_suffix
  }

  tags = local.tags
}

################################################################################
# Autoscaling
################################################################################

module "autoscaling" {
  source = "../../modules/autoscaling"

  name         = var.name
  cluster_name = module.cluster.cluster_name
  service_name = module.task_definition.service_name
  min_capacity = var.scaling.min_tasks
  max_capacity = var.scaling.max_tasks
  cpu_policy   = { target_value = var.scaling.cpu_target }

  tags = local.tags
}
