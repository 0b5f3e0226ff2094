"""Reliability figures (longer runs of what tests/reliability checks)."""
