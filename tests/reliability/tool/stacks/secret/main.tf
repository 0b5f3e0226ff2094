# The task_definition module as an environment uses it, with an API key given the way the
# module asks for secrets: an SSM parameter's ARN, never its value. The tests plan it against
# the emulator and look for the parameter's value everywhere Terraform writes.
terraform {
  required_version = ">= 1.6"
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

variable "api_key_arn" {
  description = "ARN of the SSM SecureString parameter that holds the service's API key."
  type        = string
}

variable "container_image" {
  description = "Image URI with tag."
  type        = string
}

module "service" {
  # The test copies this folder out of the tree and points the source at the checkout.
  source = "../../../../../terraform/modules/task_definition"

  name                   = "mlinfra-canary"
  container_image        = var.container_image
  repository_arn         = "arn:aws:ecr:us-east-1:123456789012:repository/mlinfra-canary"
  log_group_name         = "/mlinfra/canary"
  cluster_arn            = "arn:aws:ecs:us-east-1:123456789012:cluster/mlinfra-canary"
  capacity_provider_name = "mlinfra-canary-ec2"
  target_group_arn       = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/mlinfra-canary/0123456789abcdef"
  secrets                = { API_KEY = var.api_key_arn }
}
