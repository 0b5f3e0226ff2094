"""The model artifact: load, train when absent, refuse broken ones, import a user's model."""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from mlinfra import config
from mlinfra.errors import ConfigError
from mlinfra.model import ModelArtifact, default_model_dir, ensure_model, import_model


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> ModelArtifact:
    return ensure_model(tmp_path_factory.mktemp("artifact") / "model")


def test_ensure_model_trains_when_absent_and_loads_after(trained: ModelArtifact) -> None:
    assert (trained.dir / "model.txt").is_file()
    assert trained.version == f"grinnell-houses-{trained.sha8}"
    assert trained.feature_names == ["bedrooms", "bathrooms", "sqft_living", "year_built"]
    mtime = (trained.dir / "model.txt").stat().st_mtime_ns
    assert ensure_model(trained.dir) == trained
    assert (trained.dir / "model.txt").stat().st_mtime_ns == mtime


def test_a_corrupt_artifact_is_a_config_error_pointing_at_train(
    trained: ModelArtifact, tmp_path: Path
) -> None:
    (tmp_path / "model.txt").write_bytes((trained.dir / "model.txt").read_bytes() + b"x")
    (tmp_path / "metadata.json").write_text((trained.dir / "metadata.json").read_text())
    with pytest.raises(ConfigError, match=r"unusable: .*sha256") as caught:
        ensure_model(tmp_path)
    assert "mlinfra train" in (caught.value.hint or "")


def test_half_an_artifact_is_not_silently_retrained(tmp_path: Path) -> None:
    (tmp_path / "metadata.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"model\.txt does not exist"):
        ensure_model(tmp_path)


def test_default_model_dir_is_under_the_state_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "environments").mkdir()
    (tmp_path / "serving").mkdir()
    monkeypatch.setenv(config.PROJECT_DIR_ENV, str(tmp_path))
    config.project_dir.cache_clear()
    try:
        assert default_model_dir() == tmp_path / ".mlinfra" / "model"
    finally:
        config.project_dir.cache_clear()


@pytest.fixture(scope="module")
def user_model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, size=(200, 3))
    y = x @ np.array([1.0, 2.0, -1.0])
    params = {"objective": "regression", "verbosity": -1, "num_threads": 1, "seed": 1}
    booster = lgb.train(params, lgb.Dataset(x, y, feature_name=["a", "b", "c"]), 10)
    path = tmp_path_factory.mktemp("user") / "my_model.txt"
    booster.save_model(str(path))
    return path


def test_import_model_takes_feature_names_from_the_model_file(
    user_model_file: Path, tmp_path: Path
) -> None:
    artifact = import_model(user_model_file, tmp_path, ranges={"b": (0, 10)})
    assert artifact.feature_names == ["a", "b", "c"]
    assert artifact.version == f"my_model-{artifact.sha8}"
    features = json.loads((tmp_path / "metadata.json").read_text())["features"]
    assert features[1] == {"name": "b", "source": None, "minimum": 0, "maximum": 10}
    assert features[0]["minimum"] is None
    assert ModelArtifact.load(tmp_path) == artifact


def test_import_model_refuses_a_feature_list_of_the_wrong_length(
    user_model_file: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="takes 3 features, the feature list has 2"):
        import_model(user_model_file, tmp_path, features=["x", "y"])


def test_import_model_refuses_a_file_that_is_not_lightgbm(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.txt"
    bogus.write_text("not a model")
    with pytest.raises(ConfigError, match="is not a LightGBM model"):
        import_model(bogus, tmp_path / "out", features=["x"])


def test_import_model_refuses_ranges_of_unknown_features(
    user_model_file: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="unknown features \\['z'\\]"):
        import_model(user_model_file, tmp_path, ranges={"z": (0, 1)})
