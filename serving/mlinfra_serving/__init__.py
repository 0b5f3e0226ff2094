"""mlinfra_serving: the LightGBM model service (Falcon, under gunicorn) that runs in every task."""

__version__ = "0.1.0"
# The guide's name of the service, in the body of GET /health: monitors written for it match it.
SERVICE_NAME = "ML Prediction API"
