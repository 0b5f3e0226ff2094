################################################################################
# TLS certificate (only when load_balancer.https.domain is set)
################################################################################

locals {
  create_https_listener = var.load_balancer.https != null
  domain                = try(var.load_balancer.https.domain, null)
  request_certificate   = local.domain != null
  certificate_arn = (local.request_certificate
    ? one(aws_acm_certificate_validation.this[*].certificate_arn)
    : try(var.load_balancer.https.certificate_arn, null)
  )
}

data "aws_route53_zone" "this" {
  count = local.request_certificate ? 1 : 0

  name         = var.load_balancer.https.zone_name
  private_zone = false
}

resource "aws_acm_certificate" "this" {
  count = local.request_certificate ? 1 : 0

  domain_name       = local.domain
  validation_method = "DNS"

  tags = merge(local.tags, { Name = local.domain })

  # The HTTPS listener keeps the old certificate until the new one is issued.
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_route53_record" "certificate_validation" {
  # Keyed by the domain, known at plan time; the options themselves are known only after the
  # certificate is requested.
  for_each = local.request_certificate ? toset([local.domain]) : toset([])

  zone_id         = data.aws_route53_zone.this[0].zone_id
  name            = local.validation_option.resource_record_name
  type            = local.validation_option.resource_record_type
  records         = [local.validation_option.resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

locals {
  validation_option = one([
    for option in try(aws_acm_certificate.this[0].domain_validation_options, []) : option
    if option.domain_name == local.domain
  ])
}

# Waits until ACM has seen the records and issued the certificate: the listener needs an issued one.
resource "aws_acm_certificate_validation" "this" {
  count = local.request_certificate ? 1 : 0

  certificate_arn         = aws_acm_certificate.this[0].arn
  validation_record_fqdns = [for record in aws_route53_record.certificate_validation : record.fqdn]
}
