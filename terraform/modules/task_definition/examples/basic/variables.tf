variable "region" {
  description = "AWS region of the example."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name of the service and stem of its neighbours' names."
  type        = string
  default     = "mlinfra-example"
}

variable "image_tag" {
  description = "Tag of the image pushed to the example's repository (`mlinfra push` prints it); the module refuses \"latest\"."
  type        = string
  default     = "example"
}
