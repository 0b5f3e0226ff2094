################################################################################
# Task Definition and Service
################################################################################

# The registry stack (applied first, its own state) owns the repository; the service only
# reads it, so that the execution role may pull from this repository alone.
data "aws_ecr_repository" "this" {
  name = var.name
}

module "task_definition" {
  source = "../../modules/task_definition"

  name                   = var.name
  container_image        = var.container_image
  container_port         = var.task.container_port
  cpu                    = var.task.cpu
  memory                 = var.task.memory
  log_group_name         = module.cloudwatch.log_group_name
  repository_arn         = data.aws_ecr_repository.this.arn
  cluster_arn            = module.cluster.cluster_arn
  capacity_provider_name = module.cluster.capacity_provider_name
  target_group_arn       = module.alb.target_group_arn
  desired_count          = var.scaling.desired_count
  autoscaling_enabled    = true

  tags = local.tags
}
