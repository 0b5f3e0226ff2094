# staging is disposable: destroy removes the repository with its images.
module "ecr" {
  source = "../../../terraform/modules/ecr"

  name         = "mlinfra-staging"
  force_delete = true

  tags = { Project = "mlinfra", Environment = "staging" }
}

output "repository_url" {
  description = "Where `mlinfra push` sends images."
  value       = module.ecr.repository_url
}
