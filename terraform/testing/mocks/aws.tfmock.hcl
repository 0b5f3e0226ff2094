# The aws provider's mocks, shared by every module's `terraform test` and by the test suite's
# plans (tests/unit/terraform): `mock_provider "aws" { source = "../../testing/mocks" }` from a
# module's folder. A block in a test's own mock_provider overrides the one of the same type here.
#
# A bare mock fills computed attributes with random strings, which the provider rejects where it
# expects a policy document, a CIDR block or an AMI id. These are the values a real account
# would return, in eu-west-1. Resources need none here: every run plans, and a test that asserts
# on a computed attribute sets it in its own mock_provider (override_during = plan).

mock_data "aws_partition" {
  defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
}

mock_data "aws_region" {
  defaults = { name = "eu-west-1" }
}

mock_data "aws_caller_identity" {
  defaults = { account_id = "123456789012" }
}

mock_data "aws_iam_policy_document" {
  defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}

mock_data "aws_vpc" {
  defaults = { cidr_block = "10.20.0.0/16" }
}

# The ECS-optimized AMI parameter.
mock_data "aws_ssm_parameter" {
  defaults = { value = "ami-0aaaaaaaaaaaaaaaa" }
}
