# Shared by every environments/<env>/service root (linked as variables.tf): what the CLI writes
# per deploy into .mlinfra/<env>/image.auto.tfvars.json (docs/team-contract.md).

variable "container_image" {
  description = "Image URI with tag or digest, as `mlinfra push` printed it."
  type        = string
}

variable "api_key_version_id" {
  description = "Version of the API key secret the tasks read; the CLI writes the current one, so a rotation rolls the tasks. Null reads AWSCURRENT when a task starts."
  type        = string
  default     = null
}
