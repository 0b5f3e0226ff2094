# The local environment of the CLI tests: only `push` runs against it (no stack is applied).
terraform {
  backend "s3" {}
}
