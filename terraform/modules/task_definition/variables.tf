################################################################################
# Common
################################################################################

variable "name" {
  description = "Name of the service; also the task definition family, the container name and the stem of the IAM role names."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9_-]{0,39}$", var.name))
    error_message = "name must be 1-40 letters, digits, '-' or '_', starting with a letter (\"<name>-task-execution\" must fit IAM's 64 characters); shorten or rename it."
  }
}

variable "tags" {
  description = "Tags added to every resource the module creates (and propagated from the service to its tasks)."
  type        = map(string)
  default     = {}
  nullable    = false
}

################################################################################
# Task Definition
################################################################################

variable "container_image" {
  description = "Full image URI with its tag or digest, e.g. \"123456789012.dkr.ecr.us-east-1.amazonaws.com/mlinfra-prod:a1b2c3d-0123abcd\"."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[^\\s]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$", var.container_image)) && !endswith(var.container_image, ":latest")
    error_message = "container_image must be an image URI ending in a tag (\":<tag>\", not \":latest\") or a digest (\"@sha256:...\"), so that each deploy names one exact image; use the tag `mlinfra build` printed."
  }
}

variable "container_port" {
  description = "Port the container listens on; Docker maps it to an ephemeral host port (bridge mode, host port 0)."
  type        = number
  default     = 8080
  nullable    = false

  validation {
    condition     = var.container_port >= 1 && var.container_port <= 65535 && floor(var.container_port) == var.container_port
    error_message = "container_port must be a whole number from 1 to 65535 (the port the server binds inside the container)."
  }
}

variable "cpu" {
  description = "CPU units reserved for the task (1024 = one vCPU)."
  type        = number
  default     = 512
  nullable    = false

  validation {
    condition     = var.cpu >= 128 && var.cpu <= 196608
    error_message = "cpu must be between 128 and 196608 CPU units (1024 = one vCPU)."
  }
}

variable "memory" {
  description = "Hard memory limit of the task in MiB; the container is killed above it."
  type        = number
  default     = 1024
  nullable    = false

  validation {
    condition     = var.memory >= 128
    error_message = "memory must be at least 128 MiB (and fit the instance type)."
  }
}

variable "command" {
  description = "Overrides the image's CMD (null keeps the image's)."
  type        = list(string)
  default     = null
}

variable "environment" {
  description = "Plain environment variables of the container. Put credentials in secrets, never here."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "secrets" {
  description = "Environment variables read at start from SSM parameters or Secrets Manager secrets: name => ARN (a Secrets Manager ARN may carry a \":json-key::\" suffix). The execution role may read only these."
  type        = map(string)
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for arn in values(var.secrets) : can(regex("^arn:[a-z-]+:(ssm:[a-z0-9-]+:[0-9]{12}:parameter/|secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:)", arn))])
    error_message = "Each secrets value must be the full ARN of an SSM parameter (\"arn:aws:ssm:<region>:<account>:parameter/...\") or a Secrets Manager secret (\"arn:aws:secretsmanager:<region>:<account>:secret:...\"), not a name."
  }
}

variable "secrets_kms_key_arns" {
  description = "Customer-managed KMS keys the secrets are encrypted with (the execution role gets kms:Decrypt on these only)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.secrets_kms_key_arns : can(regex("^arn:[a-z-]+:kms:", arn))])
    error_message = "secrets_kms_key_arns must hold KMS key ARNs (\"arn:aws:kms:<region>:<account>:key/...\")."
  }
}

variable "health_check" {
  description = "Container health check. command null probes http://127.0.0.1:<container_port><path> with python3 (in the mlinfra image); give a command for other images."
  type = object({
    command      = optional(list(string))
    path         = optional(string, "/ready")
    interval     = optional(number, 15)
    timeout      = optional(number, 5)
    retries      = optional(number, 3)
    start_period = optional(number, 30)
  })
  default  = {}
  nullable = false

  validation {
    condition = (
      var.health_check.interval >= 5 && var.health_check.interval <= 300 &&
      var.health_check.timeout >= 2 && var.health_check.timeout <= 60 && var.health_check.timeout < var.health_check.interval &&
      var.health_check.retries >= 1 && var.health_check.retries <= 10 &&
      var.health_check.start_period >= 0 && var.health_check.start_period <= 300
    )
    error_message = "health_check needs interval 5-300 s, timeout 2-60 s and shorter than interval, retries 1-10, start_period 0-300 s (ECS's limits)."
  }

  validation {
    condition     = startswith(var.health_check.path, "/") && (var.health_check.command == null || contains(["CMD", "CMD-SHELL"], try(var.health_check.command[0], "")))
    error_message = "health_check.path must start with \"/\", and a health_check.command must start with \"CMD\" or \"CMD-SHELL\", e.g. [\"CMD-SHELL\", \"curl -f http://localhost:8080/ready || exit 1\"]."
  }
}

variable "stop_timeout" {
  description = "Seconds between SIGTERM and SIGKILL when a task stops; give in-flight requests time to finish."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.stop_timeout >= 2 && var.stop_timeout <= 120
    error_message = "stop_timeout must be between 2 and 120 seconds (ECS's limit)."
  }
}

variable "readonly_root_filesystem" {
  description = "Mount the container's root filesystem read-only (the mlinfra image writes only to tmpfs_mounts). Turn off only for images that write elsewhere."
  type        = bool
  default     = true
  nullable    = false
}

variable "linux_capabilities" {
  description = "Linux capabilities of the container: drop lists those removed (all by default), add those given back, e.g. [\"NET_BIND_SERVICE\"] for a port below 1024. Names as ECS spells them, without CAP_."
  type = object({
    add  = optional(list(string), [])
    drop = optional(list(string), ["ALL"])
  })
  default  = {}
  nullable = false

  validation {
    condition = alltrue([
      for name in concat(var.linux_capabilities.add, var.linux_capabilities.drop) : contains(["ALL", "AUDIT_CONTROL", "AUDIT_WRITE", "BLOCK_SUSPEND", "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "IPC_LOCK", "IPC_OWNER", "KILL", "LEASE", "LINUX_IMMUTABLE", "MAC_ADMIN", "MAC_OVERRIDE", "MKNOD", "NET_ADMIN", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_ADMIN", "SYS_BOOT", "SYS_CHROOT", "SYS_MODULE", "SYS_NICE", "SYS_PACCT", "SYS_PTRACE", "SYS_RAWIO", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "SYSLOG", "WAKE_ALARM"], name)
    ])
    error_message = "linux_capabilities ${jsonencode(var.linux_capabilities)} holds names ECS does not know; use its spelling without the CAP_ prefix, e.g. \"NET_BIND_SERVICE\", or \"ALL\"."
  }
}

variable "no_new_privileges" {
  description = "Start the container with Docker's no-new-privileges option, so no process in it can gain privileges (setuid binaries, file capabilities)."
  type        = bool
  default     = true
  nullable    = false
}

variable "tmpfs_mounts" {
  description = "Writable in-memory mounts: container path => size in MiB (the mlinfra image keeps its metrics under /tmp)."
  type        = map(number)
  default     = { "/tmp" = 64 }
  nullable    = false

  validation {
    condition     = alltrue([for path, size in var.tmpfs_mounts : startswith(path, "/") && size >= 1])
    error_message = "tmpfs_mounts must map absolute container paths (\"/tmp\") to sizes of at least 1 MiB."
  }
}

variable "log_group_name" {
  description = "CloudWatch Logs group the container writes to (the cloudwatch module's log_group_name)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[\\w./#-]{1,512}$", var.log_group_name))
    error_message = "log_group_name must be a log group name (1-512 of letters, digits, '_', '-', '/', '.', '#'), not an ARN; pass the cloudwatch module's log_group_name output."
  }
}

variable "log_stream_prefix" {
  description = "Prefix of the log streams; ECS names each stream <prefix>/<container>/<task id>."
  type        = string
  default     = "ecs"
  nullable    = false
}

################################################################################
# Task Execution IAM Role
################################################################################

variable "repository_arn" {
  description = "ARN of the ECR repository holding the image (the ecr module's repository_arn): the only repository the execution role can pull from."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^arn:[a-z-]+:ecr:[a-z0-9-]+:[0-9]{12}:repository/.+$", var.repository_arn))
    error_message = "repository_arn must be an ECR repository ARN (\"arn:aws:ecr:<region>:<account>:repository/<name>\"); pass the ecr module's repository_arn output."
  }
}

variable "additional_repository_arns" {
  description = "More ECR repositories the execution role may pull from, for sidecars' images."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.additional_repository_arns : can(regex("^arn:[a-z-]+:ecr:[a-z0-9-]+:[0-9]{12}:repository/.+$", arn))])
    error_message = "additional_repository_arns ${jsonencode(var.additional_repository_arns)} must hold ECR repository ARNs (\"arn:aws:ecr:<region>:<account>:repository/<name>\"); pass ecr modules' repository_arn outputs."
  }
}

variable "iam_role_path" {
  description = "IAM path of both roles, task execution and task (e.g. \"/mlinfra/\"), for organisations that give teams a path of their own."
  type        = string
  default     = "/"
  nullable    = false

  validation {
    condition     = can(regex("^/([\\x21-\\x7E]{0,510}/)?$", var.iam_role_path))
    error_message = "iam_role_path is \"${var.iam_role_path}\"; set a path that starts and ends with \"/\" (e.g. \"/mlinfra/\"), or \"/\" for none."
  }
}

variable "iam_role_permissions_boundary" {
  description = "ARN of the managed policy set as the permissions boundary of both roles, task execution and task; null sets none. Organisations that enforce boundaries refuse roles created without one."
  type        = string
  default     = null

  validation {
    condition     = var.iam_role_permissions_boundary == null || can(regex("^arn:aws[a-z-]*:iam::(aws|[0-9]{12}):policy/", var.iam_role_permissions_boundary))
    error_message = "iam_role_permissions_boundary must be the ARN of an IAM managed policy, \"arn:aws:iam::<account>:policy/<name>\"; leave it null for no boundary."
  }
}

################################################################################
# Task IAM Role
################################################################################

variable "task_role_policy_json" {
  description = "IAM policy (JSON) for what the application itself may call in AWS. Null: the task role grants nothing."
  type        = string
  default     = null

  validation {
    condition     = var.task_role_policy_json == null || can(jsondecode(var.task_role_policy_json).Statement)
    error_message = "task_role_policy_json must be an IAM policy document in JSON with a Statement (e.g. from data.aws_iam_policy_document.<name>.json), or null."
  }
}

################################################################################
# Service
################################################################################

variable "cluster_arn" {
  description = "ARN of the ECS cluster to run in (the ecs_ec2_cluster module's cluster_arn)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^arn:[a-z-]+:ecs:[a-z0-9-]+:[0-9]{12}:cluster/.+$", var.cluster_arn))
    error_message = "cluster_arn must be an ECS cluster ARN (\"arn:aws:ecs:<region>:<account>:cluster/<name>\"); pass the ecs_ec2_cluster module's cluster_arn output."
  }
}

variable "capacity_provider_name" {
  description = "Capacity provider that places the tasks (the ecs_ec2_cluster module's capacity_provider_name)."
  type        = string
  nullable    = false

  validation {
    condition     = length(var.capacity_provider_name) > 0
    error_message = "capacity_provider_name must not be empty; pass the ecs_ec2_cluster module's capacity_provider_name output."
  }
}

variable "target_group_arn" {
  description = "ALB target group the service registers its tasks in (the alb module's target_group_arn, or target_groups[KEY].arn). null: a service no load balancer reaches (a queue or batch worker)."
  type        = string
  default     = null

  validation {
    condition     = var.target_group_arn == null || can(regex("^arn:[a-z-]+:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:targetgroup/.+$", var.target_group_arn))
    error_message = "target_group_arn must be a target group ARN (\"arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/...\"); pass the alb module's target_group_arn output, or null for a service without a load balancer."
  }
}

variable "desired_count" {
  description = "Number of tasks the service starts with. Terraform ignores later changes (ignore_changes): the autoscaling module's target, or an operator, owns the count afterwards."
  type        = number
  default     = 2
  nullable    = false

  validation {
    condition     = var.desired_count >= 0 && floor(var.desired_count) == var.desired_count
    error_message = "desired_count must be a whole number >= 0 (use at least 2 for a service that survives one task's loss)."
  }
}

variable "enable_autoscaling" {
  description = "Deprecated, no effect: desired_count is now always only the starting count, so switching autoscaling on or off needs nothing here (setting it warns). Remove it from the module call."
  type        = bool
  default     = null
}

variable "deployment" {
  description = "Rolling deployment: healthy percentages during a deploy, the circuit breaker's rollback, and the seconds the load balancer health check is ignored after a task starts."
  type = object({
    minimum_healthy_percent           = optional(number, 100)
    maximum_percent                   = optional(number, 200)
    rollback_on_failure               = optional(bool, true)
    health_check_grace_period_seconds = optional(number, 60)
    wait_for_steady_state             = optional(bool, false)
  })
  default  = {}
  nullable = false

  validation {
    condition = (
      var.deployment.minimum_healthy_percent >= 0 && var.deployment.minimum_healthy_percent <= 100 &&
      var.deployment.maximum_percent >= 100 && var.deployment.maximum_percent <= 200 &&
      var.deployment.maximum_percent > var.deployment.minimum_healthy_percent
    )
    error_message = "deployment needs 0 <= minimum_healthy_percent <= 100 < maximum_percent <= 200 (e.g. 100 and 200: start new tasks before stopping old ones)."
  }

  validation {
    condition     = var.deployment.health_check_grace_period_seconds >= 0 && var.deployment.health_check_grace_period_seconds <= 2147483647
    error_message = "deployment.health_check_grace_period_seconds must be >= 0."
  }
}

variable "placement_spread" {
  description = "Spread tasks across these placement fields, in order (Availability Zones first, then instances)."
  type        = list(string)
  default     = ["attribute:ecs.availability-zone", "instanceId"]
  nullable    = false

  validation {
    condition     = length(var.placement_spread) <= 5 && alltrue([for f in var.placement_spread : f == "instanceId" || startswith(f, "attribute:")])
    error_message = "placement_spread must hold at most 5 fields, each \"instanceId\" or \"attribute:<name>\" (e.g. \"attribute:ecs.availability-zone\")."
  }
}

################################################################################
# Task Definition
################################################################################

variable "gpu" {
  description = "GPUs reserved for the main container (resourceRequirements type GPU); 0 for none. The cluster's instances must have them (a GPU instance type and the ECS GPU-optimized AMI: ecs_ec2_cluster's ami_ssm_parameter_name = \"/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id\")."
  type        = number
  default     = 0
  nullable    = false

  validation {
    condition     = var.gpu >= 0 && var.gpu <= 16 && floor(var.gpu) == var.gpu
    error_message = "gpu ${var.gpu} must be a whole number of GPUs from 0 to 16 (the most an EC2 instance has)."
  }
}

variable "sidecars" {
  description = "More containers of the task, keyed by container name, each an ECS container definition in its JSON names (image required; e.g. { otel = { image = \"public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0\", memoryReservation = 128 } }). Defaults: essential false, logs to log_group_name under \"<log_stream_prefix>-<name>\". Images from ECR need their repository in additional_repository_arns."
  type        = any
  default     = {}
  nullable    = false

  validation {
    condition     = can(keys(var.sidecars)) && alltrue([for c in values(var.sidecars) : can(tostring(c.image))])
    error_message = "sidecars must be a map of container definitions keyed by container name, each with an image, e.g. { otel = { image = \"...\" } }."
  }
}

variable "volumes" {
  description = "Task volumes keyed by name, each mounted in the main container at container_path: an EFS file system (efs, e.g. the models; transit-encrypted, authorised by the task role, which gets elasticfilesystem:ClientMount and, unless read_only, ClientWrite) or a host_path on the instance."
  type = map(object({
    container_path = string
    read_only      = optional(bool, true)
    host_path      = optional(string)
    efs = optional(object({
      file_system_id  = string
      root_directory  = optional(string, "/")
      access_point_id = optional(string)
    }))
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for v in values(var.volumes) : startswith(v.container_path, "/") && (v.efs == null) != (v.host_path == null)])
    error_message = "Each volume needs an absolute container_path and exactly one of efs = { file_system_id = \"fs-...\" } or host_path."
  }

  validation {
    condition     = alltrue([for v in values(var.volumes) : v.efs == null || can(regex("^fs-[0-9a-f]+$", v.efs.file_system_id)) && (try(v.efs.access_point_id, null) == null || can(regex("^fsap-[0-9a-f]+$", v.efs.access_point_id)))])
    error_message = "volumes' efs.file_system_id must look like \"fs-0123abcd\" and efs.access_point_id (optional) like \"fsap-0123abcd\"."
  }
}

variable "network_mode" {
  description = "\"bridge\" (the default: dynamic host ports behind instance targets) or \"awsvpc\" (each task its own interface and security group, in awsvpc.subnet_ids; its target group needs target_type \"ip\")."
  type        = string
  default     = "bridge"
  nullable    = false

  validation {
    condition     = contains(["bridge", "awsvpc"], var.network_mode)
    error_message = "network_mode \"${var.network_mode}\" must be \"bridge\" or \"awsvpc\"."
  }
}

variable "awsvpc" {
  description = "Subnets and security groups of the tasks' interfaces, with network_mode = \"awsvpc\" (private subnets: EC2 tasks get no public IP)."
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  default = null
}

################################################################################
# Service
################################################################################

variable "enable_execute_command" {
  description = "ECS Exec (`aws ecs execute-command`) into the tasks: turns it on for the service and grants the task role the ssmmessages channels. The instances need the SSM agent's permissions (ecs_ec2_cluster's enable_ssm_session_manager)."
  type        = bool
  default     = false
  nullable    = false
}
