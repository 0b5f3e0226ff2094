variable "region" {
  description = "AWS Region to deploy the example in."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Stem of every name the example creates."
  type        = string
  default     = "mlinfra-multi"
}

variable "vpc_cidr" {
  description = "CIDR block of the example's VPC; its first two /24s become the public subnets."
  type        = string
  default     = "10.42.0.0/16"
}

variable "zone_name" {
  description = "Public Route 53 zone the example creates; the models answer on houses.<zone>, prices.<zone> and api.<zone>/models/<name>/."
  type        = string
  default     = "multi-model.example.com"
}

variable "instance_type" {
  description = "Instance type of the cluster's hosts."
  type        = string
  default     = "t3.medium"
}

variable "models" {
  description = "The models, by name: the image tag pushed to its repository, the priority of its listener rules (the path rule takes priority + 1) and its task count range."
  type = map(object({
    image_tag = string
    priority  = number
    min_tasks = optional(number, 1)
    max_tasks = optional(number, 2)
  }))
  default = {
    houses = { image_tag = "abc1234-0123abcd", priority = 10 }
    prices = { image_tag = "def5678-4567cdef", priority = 20 }
  }
}
