"""The ASGI entry point gunicorn's ``asgi`` worker loads (once, in the master, with ``preload_app``).

A missing or corrupt model stops the process here with one clear log line, so a bad image
fails its first health check instead of serving errors.
"""

from __future__ import annotations

import logging
import sys

import falcon.asgi

from mlinfra_serving import signals
from mlinfra_serving.app import create_app
from mlinfra_serving.artifact import ArtifactError
from mlinfra_serving.auth import load_api_key
from mlinfra_serving.config import Settings, SettingsError
from mlinfra_serving.logs import log_event
from mlinfra_serving.predictor import Predictor


def load_application() -> falcon.asgi.App[falcon.asgi.Request, falcon.asgi.Response]:
    try:
        settings = Settings.from_env()
        api_key = load_api_key()
        predictor = Predictor.load(settings.model_dir, settings.model_backend)
        model_signals = signals.load(predictor.reference, predictor.version)
    except (ArtifactError, SettingsError) as err:
        log_event(
            "startup failed",
            logging.CRITICAL,
            error=str(err),
            # A settings error (a limit, the API key) names its own fix; the model needs this one.
            fix=(
                "set MODEL_DIR to a folder with model.txt and metadata.json (mlinfra train)"
                if isinstance(err, ArtifactError)
                else "correct or unset the environment variable named in the error"
            ),
        )
        sys.exit(3)
    log_event(
        "model loaded",
        model_version=predictor.version,
        model_dir=str(settings.model_dir),
        backend=predictor.backend,
        features=predictor.feature_names,
        api_key_required=api_key is not None,
    )
    return create_app(predictor, settings, api_key, model_signals)


application = load_application()
