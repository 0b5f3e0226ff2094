# The service stack of the CLI tests' small environment: an ECS service of desired count 0 (so it
# is stable at once), a target group, a log group, and the outputs the CLI reads.
terraform {
  backend "s3" {}
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}

provider "aws" {
  region = "us-east-1"
}

variable "container_image" {
  description = "Image URI with tag, from the CLI's generated tfvars."
  type        = string
}

variable "service_url" {
  description = "Where the probes go (the test's HTTP server stands in for the ALB)."
  type        = string
}

resource "aws_vpc" "main" {
  cidr_block = "10.42.0.0/16"
}

resource "aws_ecs_cluster" "main" {
  name = "mlinfra-cli-test"
}

resource "aws_cloudwatch_log_group" "service" {
  name = "/mlinfra/cli-test"
}

resource "aws_ecs_task_definition" "service" {
  family                   = "mlinfra-cli-test"
  network_mode             = "bridge"
  requires_compatibilities = ["EC2"]
  container_definitions = jsonencode([{
    name         = "model"
    image        = var.container_image
    memory       = 128
    essential    = true
    portMappings = [{ containerPort = 8000, hostPort = 0 }]
  }])
}

resource "aws_lb_target_group" "service" {
  name     = "mlinfra-cli-test"
  port     = 8000
  protocol = "HTTP"
  vpc_id   = aws_vpc.main.id
}

resource "aws_ecs_service" "service" {
  name            = "mlinfra-cli-test"
  cluster         = aws_ecs_cluster.main.id
  task_definition = aws_ecs_task_definition.service.arn
  desired_count   = 0
  launch_type     = "EC2"
}

output "cluster_name" {
  value = aws_ecs_cluster.main.name
}

output "service_name" {
  value = aws_ecs_service.service.name
}

output "target_group_arn" {
  value = aws_lb_target_group.service.arn
}

output "log_group_name" {
  value = aws_cloudwatch_log_group.service.name
}

output "service_url" {
  value = var.service_url
}

output "alb_dns_name" {
  value = ""
}
