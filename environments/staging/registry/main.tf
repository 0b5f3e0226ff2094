variable "api_key_required" {
  description = "Whether clients need an API key (on, as in prod). Set the same in the service root."
  type        = bool
  default     = true
}

# staging is disposable: destroy removes the repository with its images, and the secret at once.
module "registry" {
  source = "../../../terraform/stacks/registry"

  name         = "mlinfra-staging"
  environment  = "staging"
  force_delete = true
  api_key      = { required = var.api_key_required, recovery_window_in_days = 0 }
}
