# Remote state of prod/service: one key per environment and stack, locked by a lock file.
bucket = "mlinfra-tfstate-prod"
key    = "prod/service.tfstate"
region = "us-east-1"
