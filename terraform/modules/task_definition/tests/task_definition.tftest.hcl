mock_provider "aws" {
  source = "../../testing/mocks"
}

variables {
  name                   = "mlinfra-test"
  container_image        = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlinfra-test:a1b2c3d-0123abcd"
  log_group_name         = "/mlinfra/test"
  repository_arn         = "arn:aws:ecr:eu-west-1:123456789012:repository/mlinfra-test"
  cluster_arn            = "arn:aws:ecs:eu-west-1:123456789012:cluster/mlinfra-test"
  capacity_provider_name = "mlinfra-test-ec2"
  target_group_arn       = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/mlinfra-test/0123456789abcdef"
}

run "defaults_are_secure" {
  command = plan

  assert {
    condition     = aws_ecs_task_definition.this.network_mode == "bridge" && aws_ecs_task_definition.this.requires_compatibilities == toset(["EC2"])
    error_message = "The task must use bridge networking on EC2."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].portMappings == [{ containerPort = 8080, hostPort = 0, protocol = "tcp" }]
    error_message = "The container port must map to host port 0 (an ephemeral port)."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].readonlyRootFilesystem && jsondecode(aws_ecs_task_definition.this.container_definitions)[0].linuxParameters.tmpfs[0].containerPath == "/tmp"
    error_message = "The root filesystem must be read-only, with a tmpfs at /tmp."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].linuxParameters.capabilities == { drop = ["ALL"] }
    error_message = "Every Linux capability must be dropped by default, with no empty add list (ECS returns none)."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].dockerSecurityOptions == ["no-new-privileges"]
    error_message = "The container must start with no-new-privileges by default."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].logConfiguration.options == { awslogs-group = "/mlinfra/test", awslogs-region = "eu-west-1", awslogs-stream-prefix = "ecs" }
    error_message = "Logs must go to the given log group in the current region."
  }
  assert {
    condition     = strcontains(jsondecode(aws_ecs_task_definition.this.container_definitions)[0].healthCheck.command[3], "http://127.0.0.1:8080/ready")
    error_message = "The default health check must probe /ready on the container port."
  }
  assert {
    condition     = !can(jsondecode(aws_ecs_task_definition.this.container_definitions)[0].command)
    error_message = "An unset command must be left out, keeping the image's CMD."
  }
  assert {
    condition     = aws_iam_role.execution.name != aws_iam_role.task.name && length(aws_iam_role_policy.task) == 0
    error_message = "Execution and task roles must differ, and the task role must grant nothing by default."
  }
  assert {
    condition     = one([for s in data.aws_iam_policy_document.execution.statement : s.resources if s.sid == "EcrPull"]) == toset(["arn:aws:ecr:eu-west-1:123456789012:repository/mlinfra-test"])
    error_message = "The execution role may pull only from the given repository."
  }
  assert {
    condition     = one([for s in data.aws_iam_policy_document.execution.statement : s.resources if s.sid == "Logs"]) == toset(["arn:aws:logs:eu-west-1:123456789012:log-group:/mlinfra/test:log-stream:*"])
    error_message = "The execution role may write only to the given log group."
  }
  assert {
    condition     = length([for s in data.aws_iam_policy_document.execution.statement : s if contains(["SsmSecrets", "SecretsManagerSecrets", "SecretsKms"], s.sid)]) == 0
    error_message = "Without secrets, the execution role must read none."
  }
  assert {
    condition     = length(aws_ecs_service.this) == 1 && aws_ecs_service.this[0].desired_count == 2
    error_message = "The service must start with desired_count tasks (2 by default)."
  }
  assert {
    condition     = aws_ecs_service.this[0].deployment_circuit_breaker[0].enable && aws_ecs_service.this[0].deployment_circuit_breaker[0].rollback
    error_message = "The deployment circuit breaker must roll back failed deploys."
  }
  assert {
    condition     = aws_ecs_service.this[0].deployment_minimum_healthy_percent == 100 && aws_ecs_service.this[0].deployment_maximum_percent == 200 && aws_ecs_service.this[0].health_check_grace_period_seconds == 60
    error_message = "A deploy must start new tasks before stopping old ones, with a 60 s grace period."
  }
  assert {
    condition     = aws_ecs_service.this[0].ordered_placement_strategy[0].field == "attribute:ecs.availability-zone" && aws_ecs_service.this[0].ordered_placement_strategy[0].type == "spread"
    error_message = "Tasks must spread across Availability Zones first."
  }
  assert {
    condition     = one(aws_ecs_service.this[0].capacity_provider_strategy).capacity_provider == "mlinfra-test-ec2" && one(aws_ecs_service.this[0].load_balancer).container_port == 8080
    error_message = "The service must use the capacity provider and register the container port in the target group."
  }
  assert {
    condition     = aws_ecs_service.this[0].enable_execute_command == false
    error_message = "ECS Exec must be off."
  }
}

run "secrets_autoscaling_and_custom_container" {
  command = plan

  variables {
    container_port = 9000
    desired_count  = 3
    environment    = { LOG_LEVEL = "debug" }
    secrets = {
      API_TOKEN = "arn:aws:ssm:eu-west-1:123456789012:parameter/mlinfra/token"
      DB_PASS   = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf:password::"
    }
    secrets_kms_key_arns     = ["arn:aws:kms:eu-west-1:123456789012:key/abcd"]
    task_role_policy_json    = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::models/*\"}]}"
    readonly_root_filesystem = false
    health_check             = { command = ["CMD-SHELL", "curl -f http://localhost:9000/health || exit 1"] }
    deployment               = { minimum_healthy_percent = 50, rollback_on_failure = false }
    tags                     = { Team = "ml" }
  }

  assert {
    condition     = aws_ecs_service.this[0].tags == tomap({ Team = "ml" }) && aws_ecs_service.this[0].propagate_tags == "SERVICE" && aws_ecs_task_definition.this.tags == tomap({ Team = "ml" })
    error_message = "tags must reach the service and the task definition, and the service must propagate them to its tasks."
  }

  assert {
    condition     = aws_ecs_service.this[0].desired_count == 3
    error_message = "desired_count must reach the new service."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].secrets == [{ name = "API_TOKEN", valueFrom = "arn:aws:ssm:eu-west-1:123456789012:parameter/mlinfra/token" }, { name = "DB_PASS", valueFrom = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf:password::" }]
    error_message = "Secrets must reach the container as valueFrom references."
  }
  assert {
    condition     = one([for s in data.aws_iam_policy_document.execution.statement : s.resources if s.sid == "SecretsManagerSecrets"]) == toset(["arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf"])
    error_message = "The execution role must read the secret itself (its ARN without the JSON-key suffix), and only it."
  }
  assert {
    condition     = one([for s in data.aws_iam_policy_document.execution.statement : s.resources if s.sid == "SsmSecrets"]) == toset(["arn:aws:ssm:eu-west-1:123456789012:parameter/mlinfra/token"])
    error_message = "The execution role must read only the listed SSM parameter."
  }
  assert {
    condition     = length(aws_iam_role_policy.task) == 1
    error_message = "A task role policy must be attached when given."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].healthCheck.command == ["CMD-SHELL", "curl -f http://localhost:9000/health || exit 1"] && jsondecode(aws_ecs_task_definition.this.container_definitions)[0].portMappings[0].containerPort == 9000
    error_message = "A given health check command and container port must be used."
  }
  assert {
    condition     = aws_ecs_service.this[0].deployment_minimum_healthy_percent == 50 && aws_ecs_service.this[0].deployment_circuit_breaker[0].rollback == false
    error_message = "deployment settings must reach the service."
  }
}

run "capabilities_added_back_and_privileges_allowed" {
  command = plan

  variables {
    linux_capabilities = { add = ["NET_BIND_SERVICE"] }
    no_new_privileges  = false
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].linuxParameters.capabilities == { add = ["NET_BIND_SERVICE"], drop = ["ALL"] }
    error_message = "Capabilities given back must be added while the rest stay dropped."
  }
  assert {
    condition     = !can(jsondecode(aws_ecs_task_definition.this.container_definitions)[0].dockerSecurityOptions)
    error_message = "With no_new_privileges = false, dockerSecurityOptions must be left out (ECS returns no empty list)."
  }
}

run "no_capability_change_leaves_the_key_out" {
  command = plan

  variables {
    linux_capabilities = { drop = [] }
  }

  assert {
    condition     = !can(jsondecode(aws_ecs_task_definition.this.container_definitions)[0].linuxParameters.capabilities)
    error_message = "Nothing added or dropped: capabilities must be left out, as ECS returns it."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].linuxParameters.initProcessEnabled
    error_message = "The other Linux parameters must stay."
  }
}

run "rejects_bad_capabilities" {
  command = plan

  variables {
    linux_capabilities = { add = ["CAP_NET_ADMIN"] }
  }

  expect_failures = [var.linux_capabilities]
}

run "iam_role_path_and_permissions_boundary" {
  command = plan

  variables {
    iam_role_path                 = "/mlinfra/"
    iam_role_permissions_boundary = "arn:aws:iam::123456789012:policy/team-boundary"
  }

  assert {
    condition     = alltrue([for role in [aws_iam_role.execution, aws_iam_role.task] : role.path == "/mlinfra/" && role.permissions_boundary == "arn:aws:iam::123456789012:policy/team-boundary"])
    error_message = "Both roles (execution and task) must take the given path and permissions boundary."
  }
}

run "iam_defaults_set_no_boundary" {
  command = plan

  assert {
    condition     = alltrue([for role in [aws_iam_role.execution, aws_iam_role.task] : role.path == "/" && role.permissions_boundary == null])
    error_message = "By default both roles sit at \"/\" with no permissions boundary, as before."
  }
}

run "rejects_bad_iam_role_path_and_boundary" {
  command = plan

  variables {
    iam_role_path                 = "/mlinfra"
    iam_role_permissions_boundary = "arn:aws:iam::123456789012:role/not-a-policy"
  }

  expect_failures = [var.iam_role_path, var.iam_role_permissions_boundary]
}

run "enable_autoscaling_still_plans_with_a_warning" {
  command = plan

  variables {
    enable_autoscaling = true
  }

  expect_failures = [check.enable_autoscaling_is_deprecated]
}

run "rejects_bad_inputs" {
  command = plan

  variables {
    container_image        = "mlinfra:latest"
    repository_arn         = "mlinfra-test"
    cluster_arn            = "mlinfra-test"
    target_group_arn       = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/x/1"
    log_group_name         = "arn:aws:logs:eu-west-1:123456789012:log-group:/x"
    secrets                = { TOKEN = "my-token-name" }
    stop_timeout           = 600
    health_check           = { interval = 5, timeout = 10 }
    deployment             = { minimum_healthy_percent = 100, maximum_percent = 100 }
    placement_spread       = ["memory"]
    task_role_policy_json  = "not json"
    capacity_provider_name = ""
  }

  expect_failures = [
    var.container_image,
    var.repository_arn,
    var.cluster_arn,
    var.target_group_arn,
    var.log_group_name,
    var.secrets,
    var.stop_timeout,
    var.health_check,
    var.deployment,
    var.placement_spread,
    var.task_role_policy_json,
    var.capacity_provider_name,
  ]
}

run "an_existing_caller_gets_no_new_container_key_volume_or_policy" {
  command = plan

  assert {
    condition = (
      length(jsondecode(aws_ecs_task_definition.this.container_definitions)) == 1 &&
      !contains(keys(jsondecode(aws_ecs_task_definition.this.container_definitions)[0]), "resourceRequirements") &&
      !contains(keys(jsondecode(aws_ecs_task_definition.this.container_definitions)[0]), "mountPoints") &&
      length(aws_ecs_task_definition.this.volume) == 0 && length(aws_iam_role_policy.task_platform) == 0 &&
      aws_ecs_service.this[0].enable_execute_command == false && length(aws_ecs_service.this[0].load_balancer) == 1 &&
      length(aws_ecs_service.this[0].network_configuration) == 0 && aws_ecs_service.this[0].health_check_grace_period_seconds == 60
    )
    error_message = "Without the new inputs the task and service are as before."
  }
}

run "gpu_sidecar_efs_volume_and_ecs_exec" {
  command = plan

  variables {
    gpu                        = 1
    additional_repository_arns = ["arn:aws:ecr:eu-west-1:123456789012:repository/otel"]
    sidecars = {
      otel = { image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/otel:v1", memoryReservation = 128 }
    }
    volumes = {
      models = { container_path = "/opt/mlinfra/model", efs = { file_system_id = "fs-0123abcd", access_point_id = "fsap-0123abcd" } }
      cache  = { container_path = "/var/cache/model", read_only = false, efs = { file_system_id = "fs-4567cdef" } }
    }
    enable_execute_command = true
  }

  assert {
    condition = (
      jsondecode(aws_ecs_task_definition.this.container_definitions)[0].resourceRequirements == [{ type = "GPU", value = "1" }] &&
      jsondecode(aws_ecs_task_definition.this.container_definitions)[0].mountPoints == [
        { sourceVolume = "cache", containerPath = "/var/cache/model", readOnly = false },
        { sourceVolume = "models", containerPath = "/opt/mlinfra/model", readOnly = true },
      ]
    )
    error_message = "The main container reserves the GPU and mounts each volume."
  }

  assert {
    condition = (
      jsondecode(aws_ecs_task_definition.this.container_definitions)[1].name == "otel" &&
      jsondecode(aws_ecs_task_definition.this.container_definitions)[1].essential == false &&
      jsondecode(aws_ecs_task_definition.this.container_definitions)[1].memoryReservation == 128 &&
      jsondecode(aws_ecs_task_definition.this.container_definitions)[1].logConfiguration.options.awslogs-stream-prefix == "ecs-otel"
    )
    error_message = "A sidecar is a second, non-essential container logging under its own prefix."
  }


  assert {
    condition = (
      aws_ecs_service.this[0].enable_execute_command &&
      contains(flatten([for st in data.aws_iam_policy_document.task_platform[0].statement : st.actions if st.sid == "EcsExec"]), "ssmmessages:OpenDataChannel") &&
      flatten([for st in data.aws_iam_policy_document.task_platform[0].statement : st.actions if st.sid == "EfsModels"]) == ["elasticfilesystem:ClientMount"] &&
      contains(flatten([for st in data.aws_iam_policy_document.task_platform[0].statement : st.actions if st.sid == "EfsCache"]), "elasticfilesystem:ClientWrite") &&
      length(aws_iam_role_policy.task_platform) == 1
    )
    error_message = "ECS Exec grants the ssmmessages channels; EFS grants ClientMount (and ClientWrite when writable) on its file system."
  }

  assert {
    condition     = flatten([for st in data.aws_iam_policy_document.execution.statement : st.resources if st.sid == "EcrPull"]) == ["arn:aws:ecr:eu-west-1:123456789012:repository/mlinfra-test", "arn:aws:ecr:eu-west-1:123456789012:repository/otel"]
    error_message = "The execution role pulls from every repository named."
  }
}

run "awsvpc_worker_without_a_load_balancer" {
  command = plan

  variables {
    target_group_arn = null
    network_mode     = "awsvpc"
    awsvpc           = { subnet_ids = ["subnet-0aaa1111"], security_group_ids = ["sg-0a1b2c3d"] }
  }

  assert {
    condition = (
      aws_ecs_task_definition.this.network_mode == "awsvpc" &&
      jsondecode(aws_ecs_task_definition.this.container_definitions)[0].portMappings[0].hostPort == 8080 &&
      length(aws_ecs_service.this[0].load_balancer) == 0 && aws_ecs_service.this[0].health_check_grace_period_seconds == null &&
      aws_ecs_service.this[0].network_configuration[0].subnets == toset(["subnet-0aaa1111"]) &&
      aws_ecs_service.this[0].network_configuration[0].assign_public_ip == false
    )
    error_message = "awsvpc gives the task its own interface (host port = container port); no target group means no load balancer and no grace period."
  }
}

run "awsvpc_without_subnets_names_the_fix" {
  command = plan

  variables {
    network_mode = "awsvpc"
  }

  expect_failures = [aws_ecs_service.this]
}

run "rejects_bad_gpu_sidecars_volumes_and_repositories" {
  command = plan

  variables {
    gpu                        = 1.5
    sidecars                   = { otel = { memory = 128 } }
    volumes                    = { models = { container_path = "models", efs = { file_system_id = "efs-1" } } }
    additional_repository_arns = ["otel"]
    network_mode               = "host"
  }

  expect_failures = [var.gpu, var.sidecars, var.volumes, var.additional_repository_arns, var.network_mode]
}
