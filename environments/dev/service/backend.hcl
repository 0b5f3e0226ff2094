# Remote state of dev/service: one key per environment and stack, locked by a lock file.
bucket = "mlinfra-tfstate-dev"
key    = "dev/service.tfstate"
region = "us-east-1"
