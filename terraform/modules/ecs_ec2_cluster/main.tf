data "aws_partition" "current" {}

locals {
  # Bridge mode with host port 0: the ECS agent maps each container to a port in this range
  # (ECS_DYNAMIC_HOST_PORT_RANGE), which the ALB reaches through the registered instance
  # targets. The alb module's target_port_range must be the same range.
  ephemeral_port_from = var.host_port_range.from_port
  ephemeral_port_to   = var.host_port_range.to_port
  # Written to the agent only when it differs from the agent's own default, so the launch
  # template of an existing caller does not change.
  host_port_config = var.host_port_range == { from_port = 32768, to_port = 65535 } ? {} : {
    ECS_DYNAMIC_HOST_PORT_RANGE = "${var.host_port_range.from_port}-${var.host_port_range.to_port}"
  }
  # Instances launched into a warm pool must not register with the cluster until they leave it.
  warm_pool_config = var.warm_pool != null ? { ECS_WARM_POOLS_CHECK = "true" } : {}
}

################################################################################
# Cluster
################################################################################

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = var.container_insights
  }

  tags = var.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = [aws_ecs_capacity_provider.this.name]

  default_capacity_provider_strategy {
    capacity_provider = aws_ecs_capacity_provider.this.name
    weight            = 1
    base              = 0
  }
}

################################################################################
# Instance IAM Role
################################################################################

data "aws_iam_policy_document" "instance_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "instance" {
  name                 = "${var.name}-ecs-instance"
  description          = "ECS container instances of cluster ${var.name}"
  assume_role_policy   = data.aws_iam_policy_document.instance_assume.json
  path                 = var.iam_role_path
  permissions_boundary = var.iam_role_permissions_boundary

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "instance" {
  for_each = toset(concat(
    ["service-role/AmazonEC2ContainerServiceforEC2Role"],
    var.enable_ssm_session_manager ? ["AmazonSSMManagedInstanceCore"] : [],
  ))

  role       = aws_iam_role.instance.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/${each.value}"
}

resource "aws_iam_instance_profile" "instance" {
  name = "${var.name}-ecs-instance"
  path = var.iam_role_path
  role = aws_iam_role.instance.name

  tags = var.tags
}

################################################################################
# Instance Security Group
################################################################################

resource "aws_security_group" "instance" {
  name_prefix = "${var.name}-ecs-instance-"
  description = "ECS container instances of ${var.name}: the ALB on bridge-mode host ports in, HTTPS out"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-ecs-instance" })

  lifecycle {
    create_before_destroy = true
  }
}

# NOTE: standalone rules rather than aws_vpc_security_group_ingress_rule: the latter's
# referenced_security_group_id is read back in another form by some APIs and shows as drift.
resource "aws_security_group_rule" "alb_to_host_ports" {
  type                     = "ingress"
  description              = "ALB to containers on bridge-mode ephemeral host ports"
  security_group_id        = aws_security_group.instance.id
  source_security_group_id = var.alb_security_group_id
  protocol                 = "tcp"
  from_port                = local.ephemeral_port_from
  to_port                  = local.ephemeral_port_to
}

resource "aws_security_group_rule" "https_out" {
  type              = "egress"
  description       = "HTTPS to the ECS, ECR, CloudWatch Logs and SSM endpoints"
  security_group_id = aws_security_group.instance.id
  cidr_blocks       = var.egress_cidr_blocks
  protocol          = "tcp"
  from_port         = 443
  to_port           = 443
}

################################################################################
# Launch Template
################################################################################

data "aws_ssm_parameter" "ami" {
  count = var.ami_id == null ? 1 : 0

  name = var.ami_ssm_parameter_name
}

locals {
  ami_id     = var.ami_id != null ? var.ami_id : nonsensitive(data.aws_ssm_parameter.ami[0].value)
  ecs_config = merge(var.ecs_agent_config, local.host_port_config, local.warm_pool_config, { ECS_CLUSTER = var.name })
  # Built from lines, not a template: a shell heredoc terminator must start its line.
  user_data = join("\n", concat(
    ["#!/bin/bash", "cat >> /etc/ecs/ecs.config <<'CONFIG'"],
    [for key, value in local.ecs_config : "${key}=${value}"],
    ["CONFIG", ""],
  ))
}

resource "aws_launch_template" "this" {
  name_prefix            = "${var.name}-ecs-"
  description            = "ECS container instances of cluster ${var.name}"
  image_id               = local.ami_id
  instance_type          = var.instance_type
  user_data              = base64encode(local.user_data)
  vpc_security_group_ids = [aws_security_group.instance.id]
  update_default_version = true
  ebs_optimized          = true

  iam_instance_profile {
    arn = aws_iam_instance_profile.instance.arn
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = var.metadata_hop_limit
  }

  block_device_mappings {
    device_name = "/dev/xvda"

    ebs {
      volume_size           = var.root_volume.size_gb
      volume_type           = var.root_volume.type
      encrypted             = true
      kms_key_id            = var.root_volume.kms_key_arn
      delete_on_termination = true
    }
  }

  monitoring {
    enabled = true
  }

  # NOTE: instance tags come from the Auto Scaling group (propagate_at_launch), not from
  # tag_specifications here, so that one set of tags has one owner.
  tags = var.tags
}

################################################################################
# Auto Scaling Group
################################################################################

resource "aws_autoscaling_group" "this" {
  name                = "${var.name}-ecs"
  vpc_zone_identifier = var.subnet_ids
  min_size            = var.instance_count.min
  max_size            = var.instance_count.max
  # desired_capacity is left out: the capacity provider's managed scaling owns it.
  health_check_type     = "EC2"
  protect_from_scale_in = var.managed_termination_protection
  force_delete          = var.force_delete

  dynamic "launch_template" {
    for_each = var.spot == null ? [1] : []

    content {
      id      = aws_launch_template.this.id
      version = aws_launch_template.this.latest_version
    }
  }

  # Spot: the launch template with several instance types, On-Demand for the base only.
  dynamic "mixed_instances_policy" {
    for_each = var.spot != null ? [var.spot] : []

    content {
      instances_distribution {
        on_demand_base_capacity                  = mixed_instances_policy.value.on_demand_base_capacity
        on_demand_percentage_above_base_capacity = mixed_instances_policy.value.on_demand_percentage_above_base_capacity
        spot_allocation_strategy                 = mixed_instances_policy.value.allocation_strategy
      }

      launch_template {
        launch_template_specification {
          launch_template_id = aws_launch_template.this.id
          version            = aws_launch_template.this.latest_version
        }

        dynamic "override" {
          for_each = distinct(concat([var.instance_type], mixed_instances_policy.value.instance_types))

          content {
            instance_type = override.value
          }
        }
      }
    }
  }

  # A new launch template version (a new AMI, instance type or agent setting) replaces the
  # fleet in rolling batches instead of waiting for instances to be recycled by hand.
  dynamic "instance_refresh" {
    for_each = var.instance_refresh.enable ? [var.instance_refresh] : []

    content {
      strategy = "Rolling"

      preferences {
        min_healthy_percentage = instance_refresh.value.min_healthy_percentage
        instance_warmup        = tostring(instance_refresh.value.instance_warmup)
        skip_matching          = true
        # Scale-in protection (managed termination protection) must not stall the refresh:
        # protected instances are replaced too, after ECS drains their tasks.
        scale_in_protected_instances = "Refresh"
      }
    }
  }

  dynamic "warm_pool" {
    for_each = var.warm_pool != null ? [var.warm_pool] : []

    content {
      pool_state                  = warm_pool.value.pool_state
      min_size                    = warm_pool.value.min_size
      max_group_prepared_capacity = warm_pool.value.max_prepared_capacity

      instance_reuse_policy {
        reuse_on_scale_in = warm_pool.value.reuse_on_scale_in
      }
    }
  }

  dynamic "tag" {
    for_each = merge(var.tags, {
      Name = "${var.name}-ecs"
      # ECS adds this tag when managed scaling is on; declaring it keeps plans clean.
      AmazonECSManaged = "true"
    })

    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }

  lifecycle {
    precondition {
      condition     = var.warm_pool == null || var.spot == null
      error_message = "warm_pool and spot are both set, but an Auto Scaling group with a mixed instances policy cannot have a warm pool; drop one of them."
    }
  }
}

################################################################################
# Capacity Provider
################################################################################

resource "aws_ecs_capacity_provider" "this" {
  name = "${var.name}-ec2"

  auto_scaling_group_provider {
    auto_scaling_group_arn = aws_autoscaling_group.this.arn
    # Must match the group's protect_from_scale_in, or ECS rejects the capacity provider.
    managed_termination_protection = var.managed_termination_protection ? "ENABLED" : "DISABLED"
    managed_draining               = "ENABLED"

    managed_scaling {
      status                    = "ENABLED"
      target_capacity           = var.managed_scaling.target_capacity
      minimum_scaling_step_size = var.managed_scaling.minimum_scaling_step_size
      maximum_scaling_step_size = var.managed_scaling.maximum_scaling_step_size
      instance_warmup_period    = var.managed_scaling.instance_warmup_period
    }
  }

  tags = var.tags
}
