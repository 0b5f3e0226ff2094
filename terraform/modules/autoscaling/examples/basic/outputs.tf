output "policy_arns" {
  description = "ARNs of the enabled target tracking policies."
  value       = module.autoscaling.policy_arns
}
