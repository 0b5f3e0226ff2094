# The service of one environment. Its neighbours (cluster, load balancer, log group, registry)
# come from the other mlinfra modules; here they are inputs, as in the environments' service
# stack, which passes the pushed image URI as container_image.
provider "aws" {
  region = var.region
}

module "service" {
  source = "../.."

  name                   = var.name
  container_image        = var.container_image
  repository_arn         = var.repository_arn
  log_group_name         = var.log_group_name
  cluster_arn            = var.cluster_arn
  capacity_provider_name = var.capacity_provider_name
  target_group_arn       = var.target_group_arn

  cpu    = 512
  memory = 1024
  environment = {
    LOG_LEVEL = "info"
  }

  tags = {
    Project     = "mlinfra"
    Environment = "example"
  }
}
