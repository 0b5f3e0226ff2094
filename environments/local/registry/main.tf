# local is disposable: destroy removes the repository with its images, and the secret at once.
# API key: off for the laptop; TF_VAR_api_key_required=true rehearses auth (api_key_switch.tf).
module "registry" {
  source = "../../../terraform/stacks/registry"

  environment  = "local"
  force_delete = true
  api_key      = { required = coalesce(var.api_key_required, false), recovery_window_in_days = 0 }
}
