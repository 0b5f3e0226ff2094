# Remote state of staging/registry: one key per environment and stack, locked by a lock file.
bucket = "mlinfra-tfstate-staging"
key    = "staging/registry.tfstate"
region = "us-east-1"
