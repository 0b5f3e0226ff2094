# Remote state of staging/service: one key per environment and stack, locked by a lock file.
bucket = "mlinfra-tfstate-staging"
key    = "staging/service.tfstate"
region = "us-east-1"
