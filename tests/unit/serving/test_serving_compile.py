"""The compiled backend: lleaves + ld on a small real model, checked against LightGBM."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest
from falcon import testing

from mlinfra_serving.app import create_app
from mlinfra_serving.artifact import ArtifactError, sha256_of
from mlinfra_serving.compile import CompileError, compare, compile_and_check
from mlinfra_serving.compiled import MANIFEST, SHARED_OBJECT
from mlinfra_serving.config import Settings, SettingsError
from mlinfra_serving.predictor import Predictor

pytestmark = pytest.mark.skipif(shutil.which("ld") is None, reason="needs a linker (binutils)")


def _write_small_model(directory: Path, seed: int = 1) -> Path:
    """30 trees on 3 noisy features: small enough to compile in about a second."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-5, 5, size=(500, 3))
    y = x[:, 0] * 3 - x[:, 1] ** 2 + rng.normal(size=500)
    params = {"objective": "regression", "num_leaves": 15, "verbose": -1, "seed": seed}
    booster = lgb.train(params, lgb.Dataset(x, y), num_boost_round=30)
    directory.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(directory / "model.txt"))
    metadata = {
        "model_version": f"small-{seed}",
        "sha256": sha256_of(directory / "model.txt"),
        "features": [{"name": name, "minimum": -5, "maximum": 5} for name in ("a", "b", "c")],
    }
    (directory / "metadata.json").write_text(json.dumps(metadata))
    return directory


@pytest.fixture(scope="module")
def compiled_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = _write_small_model(tmp_path_factory.mktemp("compiled") / "model")
    compile_and_check(directory, sample=2000)
    return directory


def test_compiled_predictions_equal_lightgbm(compiled_dir: Path) -> None:
    manifest = json.loads((compiled_dir / MANIFEST).read_text())
    assert manifest["check"]["rows"] == 2000
    assert manifest["check"]["max_rel_diff"] <= 1e-9
    rows = np.random.default_rng(7).uniform(-6, 6, size=(300, 3))
    expected = lgb.Booster(model_file=str(compiled_dir / "model.txt")).predict(rows)
    compiled = Predictor.load(compiled_dir)
    assert compiled.backend == "lleaves"
    np.testing.assert_allclose(compiled.predict(rows), expected, rtol=1e-9, atol=1e-9)


def test_single_rows_equal_lightgbm_and_keep_their_answers(compiled_dir: Path) -> None:
    # One row goes through buffers reused by every call of the thread: each answer must stay
    # its own, in this thread and in others.
    rows = np.random.default_rng(8).uniform(-6, 6, size=(40, 3))
    expected = lgb.Booster(model_file=str(compiled_dir / "model.txt")).predict(rows)
    compiled = Predictor.load(compiled_dir)
    answers = [compiled.predict(rows[i : i + 1]) for i in range(len(rows))]
    np.testing.assert_allclose(np.concatenate(answers), expected, rtol=1e-9, atol=1e-9)
    integers = compiled.predict(np.array([[1, -2, 3]]))
    assert integers == pytest.approx(compiled.predict(np.array([[1.0, -2.0, 3.0]])))

    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda i: compiled.predict(rows[i : i + 1]), range(len(rows))))
    np.testing.assert_allclose(np.concatenate(threaded), expected, rtol=1e-9, atol=1e-9)


def test_lightgbm_stays_available_as_explicit_backend(compiled_dir: Path) -> None:
    assert Predictor.load(compiled_dir, "lightgbm").backend == "lightgbm"
    assert Settings.from_env({"MODEL_BACKEND": "LightGBM"}).model_backend == "lightgbm"
    assert Settings.from_env({"MODEL_BACKEND": "auto"}).model_backend is None
    with pytest.raises(SettingsError, match="MODEL_BACKEND='xgboost' is unknown"):
        Settings.from_env({"MODEL_BACKEND": "xgboost"})


def test_metadata_names_the_backend_and_the_check(compiled_dir: Path) -> None:
    client = testing.TestClient(create_app(Predictor.load(compiled_dir)))
    body = client.simulate_get("/metadata").json
    assert body["backend"] == "lleaves"
    assert body["compiled"]["target_cpu"] == "x86-64-v2"
    assert body["compiled"]["check"]["rows"] == 2000


def test_a_mismatch_fails_the_compile_and_leaves_no_library(tmp_path: Path) -> None:
    directory = _write_small_model(tmp_path / "model")
    # A negative tolerance no prediction meets: the real comparison path must refuse.
    with pytest.raises(CompileError, match="differ from LightGBM's"):
        compile_and_check(directory, sample=100, rtol=0.0, atol=-1.0)
    assert not (directory / SHARED_OBJECT).exists()
    assert not (directory / MANIFEST).exists()
    assert Predictor.load(directory).backend == "lightgbm"
    with pytest.raises(ArtifactError, match="set MODEL_BACKEND=lightgbm"):
        Predictor.load(directory, "lleaves")


def test_a_library_of_another_model_is_refused(compiled_dir: Path, tmp_path: Path) -> None:
    other = _write_small_model(tmp_path / "model", seed=2)
    for name in (SHARED_OBJECT, MANIFEST):
        shutil.copy(compiled_dir / name, other / name)
    with pytest.raises(ArtifactError, match="was compiled from model sha256"):
        Predictor.load(other)


def test_compare_reports_the_worst_row() -> None:
    expected = np.array([100.0, 200.0, 300.0])
    result = compare(expected, np.array([100.0, 200.5, 300.0]), rtol=1e-9, atol=1e-9)
    assert (result.equal, result.worst_row, result.max_abs_diff) == (False, 1, 0.5)
    assert compare(expected, expected.copy(), rtol=1e-9, atol=1e-9).equal
