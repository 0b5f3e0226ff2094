# staging is disposable: destroy removes the repository with its images, and the secret at once.
# API key: on, as in prod (api_key_switch.tf).
module "registry" {
  source = "../../../terraform/stacks/registry"

  environment  = "staging"
  force_delete = true
  api_key      = { required = coalesce(var.api_key_required, true), recovery_window_in_days = 0 }
}
