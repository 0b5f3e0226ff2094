terraform {
  required_version = ">= 1.6"

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

# No endpoints block: AWS_ENDPOINT_URL points the same code at the emulator.
provider "aws" {
  region = "us-east-1"
}

# The guide's production: two AZs, private instances behind NAT, t3.medium, 2-10 tasks on 70% CPU, alarms on.
module "ecr" {
  source = "../../../terraform/modules/ecr"

  name         = "mlinfra-prod"
  force_delete = false

  tags = { Project = "mlinfra", Environment = "prod" }
}

output "repository_url" {
  description = "Where `mlinfra push` sends images."
  value       = module.ecr.repository_url
}
