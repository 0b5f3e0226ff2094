# The service stack of the API key tests' small environment: the secret looked up by name, its
# ARN (with the version id the CLI pins) in the container's secrets, an ECS service of desired
# count 0, and the outputs the CLI reads.
terraform {
  required_version = ">= 1.10"
  backend "s3" {}
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}

variable "region" {
  description = "AWS region of the provider (the CLI writes the one it resolved)."
  type        = string
  default     = "us-east-1"
}

variable "api_key_required" {
  description = "Whether the service requires an API key (kept in Secrets Manager)."
  type        = bool
  default     = true
}

variable "api_key_version_id" {
  description = "The secret's AWSCURRENT version id, written by the CLI: a new key rolls the tasks."
  type        = string
  default     = null
}

variable "container_image" {
  description = "Image URI with tag, from the CLI's generated tfvars."
  type        = string
}

provider "aws" {
  region = var.region
}

data "aws_secretsmanager_secret" "api_key" {
  count = var.api_key_required ? 1 : 0
  name  = "mlinfra/staging/api-key"
}

locals {
  # ECS's valueFrom: arn[:json-key:version-stage:version-id].
  api_key_value_from = var.api_key_required ? (
    var.api_key_version_id == null
    ? data.aws_secretsmanager_secret.api_key[0].arn
    : "${data.aws_secretsmanager_secret.api_key[0].arn}:::${var.api_key_version_id}"
  ) : null
}

resource "aws_vpc" "main" {
  cidr_block = "10.43.0.0/16"
}

resource "aws_ecs_cluster" "main" {
  name = "mlinfra-apikey-test"
}

resource "aws_cloudwatch_log_group" "service" {
  name = "/mlinfra/apikey-test"
}

resource "aws_ecs_task_definition" "service" {
  family                   = "mlinfra-apikey-test"
  network_mode             = "bridge"
  requires_compatibilities = ["EC2"]
  container_definitions = jsonencode([{
    name         = "model"
    image        = var.container_image
    memory       = 128
    essential    = true
    portMappings = [{ containerPort = 8000, hostPort = 0 }]
    secrets      = var.api_key_required ? [{ name = "API_KEY", valueFrom = local.api_key_value_from }] : []
  }])
}

resource "aws_lb_target_group" "service" {
  name     = "mlinfra-apikey-test"
  port     = 8000
  protocol = "HTTP"
  vpc_id   = aws_vpc.main.id
}

resource "aws_ecs_service" "service" {
  name            = "mlinfra-apikey-test"
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
  value = ""
}
