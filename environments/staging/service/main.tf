# Production's shape at a smaller size, to rehearse deploys: HTTPS only, the API key, alarms to
# the team, access logs; no WAF and no deletion protection (staging is torn down and rebuilt).
module "service" {
  #checkov:skip=CKV_AWS_2: HTTPS is on (load_balancer.https); checkov cannot follow the certificate requested in the same apply. Read back by tests/integration/environments/test_shipped_plans.py.
  #checkov:skip=CKV2_AWS_20: port 80 redirects to 443 whenever load_balancer.https is set; checkov cannot follow it. Read back by test_shipped_plans.py.
  #checkov:skip=CKV_AWS_91: access logs are on (load_balancer.enable_access_logs) into the bucket made in the same apply, which checkov cannot follow. Read back by test_shipped_plans.py.
  #checkov:skip=CKV2_AWS_28: no WAF in staging by choice: it serves the team's tests, not the internet's traffic (prod has load_balancer.waf_rate_limit).
  source = "../../../terraform/stacks/service"

  name            = "mlinfra-staging"
  environment     = "staging"
  container_image = var.container_image
  canary          = var.canary
  models          = var.models
  api_key         = { required = coalesce(var.api_key_required, true), version_id = var.api_key_version_id }
  network         = { cidr = "10.30.0.0/16", az_count = 2, private_instances = true }
  cluster         = { instance_type = "t3.medium", min_instances = 2, max_instances = 4, force_delete = true }
  scaling         = { desired_count = 2, min_tasks = 2, max_tasks = 4, cpu_target = 70, memory_target = 80, requests_per_target = 1000 }
  load_balancer = {
    enable_deletion_protection = false
    # Replace with your own: a domain in a public Route 53 zone of this account.
    https              = { domain = "staging.ml.example.com", zone_name = "example.com" }
    enable_access_logs = true
    access_log_days    = 30
  }
  observability = {
    log_retention_days = 30
    create_alarms      = true
    create_dashboard   = true
    # Replace with the team's address (each confirms the subscription e-mail AWS sends).
    alarm_emails = ["ml-alerts@example.com"]
  }
}
