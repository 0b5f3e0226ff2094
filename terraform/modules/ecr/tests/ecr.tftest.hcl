mock_provider "aws" {
  source = "../../testing/mocks"
}

variables {
  name = "mlinfra-test"
}

run "defaults_are_secure" {
  command = plan

  assert {
    condition     = aws_ecr_repository.this.image_tag_mutability == "IMMUTABLE"
    error_message = "Tags must be immutable by default."
  }
  assert {
    condition     = aws_ecr_repository.this.image_scanning_configuration[0].scan_on_push
    error_message = "Scan on push must be on by default."
  }
  assert {
    condition     = aws_ecr_repository.this.encryption_configuration[0].encryption_type == "AES256"
    error_message = "The repository must be encrypted (AES256) by default."
  }
  assert {
    condition     = aws_ecr_repository.this.force_delete == false
    error_message = "force_delete must be off by default."
  }
  assert {
    condition     = length(aws_ecr_repository_policy.pull) == 0
    error_message = "No repository policy (no cross-account access) by default."
  }
  assert {
    condition = jsondecode(aws_ecr_lifecycle_policy.this.policy).rules == [
      {
        rulePriority = 1, description = "Keep the newest 20 images tagged release-*", action = { type = "expire" },
        selection    = { tagStatus = "tagged", tagPrefixList = ["release-"], countType = "imageCountMoreThan", countNumber = 20 }
      },
      {
        rulePriority = 2, description = "Expire untagged images after 7 days", action = { type = "expire" },
        selection    = { tagStatus = "untagged", countType = "sinceImagePushed", countUnit = "days", countNumber = 7 }
      },
      {
        rulePriority = 3, description = "Keep the newest 30 other tagged images", action = { type = "expire" },
        selection    = { tagStatus = "tagged", tagPatternList = ["*"], countType = "imageCountMoreThan", countNumber = 30 }
      },
    ]
    error_message = "Default lifecycle: the newest 20 release-* images first (no lower rule can expire them), then untagged after 7 days, then the newest 30 other tagged images."
  }
}

run "kms_cross_account_and_protected_tag" {
  command = plan

  variables {
    image_tag_mutability = "MUTABLE"
    encryption           = { type = "KMS", kms_key_arn = "arn:aws:kms:eu-west-1:111111111111:key/abcd" }
    force_delete         = true
    pull_account_ids     = ["222222222222"]
    tags                 = { Team = "ml" }
    lifecycle_policy     = { keep_tagged_count = 5, tagged_patterns = ["v*"], protected_tags = ["a1b2c3d-0123abcd"] }
  }

  assert {
    condition     = aws_ecr_repository.this.encryption_configuration[0].kms_key == "arn:aws:kms:eu-west-1:111111111111:key/abcd"
    error_message = "The given KMS key must be used."
  }
  assert {
    condition     = aws_ecr_repository.this.tags == tomap({ Team = "ml" }) && aws_ecr_repository.this.force_delete
    error_message = "tags and force_delete must reach the repository."
  }
  assert {
    condition     = length(aws_ecr_repository_policy.pull) == 1
    error_message = "A pull policy must exist when pull_account_ids is set."
  }
  assert {
    condition     = jsondecode(aws_ecr_lifecycle_policy.this.policy).rules[0].selection.tagPatternList == ["a1b2c3d-0123abcd"] && jsondecode(aws_ecr_lifecycle_policy.this.policy).rules[0].rulePriority == 1
    error_message = "The protected tag must be matched by the highest-priority rule, so no other rule can expire it."
  }
  assert {
    condition     = jsondecode(aws_ecr_lifecycle_policy.this.policy).rules[3].selection.countNumber == 5 && jsondecode(aws_ecr_lifecycle_policy.this.policy).rules[3].selection.tagPatternList == ["v*"]
    error_message = "keep_tagged_count and tagged_patterns must reach the lowest-priority tagged rule."
  }
}

run "release_images_outrank_the_busy_rules" {
  command = plan

  variables {
    lifecycle_policy = { release_tag_prefix = "deploy-", keep_release_count = 50, keep_tagged_count = 3, protected_tags = ["a1b2c3d-0123abcd"] }
  }

  assert {
    condition = [for r in jsondecode(aws_ecr_lifecycle_policy.this.policy).rules : [r.rulePriority, r.description]] == [
      [1, "Never expire the protected (deployed) tags"],
      [2, "Keep the newest 50 images tagged deploy-*"],
      [3, "Expire untagged images after 7 days"],
      [4, "Keep the newest 3 other tagged images"],
    ]
    error_message = "Rule order (ECR's priority): protected tags, then release tags, then untagged, then other tags."
  }

  assert {
    condition = jsondecode(aws_ecr_lifecycle_policy.this.policy).rules[1].selection == {
      tagStatus = "tagged", tagPrefixList = ["deploy-"], countType = "imageCountMoreThan", countNumber = 50
    }
    error_message = "The release rule must select the prefix's tags and keep keep_release_count of them."
  }
}

run "models_sharing_a_repository_each_keep_their_own" {
  command = plan

  variables {
    lifecycle_policy = {
      tagged_rules = [
        { tag_prefixes = ["churn-"], keep_count = 5 },
        { tag_patterns = ["price-*-gpu"], keep_count = 2, description = "Keep two GPU builds of price" },
      ]
    }
  }

  assert {
    condition = [for r in jsondecode(aws_ecr_lifecycle_policy.this.policy).rules : [r.rulePriority, r.description]] == [
      [1, "Keep the newest 20 images tagged release-*"],
      [2, "Keep the newest 5 images tagged churn-*"],
      [3, "Keep two GPU builds of price"],
      [4, "Expire untagged images after 7 days"],
      [5, "Keep the newest 30 other tagged images"],
    ]
    error_message = "tagged_rules must come, in their order, after the release rule and before the untagged and catch-all rules."
  }
  assert {
    condition = [for r in slice(jsondecode(aws_ecr_lifecycle_policy.this.policy).rules, 1, 3) : r.selection] == [
      { tagStatus = "tagged", tagPrefixList = ["churn-"], countType = "imageCountMoreThan", countNumber = 5 },
      { tagStatus = "tagged", tagPatternList = ["price-*-gpu"], countType = "imageCountMoreThan", countNumber = 2 },
    ]
    error_message = "Each tagged rule must select its prefixes (or its patterns) and keep its keep_count."
  }
}

run "rejects_bad_tagged_rules" {
  command = plan

  variables {
    lifecycle_policy = {
      tagged_rules = [
        { tag_prefixes = ["churn-"], tag_patterns = ["churn-*"], keep_count = 0 },
        { keep_count = 3 },
        { tag_prefixes = ["churn-*"], keep_count = 3 },
      ]
    }
  }

  expect_failures = [var.lifecycle_policy]
}

run "rejects_bad_release_rule" {
  command = plan

  variables {
    lifecycle_policy = { release_tag_prefix = "release-*", keep_release_count = 0 }
  }

  expect_failures = [var.lifecycle_policy]
}

run "cross_account_pull_is_read_only" {
  command = plan

  variables {
    pull_account_ids = ["222222222222", "333333333333"]
  }

  assert {
    condition     = one(data.aws_iam_policy_document.pull[0].statement[0].principals).identifiers == toset(["arn:aws:iam::222222222222:root", "arn:aws:iam::333333333333:root"])
    error_message = "Each listed account (and no other) must be a principal of the pull policy."
  }
  assert {
    condition     = data.aws_iam_policy_document.pull[0].statement[0].actions == toset(["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"])
    error_message = "Other accounts may only pull: no push, no delete."
  }
}

run "rejects_bad_inputs" {
  command = plan

  variables {
    name                 = "Bad_Name!"
    image_tag_mutability = "immutable"
    encryption           = { type = "AES256", kms_key_arn = "arn:aws:kms:eu-west-1:111111111111:key/abcd" }
    pull_account_ids     = ["arn:aws:iam::222222222222:root"]
    lifecycle_policy     = { keep_tagged_count = 0, untagged_expiry_days = 0, protected_tags = ["-bad tag"] }
  }

  expect_failures = [
    var.name,
    var.image_tag_mutability,
    var.encryption,
    var.pull_account_ids,
    var.lifecycle_policy,
  ]
}
