variable "alb_deletion_protection" {
  description = "AWS refuses to delete the load balancer while true; set false only to tear prod down on purpose."
  type        = bool
  default     = true
}

variable "container_image" {
  description = "Image URI with tag; the CLI writes it to .mlinfra/prod/image.auto.tfvars.json."
  type        = string
}

# The guide's production: two AZs, private instances behind NAT, t3.medium, 2-10 tasks on 70% CPU, alarms on.
module "service" {
  source = "../../../terraform/stacks/service"

  name            = "mlinfra-prod"
  environment     = "prod"
  container_image = var.container_image
  network         = { cidr = "10.40.0.0/16", az_count = 2, private_instances = true }
  cluster         = { instance_type = "t3.medium", min_instances = 2, max_instances = 6, force_delete = false }
  scaling         = { desired_count = 2, min_tasks = 2, max_tasks = 10, cpu_target = 70 }
  load_balancer   = { deletion_protection = false }
  observability   = { log_retention_days = 90, alarms_enabled = true, dashboard_enabled = true }
}
