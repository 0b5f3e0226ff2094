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

    # NOTE: async, as the project's handlers are: BentoML runs a plain `def` API in a thread
    # pool, and that hand-off cost it a third of its req/s here (about 260 against 395 at 16
    # connections). LightGBM's predict runs on the event loop then (about 20 us for one row,
    # 4 ms for 1,000), as the project's model call does.
    @bentoml.api
    async def predict(self, features: list[float]) -> dict[str, float]:
        """One row, as the project's ``{"features": [...]}``."""
        row = np.asarray([features], dtype=np.float64)
        return {"prediction": float(self.booster.predict(row)[0])}

    @bentoml.api
    async def predict_batch(self, instances: list[list[float]]) -> dict[str, list[float]]:
        """Many rows, as the project's ``{"instances": [[...], ...]}``."""
        rows = np.asarray(instances, dtype=np.float64)
        return {"predictions": self.booster.predict(rows).tolist()}
