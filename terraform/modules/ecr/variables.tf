################################################################################
# Common
################################################################################

variable "name" {
  description = "Name of the repository (for example \"mlinfra-prod\")."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.name)) && length(var.name) >= 2 && length(var.name) <= 256
    error_message = "name must be 2-256 lowercase letters, digits, and single '.', '_', '-' or '/' separators (ECR's rule), e.g. \"mlinfra-prod\"; lowercase it and drop other characters."
  }
}

variable "tags" {
  description = "Tags added to every resource the module creates."
  type        = map(string)
  default     = {}
  nullable    = false
}

################################################################################
# Repository
################################################################################

variable "image_tag_mutability" {
  description = "IMMUTABLE (a tag always names the same image, so a deployed tag cannot be overwritten) or MUTABLE."
  type        = string
  default     = "IMMUTABLE"
  nullable    = false

  validation {
    condition     = contains(["IMMUTABLE", "MUTABLE"], var.image_tag_mutability)
    error_message = "image_tag_mutability must be \"IMMUTABLE\" or \"MUTABLE\" (upper case)."
  }
}

variable "scan_on_push" {
  description = "Scan every pushed image for known vulnerabilities (ECR basic scanning)."
  type        = bool
  default     = true
  nullable    = false
}

variable "encryption" {
  description = "Encryption at rest: type AES256 (S3-managed keys) or KMS; kms_key_arn picks a customer-managed key for KMS (null uses the AWS-managed aws/ecr key)."
  type = object({
    type        = optional(string, "AES256")
    kms_key_arn = optional(string)
  })
  default  = {}
  nullable = false

  validation {
    condition     = contains(["AES256", "KMS"], var.encryption.type)
    error_message = "encryption.type must be \"AES256\" or \"KMS\"."
  }

  validation {
    condition     = var.encryption.kms_key_arn == null || (var.encryption.type == "KMS" && can(regex("^arn:[a-z-]+:kms:", coalesce(var.encryption.kms_key_arn, "-"))))
    error_message = "encryption.kms_key_arn must be a KMS key ARN (\"arn:aws:kms:...\") and needs encryption.type = \"KMS\"; set both, or leave kms_key_arn unset."
  }
}

variable "force_delete" {
  description = "Let `terraform destroy` delete the repository while it still holds images. Keep false where images matter."
  type        = bool
  default     = false
  nullable    = false
}

################################################################################
# Lifecycle Policy
################################################################################

variable "lifecycle_policy" {
  description = <<-EOT
    Image expiry, rules in priority order. protected_tags: tags that never expire, e.g. the tag
    currently deployed. release_tag_prefix / keep_release_count: the newest keep_release_count
    images tagged <prefix><anything> (every deployed image gets release-<n>) are kept, whatever
    the rules below them select (an image a higher-priority rule matches cannot be expired by a
    lower one). untagged_expiry_days: untagged images are deleted after this many days.
    tagged_rules: more rules, one per model sharing the repository, each keeping the newest
    keep_count images whose tag starts with one of tag_prefixes (or matches one of tag_patterns),
    judged after the release rule and before the untagged one. keep_tagged_count: how many of the
    newest other images whose tag matches tagged_patterns (CI builds) are kept.
  EOT
  type = object({
    release_tag_prefix   = optional(string, "release-")
    keep_release_count   = optional(number, 20)
    keep_tagged_count    = optional(number, 30)
    tagged_patterns      = optional(list(string), ["*"])
    untagged_expiry_days = optional(number, 7)
    protected_tags       = optional(list(string), [])
    tagged_rules = optional(list(object({
      description  = optional(string)
      tag_prefixes = optional(list(string), [])
      tag_patterns = optional(list(string), [])
      keep_count   = number
    })), [])
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.lifecycle_policy.keep_tagged_count >= 1 && floor(var.lifecycle_policy.keep_tagged_count) == var.lifecycle_policy.keep_tagged_count
    error_message = "lifecycle_policy.keep_tagged_count ${var.lifecycle_policy.keep_tagged_count} must be a whole number >= 1 (keeping 0 would expire an image just pushed, before its deploy tags it as a release)."
  }

  validation {
    condition     = var.lifecycle_policy.keep_release_count >= 1 && floor(var.lifecycle_policy.keep_release_count) == var.lifecycle_policy.keep_release_count
    error_message = "lifecycle_policy.keep_release_count ${var.lifecycle_policy.keep_release_count} must be a whole number >= 1: the running release and the ones a rollback may return to are kept (the default is 20)."
  }

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,126}$", var.lifecycle_policy.release_tag_prefix))
    error_message = "lifecycle_policy.release_tag_prefix \"${var.lifecycle_policy.release_tag_prefix}\" must be the start of an image tag (letters, digits, '_', '.', '-', not starting with '.' or '-', no '*'), e.g. \"release-\"."
  }

  validation {
    condition     = var.lifecycle_policy.untagged_expiry_days >= 1 && floor(var.lifecycle_policy.untagged_expiry_days) == var.lifecycle_policy.untagged_expiry_days
    error_message = "lifecycle_policy.untagged_expiry_days must be a whole number of days >= 1."
  }

  validation {
    condition     = length(var.lifecycle_policy.tagged_patterns) >= 1 && alltrue([for p in var.lifecycle_policy.tagged_patterns : length(regexall("\\*", p)) <= 4 && length(p) > 0])
    error_message = "lifecycle_policy.tagged_patterns must hold at least one non-empty pattern with at most 4 '*' wildcards each (ECR's limit), e.g. [\"*\"] or [\"v*\"]."
  }

  validation {
    condition     = alltrue([for r in var.lifecycle_policy.tagged_rules : (length(r.tag_prefixes) > 0) != (length(r.tag_patterns) > 0)])
    error_message = "Each of lifecycle_policy.tagged_rules needs exactly one of tag_prefixes (e.g. [\"churn-\"]) or tag_patterns (e.g. [\"churn-*\"]): ECR refuses a rule with both, and one with neither would select every tagged image."
  }

  validation {
    condition = alltrue([for r in var.lifecycle_policy.tagged_rules : alltrue(concat(
      [for p in r.tag_prefixes : can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,126}$", p))],
      [for p in r.tag_patterns : length(p) > 0 && length(regexall("\\*", p)) <= 4],
    ))])
    error_message = "lifecycle_policy.tagged_rules: tag_prefixes must be starts of image tags (letters, digits, '_', '.', '-', no '*'), e.g. \"churn-\"; tag_patterns non-empty with at most 4 '*' wildcards each (ECR's limit), e.g. \"churn-*\"."
  }

  validation {
    condition     = alltrue([for r in var.lifecycle_policy.tagged_rules : r.keep_count >= 1 && floor(r.keep_count) == r.keep_count])
    error_message = "Each of lifecycle_policy.tagged_rules needs keep_count, a whole number >= 1 of images to keep (0 would expire an image just pushed)."
  }

  validation {
    condition     = alltrue([for t in var.lifecycle_policy.protected_tags : can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", t))])
    error_message = "lifecycle_policy.protected_tags must be exact image tags (letters, digits, '_', '.', '-', at most 128 characters, not starting with '.' or '-'), e.g. the deployed tag \"a1b2c3d-0123abcd\"."
  }
}

################################################################################
# Repository Policy
################################################################################

variable "pull_account_ids" {
  description = "Other AWS account IDs allowed to pull images (cross-account pull). Empty: no repository policy, only this account's IAM grants access."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for id in var.pull_account_ids : can(regex("^[0-9]{12}$", id))])
    error_message = "pull_account_ids must hold 12-digit AWS account IDs (e.g. \"123456789012\"), not ARNs or aliases."
  }
}
