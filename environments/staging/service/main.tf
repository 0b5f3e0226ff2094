variable "container_image" {
  description = "Image URI with tag; the CLI writes it to .mlinfra/staging/image.auto.tfvars.json."
  type        = string
}

# Production's shape at a smaller size, to rehearse deploys.
module "service" {
  source = "../../../terraform/stacks/service"

  name            = "mlinfra-staging"
  environment     = "staging"
  container_image = var.container_image
  network         = { cidr = "10.30.0.0/16", az_count = 2, private_instances = true }
  cluster         = { instance_type = "t3.medium", min_instances = 2, max_instances = 4, force_delete = true }
  scaling         = { desired_count = 2, min_tasks = 2, max_tasks = 4, cpu_target = 70 }
  load_balancer   = { deletion_protection = false }
  observability   = { log_retention_days = 30, alarms_enabled = true, dashboard_enabled = true }
}
