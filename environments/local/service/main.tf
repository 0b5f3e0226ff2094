# The emulator on this machine (moto + the local runtime): dev's shape, nothing to keep.
module "service" {
  #checkov:skip=CKV_AWS_2: local serves plain HTTP by choice: the laptop's emulator, no certificate (staging and prod are HTTPS only).
  #checkov:skip=CKV2_AWS_20: no HTTPS listener to redirect to in local, by choice (see CKV_AWS_2).
  #checkov:skip=CKV_AWS_91: no access logs in local: disposable, nothing to audit (staging and prod keep them).
  #checkov:skip=CKV2_AWS_28: no WAF in local: nothing faces the internet (prod has load_balancer.waf_rate_limit).
  source = "../../../terraform/stacks/service"

  name            = "mlinfra-local"
  environment     = "local"
  container_image = var.container_image
  canary          = var.canary
  models          = var.models
  api_key         = { required = coalesce(var.api_key_required, false), version_id = var.api_key_version_id }
  network         = { cidr = "10.10.0.0/16", az_count = 2, private_instances = false }
  cluster         = { instance_type = "t3.small", min_instances = 1, max_instances = 2, force_delete = true }
  scaling         = { desired_count = 1, min_tasks = 1, max_tasks = 2, cpu_target = 70 }
  # A 5 s drain instead of 30: a local roll waits for it, and a request here takes milliseconds.
  load_balancer = { enable_deletion_protection = false, deregistration_delay = 5 }
  observability = { log_retention_days = 7, create_alarms = false, create_dashboard = false }
}
