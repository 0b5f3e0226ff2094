"""The image serves with the model compiled at build time, and LightGBM stays its fallback."""

from __future__ import annotations

import httpx
import lightgbm as lgb
import numpy as np
import pytest

from mlinfra.image import BuiltImage
from mlinfra.model import ModelArtifact
from tests.support.serving import base_url, serving_container, wait_ready

pytestmark = pytest.mark.integration

ROWS = [[3, 2, 1500, 2020], [2, 1, 900, 1930], [5, 3.5, 4200, 1999], [1, 1, 450, 1880]]


def _library_predictions(model: ModelArtifact) -> np.ndarray:
    booster = lgb.Booster(model_file=str(model.dir / "model.txt"))
    return booster.predict(np.asarray(ROWS, dtype=np.float64), num_threads=1)


def test_compiled_backend_serves_by_default(url: str, serving_model: ModelArtifact) -> None:
    metadata = httpx.get(f"{url}/metadata").json()
    assert metadata["backend"] == "lleaves"
    assert metadata["compiled"]["model_sha256"] == serving_model.sha256
    assert metadata["compiled"]["check"]["max_rel_diff"] <= 1e-9
    served = httpx.post(f"{url}/predict", json={"instances": ROWS}).json()["predictions"]
    np.testing.assert_allclose(served, _library_predictions(serving_model), rtol=1e-9)


def test_lightgbm_backend_by_setting(
    serving_image: BuiltImage, serving_model: ModelArtifact, run_id: str
) -> None:
    container = serving_container(
        serving_image, f"mlinfra-it-{run_id}-lightgbm", MODEL_BACKEND="lightgbm"
    )
    container.start()
    try:
        url = base_url(container)
        wait_ready(url)
        assert httpx.get(f"{url}/metadata").json()["backend"] == "lightgbm"
        served = httpx.post(f"{url}/predict", json={"instances": ROWS}).json()["predictions"]
        np.testing.assert_allclose(served, _library_predictions(serving_model), rtol=1e-12)
    finally:
        container.stop()
