# prod's images outlive a destroy: force_delete stays off, so the repository is removed only when empty.
module "ecr" {
  source = "../../../terraform/modules/ecr"

  name         = "mlinfra-prod"
  force_delete = false

  tags = { Project = "mlinfra", Environment = "prod" }
}

output "repository_url" {
  description = "Where `mlinfra push` sends images."
  value       = module.ecr.repository_url
}
