################################################################################
# Network: a small VPC with two public subnets, enough for an ALB
################################################################################

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394: pinning zone names would hard-code a Region; the example uses the first two zones by index.
  state = "available"
}

resource "aws_vpc" "this" {
  #checkov:skip=CKV2_AWS_11: flow logs are out of scope for a throwaway example VPC; enable them in real networks.
  cidr_block           = "10.42.0.0/16"
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = { Name = var.name }
}

# Adopting the default security group strips its allow-all rules.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
}

resource "aws_subnet" "public" {
  count = 2

  vpc_id            = aws_vpc.this.id
  cidr_block        = cidrsubnet(aws_vpc.this.cidr_block, 8, count.index)
  availability_zone = data.aws_availability_zones.available.names[count.index]

  tags = { Name = "${var.name}-public-${count.index}" }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id

  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.this.id
  }
}

resource "aws_route_table_association" "public" {
  count = 2

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

################################################################################
# Load balancer
################################################################################

module "alb" {
  # The findings below follow this example's inputs, so they are skipped here, not in the module:
  #checkov:skip=CKV_AWS_150: an example must be destroyable (enable_deletion_protection = false); keep the default (true) in real environments.
  #checkov:skip=CKV_AWS_91: access logs need a bucket with an ELB delivery policy, beyond this example; pass access_logs in real environments.
  #checkov:skip=CKV_AWS_2: the example has no domain, hence no certificate: its HTTP listener forwards; pass certificate_arn for HTTPS and the redirect.
  #checkov:skip=CKV_AWS_103: the example serves HTTP only (no certificate), so no TLS policy applies.
  #checkov:skip=CKV2_AWS_20: the example has no certificate, so port 80 cannot redirect to HTTPS.
  #checkov:skip=CKV2_AWS_28: the example leaves WAF off (waf.enable = false) to stay free; turn it on for a public service.
  source = "../.."

  name                = var.name
  vpc_id              = aws_vpc.this.id
  subnet_ids          = aws_subnet.public[*].id
  ingress_cidr_blocks = ["0.0.0.0/0"]

  # An example should be destroyable; keep the default (true) in real environments.
  enable_deletion_protection = false

  target_group = {
    port = 8080
    health_check = {
      path    = "/health"
      matcher = "200"
    }
  }

  tags = { Example = "alb-basic" }
}
