# An upgrade from two service resources (one per enable_autoscaling) to one: the autoscaled
# service moves to aws_ecs_service.this[0] and is updated in place, not replaced (a mock gives a
# created resource a new random id; a moved one keeps its own).

mock_provider "aws" {
  source = "../../testing/mocks"

  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mlinfra-test-task" }
  }
  mock_resource "aws_ecs_task_definition" {
    defaults = { arn = "arn:aws:ecs:eu-west-1:123456789012:task-definition/mlinfra-test:1" }
  }
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

run "before_the_upgrade" {
  state_key = "upgrade"

  module {
    source = "./tests/fixtures/autoscaled_service"
  }
}

run "the_autoscaled_service_moves_and_is_kept" {
  state_key = "upgrade"

  assert {
    condition     = aws_ecs_service.this[0].id == run.before_the_upgrade.service_id
    error_message = "The service of a caller that had enable_autoscaling = true must move to aws_ecs_service.this[0], not be replaced."
  }
}

run "switching_autoscaling_changes_nothing" {
  state_key = "upgrade"

  variables {
    desired_count = 5
  }

  assert {
    condition     = aws_ecs_service.this[0].id == run.before_the_upgrade.service_id && aws_ecs_service.this[0].desired_count == 2
    error_message = "A later desired_count must be ignored (autoscaling or an operator owns the count), and the service kept."
  }
}
