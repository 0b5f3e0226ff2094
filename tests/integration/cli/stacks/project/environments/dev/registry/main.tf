# The registry stack of the CLI tests' small environment: one ECR repository.
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

resource "aws_ecr_repository" "service" {
  name         = "mlinfra-cli-test"
  force_delete = true
}

output "repository_url" {
  value = aws_ecr_repository.service.repository_url
}
