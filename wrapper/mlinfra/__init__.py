"""mlinfra: a trained LightGBM model to production on AWS ECS (EC2) behind an ALB."""

__version__ = "0.1.0"
