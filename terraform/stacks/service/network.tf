################################################################################
# Network
################################################################################

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394: only the first az_count zones are used, in name order; a zone AWS adds later sorts after them and changes nothing here.
  state = "available"
}

locals {
  azs = slice(data.aws_availability_zones.available.names, 0, var.network.az_count)
  # Public subnets take the first /20s of the VPC, private ones the /20s after them.
  public_cidrs  = [for i in range(var.network.az_count) : cidrsubnet(var.network.cidr, 4, i)]
  private_cidrs = [for i in range(var.network.az_count) : cidrsubnet(var.network.cidr, 4, 8 + i)]
  # Instances sit in private subnets behind a NAT when there is one, else in the public ones.
  instance_subnet_ids = var.network.private_instances ? aws_subnet.private[*].id : aws_subnet.public[*].id
}

resource "aws_vpc" "this" {
  cidr_block           = var.network.cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = merge(local.tags, { Name = var.name })
}

# Nothing may use the VPC's default security group: every resource here names its own.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id

  tags = merge(local.tags, { Name = "${var.name}-default-unused" })
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id

  tags = merge(local.tags, { Name = var.name })
}

resource "aws_subnet" "public" {
  count = var.network.az_count

  vpc_id            = aws_vpc.this.id
  availability_zone = local.azs[count.index]
  cidr_block        = local.public_cidrs[count.index]
  # Instances in public subnets (no NAT) need a public address to reach ECR and ECS.
  map_public_ip_on_launch = !var.network.private_instances

  tags = merge(local.tags, { Name = "${var.name}-public-${local.azs[count.index]}" })
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
  count = var.network.az_count

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

################################################################################
# Network - private subnets and NAT (only with private_instances)
################################################################################

resource "aws_subnet" "private" {
  count = var.network.private_instances ? var.network.az_count : 0

  vpc_id            = aws_vpc.this.id
  availability_zone = local.azs[count.index]
  cidr_block        = local.private_cidrs[count.index]

  tags = merge(local.tags, { Name = "${var.name}-private-${local.azs[count.index]}" })
}

resource "aws_eip" "nat" {
  count = var.network.private_instances ? 1 : 0

  domain = "vpc"

  tags = merge(local.tags, { Name = "${var.name}-nat" })
}

# NOTE: one NAT gateway, not one per AZ: instances only pull images and ship logs through it,
# and a second gateway doubles its hourly cost for that.
resource "aws_nat_gateway" "this" {
  count = var.network.private_instances ? 1 : 0

  allocation_id = aws_eip.nat[0].id
  subnet_id     = aws_subnet.public[0].id

  tags = merge(local.tags, { Name = var.name })

  depends_on = [aws_internet_gateway.this]
}

resource "aws_route_table" "private" {
  count = var.network.private_instances ? 1 : 0

  vpc_id = aws_vpc.this.id

  route {
    cidr_block     = "0.0.0.0/0"
    nat_gateway_id = aws_nat_gateway.this[0].id
  }

  tags = merge(local.tags, { Name = "${var.name}-private" })
}

resource "aws_route_table_association" "private" {
  count = var.network.private_instances ? var.network.az_count : 0

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[0].id
}

################################################################################
# Network - flow logs (rejected and accepted traffic, for incident review)
################################################################################

resource "aws_flow_log" "this" {
  vpc_id               = aws_vpc.this.id
  traffic_type         = "ALL"
  log_destination_type = "cloud-watch-logs"
  log_destination      = aws_cloudwatch_log_group.flow_logs.arn
  iam_role_arn         = aws_iam_role.flow_logs.arn

  tags = merge(local.tags, { Name = "${var.name}-flow-logs" })
}

resource "aws_cloudwatch_log_group" "flow_logs" {
  #checkov:skip=CKV_AWS_158: encrypted with CloudWatch's own key; a customer key is a per-account choice, as for the service's log group (cloudwatch module input kms_key_arn).
  #checkov:skip=CKV_AWS_338: retention follows observability.log_retention_days (90 days in prod) to keep flow logs affordable; raise it where compliance asks for a year.
  name              = "/mlinfra/${var.name}/vpc-flow-logs"
  retention_in_days = var.observability.log_retention_days

  tags = local.tags
}

data "aws_iam_policy_document" "flow_logs_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "flow_logs" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.flow_logs.arn}:*"]
  }
}

resource "aws_iam_role" "flow_logs" {
  name_prefix        = "${substr(var.name, 0, 20)}-flow-"
  assume_role_policy = data.aws_iam_policy_document.flow_logs_assume.json

  tags = local.tags
}

resource "aws_iam_role_policy" "flow_logs" {
  name   = "write-flow-logs"
  role   = aws_iam_role.flow_logs.id
  policy = data.aws_iam_policy_document.flow_logs.json
}
