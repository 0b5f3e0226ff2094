# Remote state of local/registry: one key per environment and stack, locked by a lock file.
bucket = "mlinfra-local-tfstate"
key    = "local/registry.tfstate"
region = "us-east-1"
use_path_style = true # moto serves buckets by path, not by host name
