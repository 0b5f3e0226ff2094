# Shared by the registry and service roots of each environment whose API key is a choice (local,
# dev, staging; each links it as api_key_switch.tf). prod requires the key always and does not
# link it, so nothing can turn prod's key off.

variable "api_key_required" {
  description = "Whether clients need an API key, for this run; null keeps the root's own choice (the fallback of coalesce(var.api_key_required, ...) in its main.tf). TF_VAR_api_key_required=true rehearses auth. Give the registry and the service root the same value: the registry holds the secret the service reads."
  type        = bool
  default     = null
}
