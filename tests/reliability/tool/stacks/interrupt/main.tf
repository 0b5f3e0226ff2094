# A small stack that takes a few seconds to apply, so that a test can interrupt it at a known
# point: a pause (nothing in AWS yet), two VPCs, a second pause, two more VPCs. VPCs get
# server-made IDs, so a resource missing from the state shows up as a duplicate (same run
# tag) on the next apply rather than as a name conflict.
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

variable "run_id" {
  description = "Tag value that tells this run's VPCs from any other's."
  type        = string
}

variable "vpc_count" {
  description = "How many VPCs each side of the second pause holds."
  type        = number
  default     = 2
}

resource "terraform_data" "before" {
  provisioner "local-exec" {
    command = "sleep 2"
  }
}

resource "aws_vpc" "first" {
  count = var.vpc_count

  cidr_block = "10.${count.index}.0.0/16"
  tags       = { run = var.run_id }

  depends_on = [terraform_data.before]
}

# An interruption here falls between two AWS calls, never inside one.
resource "terraform_data" "between" {
  provisioner "local-exec" {
    command = "sleep 3"
  }

  depends_on = [aws_vpc.first]
}

resource "aws_vpc" "second" {
  count = var.vpc_count

  cidr_block = "10.${count.index + 100}.0.0/16"
  tags       = { run = var.run_id }

  depends_on = [terraform_data.between]
}
