# The service of one environment, with the neighbours it needs made by the other mlinfra modules
# (registry, log group, load balancer, cluster) in the account's default VPC, as the
# environments' service stack makes them in its own. Push an image to the repository
# (`mlinfra push`) and set image_tag to it before the tasks can start.
provider "aws" {
  region = var.region
}

################################################################################
# Neighbours
################################################################################

data "aws_vpc" "default" {
  default = true
}

data "aws_subnets" "default" {
  filter {
    name   = "vpc-id"
    values = [data.aws_vpc.default.id]
  }
}

module "ecr" {
  source = "../../../ecr"

  name = var.name
  # A throw-away example: destroy removes the repository with its images.
  force_delete = true
}

module "cloudwatch" {
  source = "../../../cloudwatch"

  name         = var.name
  cluster_name = module.cluster.cluster_name
  service_name = var.name
  # The example watches nothing: no alarms, no dashboard.
  create_alarms    = false
  create_dashboard = false
}

module "alb" {
  # The findings below follow this example's inputs (the alb example says why each is off):
  #checkov:skip=CKV_AWS_150: an example must be destroyable (enable_deletion_protection = false).
  #checkov:skip=CKV_AWS_91: no access logs in a throw-away example.
  #checkov:skip=CKV_AWS_2: no domain, hence no certificate: the HTTP listener forwards.
  #checkov:skip=CKV_AWS_103: HTTP only (no certificate), so no TLS policy applies.
  #checkov:skip=CKV2_AWS_20: no certificate, so port 80 cannot redirect to HTTPS.
  #checkov:skip=CKV2_AWS_28: WAF stays off in the example to stay free.
  source = "../../../alb"

  name                       = var.name
  vpc_id                     = data.aws_vpc.default.id
  subnet_ids                 = data.aws_subnets.default.ids
  ingress_cidr_blocks        = ["0.0.0.0/0"]
  enable_deletion_protection = false
}

module "cluster" {
  source = "../../../ecs_ec2_cluster"

  name                  = var.name
  vpc_id                = data.aws_vpc.default.id
  subnet_ids            = data.aws_subnets.default.ids
  alb_security_group_id = module.alb.security_group_id
  force_delete          = true
}

################################################################################
# Service
################################################################################

module "service" {
  source = "../.."

  name                   = var.name
  container_image        = "${module.ecr.repository_url}:${var.image_tag}"
  repository_arn         = module.ecr.repository_arn
  log_group_name         = module.cloudwatch.log_group_name
  cluster_arn            = module.cluster.cluster_arn
  capacity_provider_name = module.cluster.capacity_provider_name
  target_group_arn       = module.alb.target_group_arn

  cpu    = 512
  memory = 1024
  environment = {
    LOG_LEVEL = "info"
  }

  tags = {
    Project     = "mlinfra"
    Environment = "example"
  }
}
