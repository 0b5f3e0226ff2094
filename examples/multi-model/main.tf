# Two models on one ECS cluster behind one HTTPS load balancer, as a Terraform-native team would
# write it from the modules' READMEs: its own VPC, a repository, service, scaling and alarms per
# model, one alarm topic. Each model answers on its own host (houses.<zone>) and under its own
# path on a shared host (api.<zone>/models/<name>/...); any other request gets the ALB's 404.
# Push an image to each repository (`mlinfra push`) and set its tag before the tasks can start.
provider "aws" {
  region = var.region
}

locals {
  # ROUTE_PREFIX makes the image answer under /models/<name>: an ALB forwards the path as is.
  models = { for name, model in var.models : name => merge(model, { prefix = "/models/${name}" }) }
  tags   = { Project = "mlinfra", Example = "multi-model" }
}

################################################################################
# Network
################################################################################

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394: pinning zone names would hard-code a Region; the example uses the first zones by index.
  state = "available"
}

resource "aws_vpc" "this" {
  #checkov:skip=CKV2_AWS_11: flow logs are out of scope for a throw-away example VPC; enable them in real networks.
  cidr_block           = var.vpc_cidr
  enable_dns_hostnames = true
  tags                 = merge(local.tags, { Name = var.name })
}

# Adopting the default security group strips its allow-all rules.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
  tags   = merge(local.tags, { Name = var.name })
}

resource "aws_subnet" "public" {
  count = 2

  vpc_id            = aws_vpc.this.id
  cidr_block        = cidrsubnet(var.vpc_cidr, 8, count.index)
  availability_zone = data.aws_availability_zones.available.names[count.index]
  tags              = merge(local.tags, { Name = "${var.name}-public-${count.index}" })
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id

  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.this.id
  }

  tags = merge(local.tags, { Name = "${var.name}-public" })
}

resource "aws_route_table_association" "public" {
  count = 2

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

################################################################################
# TLS certificate (DNS-validated in the example's own zone)
################################################################################

resource "aws_route53_zone" "this" {
  #checkov:skip=CKV2_AWS_38: DNSSEC needs a KMS key in us-east-1 and a DS record at the parent, beyond a throw-away zone; sign real zones.
  #checkov:skip=CKV2_AWS_39: query logging needs a log group in us-east-1 with a resource policy, beyond a throw-away zone; log real zones.
  name          = var.zone_name
  force_destroy = true
  tags          = local.tags
}

resource "aws_acm_certificate" "this" {
  domain_name               = "api.${var.zone_name}"
  subject_alternative_names = [for name in keys(local.models) : "${name}.${var.zone_name}"]
  validation_method         = "DNS"
  tags                      = local.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_route53_record" "certificate_validation" {
  # Keyed by the domains, known at plan time; the records are known only after the request.
  for_each = toset(concat(["api.${var.zone_name}"], [for name in keys(local.models) : "${name}.${var.zone_name}"]))

  zone_id         = aws_route53_zone.this.zone_id
  name            = local.validation_options[each.key].resource_record_name
  type            = local.validation_options[each.key].resource_record_type
  records         = [local.validation_options[each.key].resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

locals {
  validation_options = { for option in aws_acm_certificate.this.domain_validation_options : option.domain_name => option }
}

resource "aws_acm_certificate_validation" "this" {
  certificate_arn         = aws_acm_certificate.this.arn
  validation_record_fqdns = [for record in aws_route53_record.certificate_validation : record.fqdn]
}

################################################################################
# Load balancer: a target group and two rules per model, 404 for anything else
################################################################################

module "alb" {
  #checkov:skip=CKV_AWS_150: an example must be destroyable (enable_deletion_protection = false).
  #checkov:skip=CKV_AWS_91: no access logs in a throw-away example.
  #checkov:skip=CKV_AWS_2: HTTPS is on (certificate_arn); checkov does not evaluate the conditional redirect.
  #checkov:skip=CKV_AWS_103: HTTPS is on with the module's TLS 1.3 policy; checkov does not see it through the count.
  #checkov:skip=CKV2_AWS_20: HTTP redirects to HTTPS (certificate_arn set); checkov does not evaluate it.
  #checkov:skip=CKV2_AWS_28: WAF stays off in the example to stay free.
  source = "../../terraform/modules/alb"

  name                       = var.name
  vpc_id                     = aws_vpc.this.id
  subnet_ids                 = aws_subnet.public[*].id
  ingress_cidr_blocks        = ["0.0.0.0/0"]
  enable_deletion_protection = false
  certificate_arn            = aws_acm_certificate_validation.this.certificate_arn
  create_https_listener      = true

  create_target_group = false
  target_groups       = { for name in keys(local.models) : name => { deregistration_delay = 10 } }
  default_action      = { type = "fixed-response" }
  listener_rules = merge(
    { for name, model in local.models : "${name}-host" => { priority = model.priority, target_group_key = name, host_headers = ["${name}.${var.zone_name}"] } },
    { for name, model in local.models : "${name}-path" => { priority = model.priority + 1, target_group_key = name, host_headers = ["api.${var.zone_name}"], path_patterns = ["${model.prefix}/*"] } },
  )

  tags = local.tags
}

################################################################################
# Cluster, shared by the models
################################################################################

module "cluster" {
  source = "../../terraform/modules/ecs_ec2_cluster"

  name                  = var.name
  vpc_id                = aws_vpc.this.id
  subnet_ids            = aws_subnet.public[*].id
  alb_security_group_id = module.alb.security_group_id
  instance_type         = var.instance_type
  force_delete          = true

  tags = local.tags
}

################################################################################
# Alarms: one topic for every model
################################################################################

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = "alias/aws/sns"
  tags              = local.tags
}

################################################################################
# Per model: repository, logs and alarms, service, scaling
################################################################################

module "ecr" {
  source   = "../../terraform/modules/ecr"
  for_each = local.models

  name         = "${var.name}-${each.key}"
  force_delete = true # a throw-away example: destroy removes the images too
  tags         = local.tags
}

module "cloudwatch" {
  source   = "../../terraform/modules/cloudwatch"
  for_each = local.models

  name         = "${var.name}-${each.key}"
  cluster_name = module.cluster.cluster_name
  service_name = "${var.name}-${each.key}" # from the map, not module.service's output (a cycle)
  load_balancer = {
    arn_suffix              = module.alb.arn_suffix
    target_group_arn_suffix = module.alb.target_groups[each.key].arn_suffix
  }
  # The ALB-wide 5xx alarm once, on the first model; the others keep their target's alarms.
  alarms           = each.key == keys(local.models)[0] ? {} : { alb-5xx = { enable = false } }
  alarm_topic_arns = [aws_sns_topic.alarms.arn]
  create_dashboard = false

  tags = local.tags
}

module "service" {
  source   = "../../terraform/modules/task_definition"
  for_each = local.models

  name                   = "${var.name}-${each.key}"
  container_image        = "${module.ecr[each.key].repository_url}:${each.value.image_tag}"
  repository_arn         = module.ecr[each.key].repository_arn
  log_group_name         = module.cloudwatch[each.key].log_group_name
  cluster_arn            = module.cluster.cluster_arn
  capacity_provider_name = module.cluster.capacity_provider_name
  target_group_arn       = module.alb.target_groups[each.key].arn
  desired_count          = each.value.min_tasks

  cpu    = 512
  memory = 1024
  environment = {
    ROUTE_PREFIX = each.value.prefix
  }

  tags = local.tags
}

module "autoscaling" {
  source   = "../../terraform/modules/autoscaling"
  for_each = local.models

  name         = "${var.name}-${each.key}"
  cluster_name = module.cluster.cluster_name
  service_name = module.service[each.key].service_name
  min_capacity = each.value.min_tasks
  max_capacity = each.value.max_tasks

  tags = local.tags
}
