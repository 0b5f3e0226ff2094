# Remote state of dev/registry: one key per environment and stack, locked by a lock file.
bucket = "mlinfra-tfstate-dev"
key    = "dev/registry.tfstate"
region = "us-east-1"
