"""Loading the artifact fails with a message naming the problem."""

import json
import shutil
from pathlib import Path

import pytest

from mlinfra_serving.artifact import ArtifactError
from mlinfra_serving.config import Settings, SettingsError
from mlinfra_serving.predictor import Predictor


@pytest.fixture
def broken_dir(model_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(model_dir, target)
    return target


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"model\.txt does not exist"):
        Predictor.load(tmp_path / "absent")


def test_model_file_changed_after_metadata(broken_dir: Path) -> None:
    with (broken_dir / "model.txt").open("a") as stream:
        stream.write("\n")
    with pytest.raises(ArtifactError, match="sha256"):
        Predictor.load(broken_dir)


def test_metadata_not_json(broken_dir: Path) -> None:
    (broken_dir / "metadata.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        Predictor.load(broken_dir)


def test_model_file_not_lightgbm(broken_dir: Path) -> None:
    from mlinfra_serving.artifact import sha256_of

    (broken_dir / "model.txt").write_text("garbage\n")
    metadata = json.loads((broken_dir / "metadata.json").read_text())
    metadata["sha256"] = sha256_of(broken_dir / "model.txt")
    (broken_dir / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ArtifactError, match="not a LightGBM model"):
        Predictor.load(broken_dir)


def test_feature_list_longer_than_the_model(broken_dir: Path) -> None:
    metadata = json.loads((broken_dir / "metadata.json").read_text())
    metadata["features"].append({"name": "garage"})
    (broken_dir / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ArtifactError, match="model expects 4 features, metadata lists 5"):
        Predictor.load(broken_dir)


def test_settings_from_env() -> None:
    settings = Settings.from_env({"MODEL_DIR": "/m", "MAX_BATCH_ROWS": "10"})
    assert (str(settings.model_dir), settings.max_batch_rows) == ("/m", 10)
    assert Settings.from_env({}).max_body_bytes == 1 << 20
    with pytest.raises(SettingsError, match="MAX_BATCH_ROWS='zero'"):
        Settings.from_env({"MAX_BATCH_ROWS": "zero"})
