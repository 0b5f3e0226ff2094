# Production: two AZs, private instances behind NAT, t3.medium, 2-10 tasks scaled on
# CPU, memory and requests; HTTPS only, the API key always, WAF, access logs, alarms to someone,
# and the load balancer protected from deletion.
module "service" {
  #checkov:skip=CKV_AWS_2: HTTPS is on (load_balancer.https); checkov cannot follow the certificate requested in the same apply. Read back through the AWS API by tests/integration/environments/test_prod_environment.py.
  #checkov:skip=CKV2_AWS_20: port 80 answers 301 to 443 (load_balancer.https); checkov cannot follow it. Read back by test_prod_environment.py.
  #checkov:skip=CKV_AWS_91: access logs are on (load_balancer.enable_access_logs) into the bucket made in the same apply, which checkov cannot follow. Read back by test_prod_environment.py.
  #checkov:skip=CKV2_AWS_28: the WAF web ACL is on (load_balancer.waf_rate_limit); checkov cannot follow the switch through the stack. Read back by test_prod_environment.py.
  source = "../../../terraform/stacks/service"

  name            = "mlinfra-prod"
  environment     = "prod"
  container_image = var.container_image
  canary          = var.canary
  models          = var.models
  api_key         = { required = true, version_id = var.api_key_version_id }
  network         = { cidr = "10.40.0.0/16", az_count = 2, private_instances = true }
  cluster         = { instance_type = "t3.medium", min_instances = 2, max_instances = 6, force_delete = false }
  scaling         = { desired_count = 2, min_tasks = 2, max_tasks = 10, cpu_target = 70, memory_target = 80, requests_per_target = 1000 }
  load_balancer = {
    # To tear prod down on purpose: set false, apply, then destroy.
    enable_deletion_protection = true
    # Replace with your own: a domain in a public Route 53 zone of this account (or certificate_arn).
    https              = { domain = "ml.example.com", zone_name = "example.com" }
    enable_access_logs = true
    access_log_days    = 90
    # Requests per 5 minutes per client IP before WAF blocks it.
    waf_rate_limit = 2000
  }
  observability = {
    log_retention_days = 90
    create_alarms      = true
    create_dashboard   = true
    # Replace with the on-call address; add alarm_topic_arns for chat or paging.
    alarm_emails = ["ml-oncall@example.com"]
  }
}
