# A caller that requests its certificate in the same apply: the ARN is unknown at plan time,
# so only create_https_listener can tell the module, before the apply, that HTTPS is on.
resource "aws_acm_certificate" "this" {
  domain_name       = "api.example.com"
  validation_method = "DNS"
}

module "alb" {
  source = "../.."

  name                  = "svc"
  vpc_id                = "vpc-0a1b2c3d"
  subnet_ids            = ["subnet-0a1b2c3d", "subnet-4e5f6a7b"]
  ingress_cidr_blocks   = ["0.0.0.0/0"]
  certificate_arn       = aws_acm_certificate.this.arn
  create_https_listener = true
}

# Terraform knows the prefix of the URL template although the DNS name is unknown.
output "serves_https" {
  value = startswith(module.alb.url, "https://")
}
