# An ECS cluster of EC2 container instances in two private subnets. The VPC and the stand-in
# ALB security group are here only to make the example complete; in a real stack they come
# from your network and from the alb module.
provider "aws" {
  region = var.region
}

################################################################################
# Network: public subnets with one NAT gateway, private subnets for the instances
################################################################################

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394: pinning zone names would hard-code a Region; the example uses the first two zones by index.
  state = "available"
}

resource "aws_vpc" "this" {
  #checkov:skip=CKV2_AWS_11: flow logs are out of scope for a throw-away example VPC; enable them in real networks.
  cidr_block           = "10.43.0.0/16"
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

resource "aws_subnet" "private" {
  count = 2

  vpc_id            = aws_vpc.this.id
  cidr_block        = cidrsubnet(aws_vpc.this.cidr_block, 8, count.index + 10)
  availability_zone = data.aws_availability_zones.available.names[count.index]

  tags = { Name = "${var.name}-private-${count.index}" }
}

resource "aws_eip" "nat" {
  domain = "vpc"
}

resource "aws_nat_gateway" "this" {
  allocation_id = aws_eip.nat.id
  subnet_id     = aws_subnet.public[0].id

  depends_on = [aws_internet_gateway.this]
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id

  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.this.id
  }
}

resource "aws_route_table" "private" {
  vpc_id = aws_vpc.this.id

  route {
    cidr_block     = "0.0.0.0/0"
    nat_gateway_id = aws_nat_gateway.this.id
  }
}

resource "aws_route_table_association" "public" {
  count = 2

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

resource "aws_route_table_association" "private" {
  count = 2

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private.id
}

# Stand-in for the alb module's security_group_id output.
resource "aws_security_group" "alb" {
  #checkov:skip=CKV2_AWS_5: a stand-in for the alb module's group, which the load balancer carries in a real stack.
  name_prefix = "${var.name}-alb-"
  description = "Stand-in for the load balancer's security group"
  vpc_id      = aws_vpc.this.id
}

################################################################################
# Cluster
################################################################################

module "cluster" {
  source = "../.."

  name                  = var.name
  vpc_id                = aws_vpc.this.id
  subnet_ids            = aws_subnet.private[*].id
  alb_security_group_id = aws_security_group.alb.id

  instance_type  = "t3.small"
  instance_count = { min = 1, max = 3 }
  # A throw-away example: let destroy remove the group without waiting for protected instances.
  force_delete = true

  tags = {
    Project     = "mlinfra"
    Environment = "example"
  }

  depends_on = [aws_route_table_association.private]
}
