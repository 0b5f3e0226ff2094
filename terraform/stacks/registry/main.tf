locals {
  name = coalesce(var.name, "mlinfra-${var.environment}")
  tags = merge(var.tags, {
    Project     = "mlinfra"
    Environment = var.environment
  })
}

################################################################################
# Repository
################################################################################

module "ecr" {
  source = "../../modules/ecr"

  name         = local.name
  force_delete = var.force_delete
  lifecycle_policy = {
    keep_release_count = var.keep_release_count
  }

  tags = local.tags
}

################################################################################
# API Key
################################################################################

# Long-lived like the repository: it survives a destroy of the service stack, and its value is
# set (and rotated) by `mlinfra secret set/rotate`, never by Terraform, so no value is ever in
# a plan or in state.
resource "aws_secretsmanager_secret" "api_key" {
  #checkov:skip=CKV_AWS_149: encrypted with Secrets Manager's AWS-managed key; a customer key is the api_key.kms_key_id input.
  #checkov:skip=CKV2_AWS_57: rotation is `mlinfra secret rotate`, which also rolls the tasks onto the new key; a rotation Lambda could not.
  count = var.api_key.required ? 1 : 0

  name                    = "mlinfra/${var.environment}/api-key"
  description             = "API key clients of ${local.name} send as X-API-Key; set with `mlinfra secret set --env ${var.environment}`."
  kms_key_id              = var.api_key.kms_key_id
  recovery_window_in_days = var.api_key.recovery_window_in_days

  tags = local.tags
}
