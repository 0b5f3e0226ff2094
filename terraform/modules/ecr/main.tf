################################################################################
# Repository
################################################################################

resource "aws_ecr_repository" "this" {
  #checkov:skip=CKV_AWS_136:AES256 is the default for zero set-up; a KMS key is one input away (encryption.type = "KMS").
  name                 = var.name
  image_tag_mutability = var.image_tag_mutability
  force_delete         = var.force_delete

  image_scanning_configuration {
    scan_on_push = var.scan_on_push
  }

  encryption_configuration {
    encryption_type = var.encryption.type
    kms_key         = var.encryption.kms_key_arn
  }

  tags = var.tags
}

################################################################################
# Lifecycle Policy
################################################################################

# NOTE: ECR evaluates the rules by rulePriority, lowest first, and an image whose tags match a
# higher-priority rule's selection can never be expired by a lower-priority rule. The order
# below is therefore what keeps images: protected tags, then release tags, then the rest.
locals {
  protect_rule = {
    description = "Never expire the protected (deployed) tags"
    selection = {
      tagStatus      = "tagged"
      tagPatternList = var.lifecycle_policy.protected_tags
      countType      = "imageCountMoreThan"
      # NOTE: never reached; the rule exists so that lower-priority rules cannot expire these tags.
      countNumber = 10000
    }
    action = { type = "expire" }
  }
  # Every image a deploy pushed carries a release tag (release-<n>). All release-tagged images
  # belong to this rule, so the busy rules below cannot touch them; it alone expires the ones
  # older than the newest keep_release_count, which are what a service runs or may roll back to.
  release_rule = {
    description = "Keep the newest ${var.lifecycle_policy.keep_release_count} images tagged ${var.lifecycle_policy.release_tag_prefix}*"
    selection = {
      tagStatus     = "tagged"
      tagPrefixList = [var.lifecycle_policy.release_tag_prefix]
      countType     = "imageCountMoreThan"
      countNumber   = var.lifecycle_policy.keep_release_count
    }
    action = { type = "expire" }
  }
  untagged_rule = {
    description = "Expire untagged images after ${var.lifecycle_policy.untagged_expiry_days} days"
    selection = {
      tagStatus   = "untagged"
      countType   = "sinceImagePushed"
      countUnit   = "days"
      countNumber = var.lifecycle_policy.untagged_expiry_days
    }
    action = { type = "expire" }
  }
  tagged_rule = {
    description = "Keep the newest ${var.lifecycle_policy.keep_tagged_count} other tagged images"
    selection = {
      tagStatus      = "tagged"
      tagPatternList = var.lifecycle_policy.tagged_patterns
      countType      = "imageCountMoreThan"
      countNumber    = var.lifecycle_policy.keep_tagged_count
    }
    action = { type = "expire" }
  }
  # One rule per model sharing the repository: each keeps its own newest images, which the
  # catch-all tagged rule below can then no longer expire.
  extra_tagged_rules = [for r in var.lifecycle_policy.tagged_rules : {
    description = coalesce(r.description, "Keep the newest ${r.keep_count} images tagged ${join(", ", length(r.tag_prefixes) > 0 ? [for p in r.tag_prefixes : "${p}*"] : r.tag_patterns)}")
    selection = merge(
      { tagStatus = "tagged", countType = "imageCountMoreThan", countNumber = r.keep_count },
      length(r.tag_prefixes) > 0 ? { tagPrefixList = r.tag_prefixes } : { tagPatternList = r.tag_patterns },
    )
    action = { type = "expire" }
  }]
  lifecycle_rules = concat(
    length(var.lifecycle_policy.protected_tags) > 0 ? [local.protect_rule] : [],
    [local.release_rule],
    local.extra_tagged_rules,
    [local.untagged_rule, local.tagged_rule],
  )
}

resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name
  policy = jsonencode({
    rules = [for i, rule in local.lifecycle_rules : merge(rule, { rulePriority = i + 1 })]
  })
}

################################################################################
# Repository Policy
################################################################################

data "aws_partition" "current" {}

data "aws_iam_policy_document" "pull" {
  count = length(var.pull_account_ids) > 0 ? 1 : 0

  statement {
    sid = "CrossAccountPull"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]

    principals {
      type        = "AWS"
      identifiers = [for id in var.pull_account_ids : "arn:${data.aws_partition.current.partition}:iam::${id}:root"]
    }
  }
}

resource "aws_ecr_repository_policy" "pull" {
  count = length(var.pull_account_ids) > 0 ? 1 : 0

  repository = aws_ecr_repository.this.name
  policy     = data.aws_iam_policy_document.pull[0].json
}
