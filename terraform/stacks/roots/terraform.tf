# Shared by every root under environments/ (each links it as terraform.tf): the backend and
# provider settings are the same for all environments and stacks; only backend.hcl differs.

terraform {
  # 1.10: the S3 backend's use_lockfile; 1.9: validations that read other variables.
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.60, < 7.0"
    }
  }

  # bucket, key and region come from backend.hcl (`terraform init -backend-config=backend.hcl`).
  # Against the emulator, AWS_ENDPOINT_URL redirects it (plus -backend-config=use_path_style=true).
  backend "s3" {
    use_lockfile = true
  }
}

variable "region" {
  description = "AWS Region of every resource. mlinfra writes the Region it resolved (AWS_REGION, mlinfra.toml) into the generated tfvars and passes the same to the backend, so provider, state and CLI agree."
  type        = string
  default     = "us-east-1"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region \"${var.region}\" is not an AWS Region name; use one such as \"us-east-1\" or \"eu-west-1\"."
  }
}

# No endpoints block: AWS_ENDPOINT_URL points the same code at the emulator.
provider "aws" {
  region = var.region
}
