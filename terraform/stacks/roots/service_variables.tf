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

variable "canary" {
  description = "The canary beside the stable service (image, weight percent, desired_count); the CLI writes it into .mlinfra/<env>/canary.auto.tfvars.json during `mlinfra deploy --canary`. The default: no canary."
  type = object({
    image         = optional(string)
    weight        = optional(number, 0)
    desired_count = optional(number, 1)
  })
  default = {}
}

variable "models" {
  description = "The environment's other models (image, min_tasks, max_tasks), each answering under /models/<name>; the CLI writes their images into .mlinfra/<env>/models.auto.tfvars.json during `mlinfra deploy --model NAME`. The default: none."
  type = map(object({
    image     = string
    min_tasks = optional(number, 1)
    max_tasks = optional(number, 2)
  }))
  default = {}
}
