"""The BentoML service bench/peers.py serves: the project's LightGBM model file loaded with
stock ``lightgbm.Booster``, as a BentoML user would write it (pydantic-validated JSON in and out).

Run by ``bentoml serve`` in its own venv (bench/peers/bentoml.txt), never imported by the
project: ``PEERS_MODEL_FILE`` names the model file, ``PEERS_WORKERS`` the worker processes.
"""

from __future__ import annotations

import os

import bentoml
import lightgbm as lgb
import numpy as np


@bentoml.service(workers=int(os.environ.get("PEERS_WORKERS", "2")))
class HousePrices:
    def __init__(self) -> None:
        self.booster = lgb.Booster(model_file=os.environ["PEERS_MODEL_FILE"])

    @bentoml.api
    def predict(self, features: list[float]) -> dict[str, float]:
        """One row, as the project's ``{"features": [...]}``."""
        row = np.asarray([features], dtype=np.float64)
        return {"prediction": float(self.booster.predict(row)[0])}

    @bentoml.api
    def predict_batch(self, instances: list[list[float]]) -> dict[str, list[float]]:
        """Many rows, as the project's ``{"instances": [[...], ...]}``."""
        rows = np.asarray(instances, dtype=np.float64)
        return {"predictions": self.booster.predict(rows).tolist()}
