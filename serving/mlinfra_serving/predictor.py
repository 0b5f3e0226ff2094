"""The loaded model: a prediction backend plus the metadata that says what it accepts.

Two backends: ``lleaves`` (the forest compiled to native code at image build time, see
``compiled.py``) and ``lightgbm`` (the stock booster). By default the compiled one serves when
the image has it, LightGBM otherwise; ``MODEL_BACKEND`` forces either.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from mlinfra_serving.artifact import (
    MODEL_FILE,
    ArtifactError,
    FeatureSpec,
    ModelArtifact,
    reference_of,
)
from mlinfra_serving.compiled import CompiledModel, read_manifest
from mlinfra_serving.config import MODEL_BACKENDS
from mlinfra_serving.reference import Reference


class Backend(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def num_feature(self) -> int: ...

    def predict(self, rows: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class LightGBMBackend:
    booster: Any
    name = "lightgbm"

    @property
    def num_feature(self) -> int:
        return int(self.booster.num_feature())

    @classmethod
    def load(cls, model_file: Path) -> LightGBMBackend:
        # NOTE: imported here: a service on the compiled backend skips LightGBM's and scipy's
        # import (a third of the cold start).
        import lightgbm as lgb

        try:
            return cls(lgb.Booster(model_file=str(model_file)))
        except lgb.basic.LightGBMError as err:
            raise ArtifactError(f"{model_file} is not a LightGBM model ({err})") from err

    def predict(self, rows: np.ndarray) -> np.ndarray:
        # PERF: one thread; OMP_NUM_THREADS=1 in the image does the same for the OpenMP pool.
        return np.asarray(self.booster.predict(rows, num_threads=1))


def load_backend(model_dir: Path, sha256: str, choice: str | None) -> Backend:
    """The backend ``choice`` names, or with None the compiled one when ``model_dir`` has it."""
    if choice is None:
        choice = "lleaves" if read_manifest(model_dir) is not None else "lightgbm"
    if choice == "lleaves":
        return CompiledModel.load(model_dir, sha256)
    if choice == "lightgbm":
        return LightGBMBackend.load(model_dir / MODEL_FILE)
    raise ArtifactError(
        f"MODEL_BACKEND={choice!r} is unknown; use one of {', '.join(MODEL_BACKENDS)}"
    )


@dataclass(frozen=True)
class Predictor:
    """Predicts with one backend. Built once at start-up and shared by every request."""

    model: Backend
    metadata: dict[str, Any]
    features: tuple[FeatureSpec, ...]

    @property
    def backend(self) -> str:
        return self.model.name

    def backend_fields(self) -> dict[str, Any]:
        """What ``/metadata`` says of the backend: its name, and for lleaves the compile record
        (versions, target CPU, the build-time equality check)."""
        fields: dict[str, Any] = {"backend": self.backend}
        if isinstance(self.model, CompiledModel):
            fields["compiled"] = self.model.manifest
        return fields

    @property
    def version(self) -> str:
        return str(self.metadata["model_version"])

    @property
    def feature_names(self) -> list[str]:
        return [spec.name for spec in self.features]

    @property
    def reference(self) -> Reference | None:
        return reference_of(self.metadata)

    @classmethod
    def load(cls, model_dir: Path, backend: str | None = None) -> Predictor:
        """Load and check ``model_dir``; raise ArtifactError naming what is wrong."""
        artifact = ModelArtifact.load(model_dir)
        features = artifact.features
        model = load_backend(model_dir, artifact.sha256, backend)
        if model.num_feature != len(features):
            raise ArtifactError(
                f"model expects {model.num_feature} features, metadata lists {len(features)}"
            )
        reference_of(artifact.metadata)
        predictor = cls(model, artifact.metadata, features)
        if not predictor.probe():
            raise ArtifactError(f"{model_dir / MODEL_FILE} gave a non-finite probe prediction")
        return predictor

    def predict(self, rows: np.ndarray) -> list[float]:
        values: list[float] = self.model.predict(rows).tolist()
        return values

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
