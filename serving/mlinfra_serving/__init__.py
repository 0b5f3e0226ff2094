"""mlinfra_serving: the LightGBM model service (Falcon, under gunicorn) that runs in every task."""

__version__ = "0.1.0"
