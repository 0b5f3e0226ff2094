################################################################################
# Load Balancer - access logs bucket (only with load_balancer.enable_access_logs)
################################################################################

data "aws_caller_identity" "current" {}

# The Region's Elastic Load Balancing account: the writer of access logs in Regions older than
# August 2022; newer Regions use the log delivery service principal. The policy admits both.
data "aws_elb_service_account" "this" {}

resource "aws_s3_bucket" "access_logs" {
  #checkov:skip=CKV_AWS_144: access logs are re-creatable diagnostics; cross-Region replication would double their cost.
  #checkov:skip=CKV_AWS_18: this bucket is the access log destination; logging it to itself would loop.
  #checkov:skip=CKV_AWS_145: ELB writes access logs only to buckets encrypted with S3-managed keys (SSE-S3), not KMS.
  #checkov:skip=CKV2_AWS_62: nothing consumes events of this bucket.
  #checkov:skip=CKV_AWS_21: objects are written once and expire; versioning would keep expired logs.
  count = var.load_balancer.enable_access_logs ? 1 : 0

  bucket_prefix = "${var.name}-alb-logs-"
  # Logs only: a destroy of the environment takes them with it.
  force_destroy = true

  tags = local.tags
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  count = var.load_balancer.enable_access_logs ? 1 : 0

  bucket                  = aws_s3_bucket.access_logs[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "access_logs" {
  count = var.load_balancer.enable_access_logs ? 1 : 0

  bucket = aws_s3_bucket.access_logs[0].id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  count = var.load_balancer.enable_access_logs ? 1 : 0

  bucket = aws_s3_bucket.access_logs[0].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  count = var.load_balancer.enable_access_logs ? 1 : 0

  bucket = aws_s3_bucket.access_logs[0].id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"

    filter {}

    expiration {
      days = var.load_balancer.access_log_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_iam_policy_document" "access_logs" {
  count = var.load_balancer.enable_access_logs ? 1 : 0

  statement {
    sid       = "ElbAccountWritesLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.access_logs[0].arn}/${var.name}/AWSLogs/${data.aws_caller_identity.current.account_id}/*"]

    principals {
      type        = "AWS"
      identifiers = [data.aws_elb_service_account.this.arn]
    }
  }

  statement {
    sid       = "LogDeliveryWritesLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.access_logs[0].arn}/${var.name}/AWSLogs/${data.aws_caller_identity.current.account_id}/*"]

    principals {
      type        = "Service"
      identifiers = ["logdelivery.elasticloadbalancing.amazonaws.com"]
    }
  }

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.access_logs[0].arn,
      "${aws_s3_bucket.access_logs[0].arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "access_logs" {
  count = var.load_balancer.enable_access_logs ? 1 : 0

  bucket = aws_s3_bucket.access_logs[0].id
  policy = data.aws_iam_policy_document.access_logs[0].json

  # A policy put before the public access block could be judged public and refused.
  depends_on = [aws_s3_bucket_public_access_block.access_logs]
}
