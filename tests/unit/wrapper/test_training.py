"""Training (on the host) is deterministic and writes everything the service and the CLI read."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from mlinfra.training import TrainingSettings, train
from mlinfra_serving.artifact import ModelArtifact, read_metadata, sha256_of


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("model")
    train(directory)
    return directory


def test_same_data_and_settings_give_the_same_file(model_dir: Path, tmp_path: Path) -> None:
    again = train(tmp_path)
    assert (tmp_path / "model.txt").read_bytes() == (model_dir / "model.txt").read_bytes()
    assert again.sha256 == sha256_of(model_dir / "model.txt")


def test_train_returns_the_artifact_the_service_loads(tmp_path: Path) -> None:
    artifact = train(tmp_path)
    assert ModelArtifact.load(tmp_path) == artifact
    assert artifact.feature_names == ["bedrooms", "bathrooms", "sqft_living", "year_built"]


def test_other_settings_give_another_model(model_dir: Path, tmp_path: Path) -> None:
    settings = replace(TrainingSettings(), num_boost_round=50)
    other = train(tmp_path, settings)
    assert other.sha256 != sha256_of(model_dir / "model.txt")


def test_metadata_has_what_the_issue_lists(model_dir: Path) -> None:
    metadata = read_metadata(model_dir)
    assert metadata["sha256"] == sha256_of(model_dir / "model.txt")
    assert metadata["model_version"].endswith(metadata["sha256"][:8])
    assert [(f["name"], f["source"]) for f in metadata["features"]] == [
        ("bedrooms", "Bedrooms"),
        ("bathrooms", "Baths"),
        ("sqft_living", "SquareFeet"),
        ("year_built", "YearBuilt"),
    ]
    assert all(f["minimum"] < f["maximum"] for f in metadata["features"])
    assert metadata["lightgbm_version"]
    assert metadata["trained_at"]
    assert metadata["provenance"]["dataset"] == "GrinnellHouses"
    # 929 sales, 18 without a floor area.
    assert metadata["provenance"]["rows_in_source"] == 929
    assert metadata["provenance"]["rows_used"] == 911
    assert metadata["metrics"]["holdout_r2"] > 0.5
    assert 0 < metadata["metrics"]["holdout_mae"] < 60_000
    json.dumps(metadata)
