# Shared by every root under environments/ (each links it as terraform.tf): the backend and
# provider settings are the same for all environments and stacks; only backend.hcl differs.

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
