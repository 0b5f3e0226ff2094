################################################################################
# Common
################################################################################

variable "name" {
  description = "Name of the repository. Null: \"mlinfra-<environment>\", the stem the service stack's name follows in every environment."
  type        = string
  default     = null
}

variable "environment" {
  description = "Environment name (local, dev, staging, prod); tagged on every resource and part of the secret's name."
  type        = string
  nullable    = false

  validation {
    condition     = contains(["local", "dev", "staging", "prod"], var.environment)
    error_message = "environment \"${var.environment}\" must be one of local, dev, staging, prod."
  }
}

variable "tags" {
  description = "Extra tags on every resource (Environment and Project are always set)."
  type        = map(string)
  default     = {}
  nullable    = false
}

################################################################################
# Repository
################################################################################

variable "force_delete" {
  description = "Let destroy remove the repository while it still holds images (disposable environments only)."
  type        = bool
  default     = false
  nullable    = false
}

variable "keep_release_count" {
  description = "How many of the newest release-<n> images the lifecycle policy keeps: what runs and what can be rolled back to."
  type        = number
  default     = 20
  nullable    = false
}

################################################################################
# API Key
################################################################################

variable "api_key" {
  description = "The service's API key secret (Secrets Manager): whether clients need one, an optional customer KMS key, and the days a deleted secret can be restored (0 deletes at once)."
  type = object({
    required                = bool
    kms_key_id              = optional(string)
    recovery_window_in_days = optional(number, 7)
  })
  nullable = false

  validation {
    condition     = var.api_key.recovery_window_in_days == 0 || (var.api_key.recovery_window_in_days >= 7 && var.api_key.recovery_window_in_days <= 30)
    error_message = "api_key.recovery_window_in_days ${var.api_key.recovery_window_in_days} must be 0 (delete at once) or 7-30 days (Secrets Manager's range)."
  }
}
