# The registry stack of the API key tests' small environment, in the shape of issue 12's
# contract: an ECR repository and, when the environment requires an API key, a Secrets Manager
# secret with no version (its value is set by `mlinfra secret set`, never by Terraform).
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

provider "aws" {
  region = var.region
}

resource "aws_ecr_repository" "service" {
  name         = "mlinfra-apikey-test"
  force_delete = true
}

resource "aws_secretsmanager_secret" "api_key" {
  count                   = var.api_key_required ? 1 : 0
  name                    = "mlinfra/staging/api-key"
  recovery_window_in_days = 0
}

output "repository_url" {
  value = aws_ecr_repository.service.repository_url
}

output "api_key_secret_arn" {
  value = var.api_key_required ? aws_secretsmanager_secret.api_key[0].arn : null
}
