variable "region" {
  description = "AWS region to create the cluster in."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name of the cluster and stem of the example's resource names."
  type        = string
  default     = "mlinfra-example"
}
