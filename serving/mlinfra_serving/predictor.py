"""The loaded model: a LightGBM booster plus the metadata that says what it accepts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from mlinfra_serving.artifact import (
    MODEL_FILE,
    ArtifactError,
    FeatureSpec,
    feature_specs,
    read_metadata,
)


@dataclass(frozen=True)
class Predictor:
    """Predicts with one booster. Built once at start-up and shared by every request."""

    booster: lgb.Booster
    metadata: dict[str, Any]
    features: tuple[FeatureSpec, ...]
    backend: str = "lightgbm"

    @property
    def version(self) -> str:
        return str(self.metadata["model_version"])

    @property
    def feature_names(self) -> list[str]:
        return [spec.name for spec in self.features]

    @classmethod
    def load(cls, model_dir: Path) -> Predictor:
        """Load and check ``model_dir``; raise ArtifactError naming what is wrong."""
        metadata = read_metadata(model_dir)
        features = feature_specs(metadata)
        try:
            booster = lgb.Booster(model_file=str(model_dir / MODEL_FILE))
        except lgb.basic.LightGBMError as err:
            raise ArtifactError(
                f"{model_dir / MODEL_FILE} is not a LightGBM model ({err})"
            ) from err
        if booster.num_feature() != len(features):
            raise ArtifactError(
                f"model expects {booster.num_feature()} features, metadata lists {len(features)}"
            )
        predictor = cls(booster, metadata, features)
        if not predictor.probe():
            raise ArtifactError(f"{model_dir / MODEL_FILE} gave a non-finite probe prediction")
        return predictor

    def predict(self, rows: np.ndarray) -> list[float]:
        # PERF: one thread; OMP_NUM_THREADS=1 in the image does the same for the OpenMP pool.
        return [float(v) for v in self.booster.predict(rows, num_threads=1)]

    def probe_row(self) -> list[float]:
        """A row inside every feature's range, used by readiness checks."""
        row = []
        for spec in self.features:
            low = spec.minimum if spec.minimum is not None else 0.0
            high = spec.maximum if spec.maximum is not None else low
            row.append((low + high) / 2)
        return row

    def probe(self) -> bool:
        values = self.predict(np.asarray([self.probe_row()], dtype=np.float64))
        return len(values) == 1 and math.isfinite(values[0])
