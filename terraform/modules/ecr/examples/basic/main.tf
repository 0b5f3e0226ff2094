# A registry for one environment: immutable tags, scan on push, the newest 20 images kept and
# the deployed tag protected from expiry.
provider "aws" {
  region = var.region
}

module "ecr" {
  source = "../.."

  name = var.name
  lifecycle_policy = {
    keep_tagged_count = 20
    protected_tags    = var.deployed_tag == null ? [] : [var.deployed_tag]
  }

  tags = {
    Project     = "mlinfra"
    Environment = "example"
  }
}
