# A small stack for the Terraform adapter's tests: one SSM parameter in the emulator, state in
# the emulator's S3 (the same backend shape as the environments).
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

variable "message" {
  description = "Value stored in the parameter; changing it changes the resource in place."
  type        = string
}

resource "aws_ssm_parameter" "message" {
  name  = "/mlinfra-test/message"
  type  = "String"
  value = var.message
}

output "parameter_name" {
  value = aws_ssm_parameter.message.name
}

output "message" {
  value = var.message
}
