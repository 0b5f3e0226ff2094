variable "region" {
  description = "AWS region to create the repository in."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name of the repository."
  type        = string
  default     = "mlinfra-example"
}

variable "deployed_tag" {
  description = "Image tag currently deployed, kept by the lifecycle policy (null: none yet)."
  type        = string
  default     = null
}
