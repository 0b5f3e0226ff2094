# prod's images outlive a destroy: force_delete stays off, so the repository is removed only when
# empty. The API key is always required; a deleted secret can be restored for 30 days.
module "registry" {
  source = "../../../terraform/stacks/registry"

  environment        = "prod"
  force_delete       = false
  keep_release_count = 30
  api_key            = { required = true, recovery_window_in_days = 30 }
}
