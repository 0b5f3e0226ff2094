data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name
  account   = data.aws_caller_identity.current.account_id
}

################################################################################
# Task Definition
################################################################################

locals {
  capabilities = { for key, names in {
    add  = var.linux_capabilities.add
    drop = var.linux_capabilities.drop
  } : key => names if length(names) > 0 }

  health_check_command = coalesce(var.health_check.command, [
    "CMD", "python3", "-c",
    "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${var.container_port}${var.health_check.path}', timeout=${var.health_check.timeout - 1})",
  ])

  container = {
    name      = var.name
    image     = var.container_image
    essential = true
    command   = var.command
    # awsvpc: the task has its own interface, so the host port is the container port.
    portMappings           = [{ containerPort = var.container_port, hostPort = var.network_mode == "awsvpc" ? var.container_port : 0, protocol = "tcp" }]
    resourceRequirements   = var.gpu > 0 ? [{ type = "GPU", value = tostring(var.gpu) }] : null
    mountPoints            = length(var.volumes) > 0 ? [for name in sort(keys(var.volumes)) : { sourceVolume = name, containerPath = var.volumes[name].container_path, readOnly = var.volumes[name].read_only }] : null
    environment            = [for key in sort(keys(var.environment)) : { name = key, value = var.environment[key] }]
    secrets                = [for key in sort(keys(var.secrets)) : { name = key, valueFrom = var.secrets[key] }]
    stopTimeout            = var.stop_timeout
    readonlyRootFilesystem = var.readonly_root_filesystem

    healthCheck = {
      command     = local.health_check_command
      interval    = var.health_check.interval
      timeout     = var.health_check.timeout
      retries     = var.health_check.retries
      startPeriod = var.health_check.start_period
    }

    # The server needs no privilege: it runs as a user, on a port above 1024.
    dockerSecurityOptions = var.no_new_privileges ? ["no-new-privileges"] : null

    linuxParameters = { for key, value in {
      # An init process reaps zombies and forwards ECS's SIGTERM to the server.
      initProcessEnabled = true
      tmpfs = [for path in sort(keys(var.tmpfs_mounts)) : {
        containerPath = path
        size          = var.tmpfs_mounts[path]
        mountOptions  = ["nosuid", "nodev", "noexec"]
      }]
      # NOTE: ECS returns no key for an empty list; rendering one would show a diff on every plan.
      capabilities = length(local.capabilities) > 0 ? local.capabilities : null
    } : key => value if value != null }

    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = var.log_group_name
        awslogs-region        = local.region
        awslogs-stream-prefix = var.log_stream_prefix
      }
    }
  }
}

locals {
  # Sidecars log to the same group as the main container, under their own stream prefix.
  sidecars = [for name in sort(keys(var.sidecars)) : merge(
    {
      name      = name
      essential = false
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = var.log_group_name
          awslogs-region        = local.region
          awslogs-stream-prefix = "${var.log_stream_prefix}-${name}"
        }
      }
    },
    var.sidecars[name],
  )]
}

resource "aws_ecs_task_definition" "this" {
  family                   = var.name
  network_mode             = var.network_mode
  requires_compatibilities = ["EC2"]
  cpu                      = tostring(var.cpu)
  memory                   = tostring(var.memory)
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  # NOTE: nulls (an unset command) are dropped so that the plan compares what ECS returns.
  container_definitions = jsonencode(concat([{ for key, value in local.container : key => value if value != null }], local.sidecars))

  dynamic "volume" {
    for_each = var.volumes

    content {
      name      = volume.key
      host_path = volume.value.host_path

      dynamic "efs_volume_configuration" {
        for_each = volume.value.efs != null ? [volume.value.efs] : []

        content {
          file_system_id     = efs_volume_configuration.value.file_system_id
          root_directory     = efs_volume_configuration.value.access_point_id == null ? efs_volume_configuration.value.root_directory : null
          transit_encryption = "ENABLED"

          authorization_config {
            access_point_id = efs_volume_configuration.value.access_point_id
            iam             = "ENABLED" # the task role's elasticfilesystem:Client* statements below
          }
        }
      }
    }
  }

  tags = var.tags

  # The first tasks pull and log as soon as the service exists: grant that before.
  depends_on = [aws_iam_role_policy.execution]
}

################################################################################
# Task Execution IAM Role
################################################################################

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    # Confused-deputy guard: only ECS tasks of this account may assume the roles.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

locals {
  ssm_secret_arns = [for arn in values(var.secrets) : arn if strcontains(arn, ":ssm:")]
  # A Secrets Manager reference may end in ":<json-key>:<version-stage>:<version-id>"; IAM wants the secret's own ARN.
  secretsmanager_secret_arns = distinct([
    for arn in values(var.secrets) : join(":", slice(split(":", arn), 0, 7)) if strcontains(arn, ":secretsmanager:")
  ])
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid = "EcrAuth"
    # GetAuthorizationToken takes no resource: it returns a token for the registry, not a repository.
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid     = "EcrPull"
    actions = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    # The main image's repository and the sidecars' (additional_repository_arns).
    resources = distinct(concat([var.repository_arn], var.additional_repository_arns))
  }

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account}:log-group:${var.log_group_name}:log-stream:*"]
  }

  dynamic "statement" {
    for_each = length(local.ssm_secret_arns) > 0 ? [1] : []

    content {
      sid       = "SsmSecrets"
      actions   = ["ssm:GetParameters"]
      resources = local.ssm_secret_arns
    }
  }

  dynamic "statement" {
    for_each = length(local.secretsmanager_secret_arns) > 0 ? [1] : []

    content {
      sid       = "SecretsManagerSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = local.secretsmanager_secret_arns
    }
  }

  dynamic "statement" {
    for_each = length(var.secrets_kms_key_arns) > 0 ? [1] : []

    content {
      sid       = "SecretsKms"
      actions   = ["kms:Decrypt"]
      resources = var.secrets_kms_key_arns
    }
  }
}

resource "aws_iam_role" "execution" {
  name                 = "${var.name}-task-execution"
  description          = "ECS pulls the image, writes logs and reads the secrets of ${var.name}"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_assume.json
  path                 = var.iam_role_path
  permissions_boundary = var.iam_role_permissions_boundary

  tags = var.tags
}

resource "aws_iam_role_policy" "execution" {
  name   = "pull-log-secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

################################################################################
# Task IAM Role
################################################################################

resource "aws_iam_role" "task" {
  name                 = "${var.name}-task"
  description          = "What the ${var.name} application may call in AWS"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_assume.json
  path                 = var.iam_role_path
  permissions_boundary = var.iam_role_permissions_boundary

  tags = var.tags
}

resource "aws_iam_role_policy" "task" {
  count = var.task_role_policy_json != null ? 1 : 0

  name   = "application"
  role   = aws_iam_role.task.id
  policy = var.task_role_policy_json
}

locals {
  efs_volumes = { for name, v in var.volumes : name => v if v.efs != null }
}

data "aws_iam_policy_document" "task_platform" {
  count = var.enable_execute_command || length(local.efs_volumes) > 0 ? 1 : 0

  # ECS Exec: the agent in the task opens the Session Manager channels; these take no resource.
  dynamic "statement" {
    for_each = var.enable_execute_command ? [1] : []

    content {
      sid       = "EcsExec"
      actions   = ["ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = local.efs_volumes

    content {
      sid       = "Efs${replace(title(replace(statement.key, "/[^a-zA-Z0-9]+/", " ")), " ", "")}"
      actions   = statement.value.read_only ? ["elasticfilesystem:ClientMount"] : ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
      resources = ["arn:${local.partition}:elasticfilesystem:${local.region}:${local.account}:file-system/${statement.value.efs.file_system_id}"]
    }
  }
}

resource "aws_iam_role_policy" "task_platform" {
  count = length(data.aws_iam_policy_document.task_platform)

  name   = "exec-and-volumes"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task_platform[0].json
}

################################################################################
# Service
################################################################################

# One service, as terraform-aws-modules/ecs has it: desired_count seeds the service and is then
# left to whoever scales it (Application Auto Scaling, or an operator). Two resources, one per
# value of enable_autoscaling, used to share one ECS name, so switching replaced the service.
resource "aws_ecs_service" "this" {
  count = 1 # keeps the address aws_ecs_service.this[0] that callers without autoscaling have

  name                               = var.name
  cluster                            = var.cluster_arn
  task_definition                    = aws_ecs_task_definition.this.arn
  desired_count                      = var.desired_count
  deployment_minimum_healthy_percent = var.deployment.minimum_healthy_percent
  deployment_maximum_percent         = var.deployment.maximum_percent
  # ECS refuses a grace period on a service without a load balancer.
  health_check_grace_period_seconds = var.target_group_arn != null ? var.deployment.health_check_grace_period_seconds : null
  wait_for_steady_state             = var.deployment.wait_for_steady_state
  enable_ecs_managed_tags           = true
  propagate_tags                    = "SERVICE"
  enable_execute_command            = var.enable_execute_command

  capacity_provider_strategy {
    capacity_provider = var.capacity_provider_name
    weight            = 1
    base              = 0
  }

  # null target_group_arn: a worker (queue consumer, batch) that no load balancer reaches.
  dynamic "load_balancer" {
    for_each = var.target_group_arn != null ? [var.target_group_arn] : []

    content {
      target_group_arn = load_balancer.value
      container_name   = var.name
      container_port   = var.container_port
    }
  }

  dynamic "network_configuration" {
    for_each = var.network_mode == "awsvpc" ? [var.awsvpc] : []

    content {
      subnets          = network_configuration.value.subnet_ids
      security_groups  = network_configuration.value.security_group_ids
      assign_public_ip = false # EC2 launch type: awsvpc tasks never get a public IP
    }
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = var.deployment.rollback_on_failure
  }

  dynamic "ordered_placement_strategy" {
    for_each = var.placement_spread

    content {
      type  = "spread"
      field = ordered_placement_strategy.value
    }
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.network_mode != "awsvpc" || try(length(var.awsvpc.subnet_ids) > 0 && length(var.awsvpc.security_group_ids) > 0, false)
      error_message = "network_mode is \"awsvpc\" but awsvpc is ${jsonencode(var.awsvpc)}: set awsvpc = { subnet_ids = [...], security_group_ids = [...] } (the tasks' own interfaces; a target group for them needs target_type \"ip\")."
    }

    ignore_changes = [desired_count] # the count at creation only: autoscaling (or an operator) owns it afterwards
  }
}

# Callers that had enable_autoscaling = true keep their service: no replacement on upgrade.
moved {
  from = aws_ecs_service.autoscaled
  to   = aws_ecs_service.this
}

check "enable_autoscaling_is_deprecated" {
  assert {
    condition     = var.enable_autoscaling == null
    error_message = "enable_autoscaling is set to ${coalesce(var.enable_autoscaling, false)} but no longer changes anything: desired_count is always only the count the service starts with (see the README's Upgrade notes). Remove enable_autoscaling from the module call."
  }
}

locals {
  service = aws_ecs_service.this[0]
}
