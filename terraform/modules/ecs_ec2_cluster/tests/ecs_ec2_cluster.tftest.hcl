mock_provider "aws" {
  source = "../../testing/mocks"
}

variables {
  name                  = "mlinfra-test"
  vpc_id                = "vpc-0123abcd"
  subnet_ids            = ["subnet-0aaa1111", "subnet-0bbb2222"]
  alb_security_group_id = "sg-0a1b2c3d"
}

run "defaults_are_secure" {
  command = plan

  assert {
    condition     = one([for s in aws_ecs_cluster.this.setting : s.value if s.name == "containerInsights"]) == "enabled"
    error_message = "Container Insights must be on by default."
  }
  assert {
    condition     = aws_launch_template.this.metadata_options[0].http_tokens == "required" && aws_launch_template.this.metadata_options[0].http_put_response_hop_limit == 1
    error_message = "IMDSv2 must be required, with hop limit 1 so that bridge-mode containers cannot reach instance credentials."
  }
  assert {
    condition     = aws_launch_template.this.block_device_mappings[0].ebs[0].encrypted == "true"
    error_message = "The root volume must be encrypted."
  }
  assert {
    condition     = aws_launch_template.this.image_id == "ami-0aaaaaaaaaaaaaaaa" && data.aws_ssm_parameter.ami[0].name == "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
    error_message = "The AMI must come from the ECS-optimized AL2023 SSM parameter by default."
  }
  assert {
    condition     = strcontains(base64decode(aws_launch_template.this.user_data), "\nECS_CLUSTER=mlinfra-test\n")
    error_message = "User data must join the instances to the cluster."
  }
  assert {
    condition = (
      aws_security_group_rule.alb_to_host_ports.source_security_group_id == "sg-0a1b2c3d" &&
      aws_security_group_rule.alb_to_host_ports.from_port == 32768 && aws_security_group_rule.alb_to_host_ports.to_port == 65535 &&
      aws_security_group_rule.alb_to_host_ports.cidr_blocks == null
    )
    error_message = "Only the ALB's security group may reach the instances, on the ephemeral host ports 32768-65535."
  }
  assert {
    condition     = aws_security_group_rule.https_out.from_port == 443 && aws_security_group_rule.https_out.to_port == 443
    error_message = "Egress must be HTTPS only."
  }
  assert {
    condition     = aws_autoscaling_group.this.protect_from_scale_in && aws_ecs_capacity_provider.this.auto_scaling_group_provider[0].managed_termination_protection == "ENABLED"
    error_message = "Scale-in protection and managed termination protection must both be on by default."
  }
  assert {
    condition     = aws_ecs_capacity_provider.this.auto_scaling_group_provider[0].managed_scaling[0].status == "ENABLED"
    error_message = "Managed scaling must be on."
  }
  assert {
    condition     = aws_autoscaling_group.this.force_delete == false && length(aws_autoscaling_group.this.vpc_zone_identifier) == 2
    error_message = "The group must span the given subnets, and not force-delete by default."
  }
  assert {
    condition     = toset(keys(aws_iam_role_policy_attachment.instance)) == toset(["service-role/AmazonEC2ContainerServiceforEC2Role", "AmazonSSMManagedInstanceCore"])
    error_message = "The instance role must hold exactly the ECS instance and SSM core policies."
  }
}

run "custom_ami_no_protection_no_ssm" {
  command = plan

  variables {
    ami_id                         = "ami-0123456789abcdef0"
    instance_type                  = "c7i.large"
    container_insights             = "enhanced"
    managed_termination_protection = false
    force_delete                   = true
    enable_ssm_session_manager     = false
    ecs_agent_config               = { ECS_CONTAINER_STOP_TIMEOUT = "45s" }
    instance_count                 = { min = 2, max = 6 }
    managed_scaling                = { target_capacity = 80 }
    root_volume                    = { size_gb = 50, kms_key_arn = "arn:aws:kms:eu-west-1:111111111111:key/abcd" }
    tags                           = { Team = "ml" }
  }

  assert {
    condition = toset([for t in aws_autoscaling_group.this.tag : "${t.key}=${t.value}" if t.propagate_at_launch]) == toset([
      "Team=ml", "Name=mlinfra-test-ecs", "AmazonECSManaged=true",
    ])
    error_message = "The group must propagate the tags, its Name and ECS's AmazonECSManaged tag to the instances."
  }
  assert {
    condition     = aws_ecs_cluster.this.tags == tomap({ Team = "ml" }) && aws_iam_role.instance.tags == tomap({ Team = "ml" })
    error_message = "tags must reach every resource."
  }

  assert {
    condition     = aws_launch_template.this.image_id == "ami-0123456789abcdef0" && length(data.aws_ssm_parameter.ami) == 0
    error_message = "A given AMI must be used without reading SSM."
  }
  assert {
    condition     = aws_autoscaling_group.this.protect_from_scale_in == false && aws_ecs_capacity_provider.this.auto_scaling_group_provider[0].managed_termination_protection == "DISABLED"
    error_message = "Scale-in protection and managed termination protection must be turned off together."
  }
  assert {
    condition     = aws_autoscaling_group.this.force_delete && aws_autoscaling_group.this.min_size == 2 && aws_autoscaling_group.this.max_size == 6
    error_message = "force_delete and instance_count must reach the group."
  }
  assert {
    condition     = keys(aws_iam_role_policy_attachment.instance) == ["service-role/AmazonEC2ContainerServiceforEC2Role"]
    error_message = "Without Session Manager, only the ECS instance policy is attached."
  }
  assert {
    condition     = strcontains(base64decode(aws_launch_template.this.user_data), "\nECS_CONTAINER_STOP_TIMEOUT=45s\n")
    error_message = "Extra agent settings must reach ecs.config."
  }
  assert {
    condition     = aws_launch_template.this.block_device_mappings[0].ebs[0].kms_key_id == "arn:aws:kms:eu-west-1:111111111111:key/abcd" && aws_launch_template.this.block_device_mappings[0].ebs[0].volume_size == 50
    error_message = "root_volume settings must reach the launch template."
  }
  assert {
    condition     = aws_ecs_capacity_provider.this.auto_scaling_group_provider[0].managed_scaling[0].target_capacity == 80
    error_message = "managed_scaling.target_capacity must reach the capacity provider."
  }
}

run "iam_role_path_and_permissions_boundary" {
  command = plan

  variables {
    iam_role_path                 = "/mlinfra/"
    iam_role_permissions_boundary = "arn:aws:iam::123456789012:policy/team-boundary"
  }

  assert {
    condition     = aws_iam_role.instance.path == "/mlinfra/" && aws_iam_instance_profile.instance.path == "/mlinfra/" && aws_iam_role.instance.permissions_boundary == "arn:aws:iam::123456789012:policy/team-boundary"
    error_message = "The instance role and profile must take the given path, and the role the given permissions boundary."
  }
}

run "iam_defaults_set_no_boundary" {
  command = plan

  assert {
    condition     = aws_iam_role.instance.path == "/" && aws_iam_role.instance.permissions_boundary == null
    error_message = "By default the instance role sits at \"/\" with no permissions boundary, as before."
  }
}

run "rejects_bad_iam_role_path_and_boundary" {
  command = plan

  variables {
    iam_role_path                 = "mlinfra"
    iam_role_permissions_boundary = "team-boundary"
  }

  expect_failures = [var.iam_role_path, var.iam_role_permissions_boundary]
}

run "rejects_bad_inputs" {
  command = plan

  variables {
    name                  = "ecs-prod"
    subnet_ids            = ["subnet-0aaa1111"]
    alb_security_group_id = "my-alb-sg"
    ami_id                = "ubuntu"
    container_insights    = "ENABLED"
    instance_count        = { min = 5, max = 2 }
    egress_cidr_blocks    = []
    ecs_agent_config      = { ECS_CLUSTER = "other" }
    managed_scaling       = { target_capacity = 120 }
  }

  expect_failures = [
    var.name,
    var.subnet_ids,
    var.alb_security_group_id,
    var.ami_id,
    var.container_insights,
    var.instance_count,
    var.egress_cidr_blocks,
    var.ecs_agent_config,
    var.managed_scaling,
  ]
}

run "an_existing_caller_keeps_one_launch_template_and_no_refresh" {
  command = plan

  assert {
    condition = (
      length(aws_autoscaling_group.this.launch_template) == 1 && length(aws_autoscaling_group.this.mixed_instances_policy) == 0 &&
      length(aws_autoscaling_group.this.instance_refresh) == 0 && length(aws_autoscaling_group.this.warm_pool) == 0 &&
      !strcontains(base64decode(aws_launch_template.this.user_data), "ECS_DYNAMIC_HOST_PORT_RANGE") &&
      !strcontains(base64decode(aws_launch_template.this.user_data), "ECS_WARM_POOLS_CHECK") &&
      aws_security_group_rule.alb_to_host_ports.from_port == 32768 && aws_security_group_rule.alb_to_host_ports.to_port == 65535
    )
    error_message = "Without the new inputs: the launch template alone, no refresh, no warm pool, the agent's default host ports."
  }
}

run "instance_refresh_and_a_warm_pool" {
  command = plan

  variables {
    instance_refresh = { enable = true, min_healthy_percentage = 50 }
    warm_pool        = { min_size = 1, max_prepared_capacity = 3 }
  }

  assert {
    condition = (
      aws_autoscaling_group.this.instance_refresh[0].strategy == "Rolling" &&
      aws_autoscaling_group.this.instance_refresh[0].preferences[0].min_healthy_percentage == 50 &&
      aws_autoscaling_group.this.instance_refresh[0].preferences[0].skip_matching &&
      aws_autoscaling_group.this.instance_refresh[0].preferences[0].scale_in_protected_instances == "Refresh"
    )
    error_message = "instance_refresh rolls the fleet onto a new launch template version, protected instances included."
  }

  assert {
    condition = (
      aws_autoscaling_group.this.warm_pool[0].pool_state == "Stopped" && aws_autoscaling_group.this.warm_pool[0].min_size == 1 &&
      aws_autoscaling_group.this.warm_pool[0].max_group_prepared_capacity == 3 &&
      strcontains(base64decode(aws_launch_template.this.user_data), "\nECS_WARM_POOLS_CHECK=true\n")
    )
    error_message = "A warm pool keeps stopped instances and tells the agent to wait until they leave it."
  }
}

run "spot_capacity_and_a_host_port_range" {
  command = plan

  variables {
    instance_type   = "m6i.large"
    spot            = { instance_types = ["m5.large", "m6i.large"], on_demand_base_capacity = 1 }
    host_port_range = { from_port = 49153, to_port = 65535 }
  }

  assert {
    condition = (
      length(aws_autoscaling_group.this.launch_template) == 0 &&
      aws_autoscaling_group.this.mixed_instances_policy[0].instances_distribution[0].on_demand_base_capacity == 1 &&
      aws_autoscaling_group.this.mixed_instances_policy[0].instances_distribution[0].on_demand_percentage_above_base_capacity == 0 &&
      aws_autoscaling_group.this.mixed_instances_policy[0].instances_distribution[0].spot_allocation_strategy == "price-capacity-optimized" &&
      [for o in aws_autoscaling_group.this.mixed_instances_policy[0].launch_template[0].override : o.instance_type] == ["m6i.large", "m5.large"]
    )
    error_message = "spot: a mixed instances policy over instance_type and the extra types, On-Demand for the base only."
  }

  assert {
    condition = (
      aws_security_group_rule.alb_to_host_ports.from_port == 49153 && aws_security_group_rule.alb_to_host_ports.to_port == 65535 &&
      strcontains(base64decode(aws_launch_template.this.user_data), "\nECS_DYNAMIC_HOST_PORT_RANGE=49153-65535\n")
    )
    error_message = "host_port_range sets both the agent's dynamic range and the ports the ALB is admitted on."
  }
}

run "rejects_bad_refresh_spot_warm_pool_and_ports" {
  command = plan

  variables {
    instance_refresh = { enable = true, min_healthy_percentage = 120, instance_warmup = -1 }
    spot             = { allocation_strategy = "cheapest", on_demand_percentage_above_base_capacity = 150 }
    host_port_range  = { from_port = 80, to_port = 8080 }
    ecs_agent_config = { ECS_DYNAMIC_HOST_PORT_RANGE = "1-2" }
  }

  expect_failures = [var.instance_refresh, var.spot, var.host_port_range, var.ecs_agent_config]
}

run "rejects_a_bad_warm_pool" {
  command = plan

  variables {
    warm_pool = { pool_state = "Frozen" }
  }

  expect_failures = [var.warm_pool]
}

run "rejects_a_warm_pool_with_spot" {
  command = plan

  variables {
    spot      = {}
    warm_pool = {}
  }

  expect_failures = [aws_autoscaling_group.this]
}
