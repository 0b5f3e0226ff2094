# Remote state of prod/registry: one key per environment and stack, locked by a lock file.
bucket = "mlinfra-tfstate-prod"
key    = "prod/registry.tfstate"
region = "us-east-1"
