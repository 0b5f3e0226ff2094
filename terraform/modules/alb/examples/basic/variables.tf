variable "name" {
  description = "Name of the example's load balancer and network."
  type        = string
  default     = "mlinfra-alb-example"
  nullable    = false
}
