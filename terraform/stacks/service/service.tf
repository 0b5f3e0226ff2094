################################################################################
# Task Definition and Service
################################################################################

# The registry stack (applied first, its own state) owns the repository; the service only
# reads it, so that the execution role may pull from this repository alone.
data "aws_ecr_repository" "this" {
  name = var.name
}

# The registry stack owns the API key secret too, under the same name; only its ARN is read here,
# never its value.
data "aws_secretsmanager_secret" "api_key" {
  count = var.api_key.required ? 1 : 0

  name = "mlinfra/${var.environment}/api-key"
}

locals {
  # ECS's valueFrom "<arn>:<json-key>:<version-stage>:<version-id>": pinning the version makes
  # a rotated key a new task definition revision, which Terraform rolls out.
  api_key_value_from = try(
    var.api_key.version_id != null
    ? "${data.aws_secretsmanager_secret.api_key[0].arn}:::${var.api_key.version_id}"
    : data.aws_secretsmanager_secret.api_key[0].arn,
    null
  )
}

module "task_definition" {
  source = "../../modules/task_definition"

  name                   = var.name
  container_image        = var.container_image
  container_port         = var.task.container_port
  cpu                    = var.task.cpu
  memory                 = var.task.memory
  secrets                = local.api_key_value_from != null ? { API_KEY = local.api_key_value_from } : {}
  log_group_name         = module.cloudwatch.log_group_name
  repository_arn         = data.aws_ecr_repository.this.arn
  cluster_arn            = module.cluster.cluster_arn
  capacity_provider_name = module.cluster.capacity_provider_name
  target_group_arn       = module.alb.target_group_arn
  desired_count          = var.scaling.desired_count

  tags = local.tags
}

# The canary: the same task and secrets with the canary's image, its own service and target group
# (the listener's weights decide its share). Destroyed when the canary is promoted or aborted.
module "canary" {
  source = "../../modules/task_definition"
  count  = local.canary ? 1 : 0

  name                   = "${var.name}-canary"
  container_image        = var.canary.image
  container_port         = var.task.container_port
  cpu                    = var.task.cpu
  memory                 = var.task.memory
  secrets                = local.api_key_value_from != null ? { API_KEY = local.api_key_value_from } : {}
  log_group_name         = module.cloudwatch.log_group_name
  repository_arn         = data.aws_ecr_repository.this.arn
  cluster_arn            = module.cluster.cluster_arn
  capacity_provider_name = module.cluster.capacity_provider_name
  target_group_arn       = module.alb.target_groups["canary"].arn
  desired_count          = var.canary.desired_count

  tags = merge(local.tags, { Track = "canary" })
}

# The other models of the environment: each its own image, service, target group and scaling, on
# the same cluster, log group, secrets and task size, answering under /models/<name>.
module "model" {
  source   = "../../modules/task_definition"
  for_each = local.models

  name                   = "${var.name}-${each.key}"
  container_image        = each.value.image
  container_port         = var.task.container_port
  cpu                    = var.task.cpu
  memory                 = var.task.memory
  environment            = { ROUTE_PREFIX = each.value.route_prefix }
  secrets                = local.api_key_value_from != null ? { API_KEY = local.api_key_value_from } : {}
  log_group_name         = module.cloudwatch.log_group_name
  repository_arn         = data.aws_ecr_repository.this.arn
  cluster_arn            = module.cluster.cluster_arn
  capacity_provider_name = module.cluster.capacity_provider_name
  target_group_arn       = module.alb.target_groups["model-${each.key}"].arn
  desired_count          = each.value.min_tasks

  tags = merge(local.tags, { Model = each.key })
}
