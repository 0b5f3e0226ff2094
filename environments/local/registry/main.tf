variable "api_key_required" {
  description = "Whether clients need an API key (off for the laptop; TF_VAR_api_key_required=true rehearses auth). Set the same in the service root."
  type        = bool
  default     = false
}

# local is disposable: destroy removes the repository with its images, and the secret at once.
module "registry" {
  source = "../../../terraform/stacks/registry"

  name         = "mlinfra-local"
  environment  = "local"
  force_delete = true
  api_key      = { required = var.api_key_required, recovery_window_in_days = 0 }
}
