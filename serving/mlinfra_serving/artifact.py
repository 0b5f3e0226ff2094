"""The model artifact's on-disk shape: ``model.txt`` + ``metadata.json`` in one folder.

One type, :class:`ModelArtifact`, for everything that reads or writes it: the service loads it at
start-up, the image's compile stage reads it, and the mlinfra CLI (which trains or imports a
model on the host: the image never trains) writes it with :func:`write_artifact`.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlinfra_serving.reference import Reference, ReferenceError

MODEL_FILE = "model.txt"
METADATA_FILE = "metadata.json"
REQUIRED_METADATA = ("model_version", "sha256", "features")


class ArtifactError(Exception):
    """The artifact folder is missing a file, or a file is not what it should be."""


@dataclass(frozen=True)
class FeatureSpec:
    """One model input: its public name, where it came from, and the values the service accepts.

    ``minimum``/``maximum`` of None mean unbounded (user models may give no ranges).
    """

    name: str
    source: str | None = None
    minimum: float | None = None
    maximum: float | None = None

    def accepts(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.minimum is not None and value < self.minimum:
            return False
        return not (self.maximum is not None and value > self.maximum)

    def expected(self) -> str:
        low = "-inf" if self.minimum is None else f"{self.minimum:g}"
        high = "inf" if self.maximum is None else f"{self.maximum:g}"
        return f"a finite number in [{low}, {high}]"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "minimum": self.minimum,
            "maximum": self.maximum,
        }

    @classmethod
    def from_json(cls, raw: Any) -> FeatureSpec:
        if isinstance(raw, str):
            return cls(raw)
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            raise ArtifactError(f"feature entry {raw!r} has no string 'name'")
        return cls(raw["name"], raw.get("source"), raw.get("minimum"), raw.get("maximum"))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_metadata(model_dir: Path) -> dict[str, Any]:
    """``metadata.json`` of ``model_dir``, checked for the keys the service needs and against
    the sha256 of ``model.txt``."""
    model_path, metadata_path = model_dir / MODEL_FILE, model_dir / METADATA_FILE
    for path in (model_path, metadata_path):
        if not path.is_file():
            raise ArtifactError(f"{path} does not exist")
    try:
        metadata = json.loads(metadata_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ArtifactError(f"{metadata_path} is not valid JSON ({err})") from err
    if not isinstance(metadata, dict):
        raise ArtifactError(f"{metadata_path} holds {type(metadata).__name__}, not an object")
    missing = [key for key in REQUIRED_METADATA if key not in metadata]
    if missing:
        raise ArtifactError(f"{metadata_path} lacks {', '.join(missing)}")
    actual = sha256_of(model_path)
    if actual != metadata["sha256"]:
        raise ArtifactError(
            f"{model_path} has sha256 {actual[:12]}..., metadata says {str(metadata['sha256'])[:12]}..."
        )
    return metadata


def feature_specs(metadata: dict[str, Any]) -> tuple[FeatureSpec, ...]:
    raw = metadata.get("features")
    if not isinstance(raw, list) or not raw:
        raise ArtifactError(f"metadata 'features' must be a non-empty list, got {raw!r}")
    specs = tuple(FeatureSpec.from_json(entry) for entry in raw)
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise ArtifactError(f"feature names repeat: {names}")
    return specs


@dataclass(frozen=True)
class ModelArtifact:
    """A checked model folder; ``sha256`` is that of ``model.txt`` and names the model."""

    dir: Path
    sha256: str
    version: str
    metadata: dict[str, Any]

    @property
    def sha8(self) -> str:
        return self.sha256[:8]

    @property
    def features(self) -> tuple[FeatureSpec, ...]:
        return feature_specs(self.metadata)

    @property
    def feature_names(self) -> list[str]:
        return [spec.name for spec in self.features]

    @property
    def reference(self) -> Reference | None:
        """The training distribution ``mlinfra train`` stored; None for an older artifact."""
        return reference_of(self.metadata)

    @classmethod
    def load(cls, model_dir: Path) -> ModelArtifact:
        """The artifact in ``model_dir``; ArtifactError naming what is missing or does not check."""
        metadata = read_metadata(model_dir)
        feature_specs(metadata)
        return cls(model_dir, str(metadata["sha256"]), str(metadata["model_version"]), metadata)


def reference_of(metadata: dict[str, Any]) -> Reference | None:
    names = [spec.name for spec in feature_specs(metadata)]
    try:
        return Reference.from_metadata(metadata, names)
    except ReferenceError as err:
        raise ArtifactError(f"metadata.json: {err}") from err


def write_artifact(model_dir: Path, metadata: dict[str, Any]) -> ModelArtifact:
    """Write ``metadata`` as ``metadata.json`` beside ``model_dir/model.txt`` and read the folder
    back, checked as the service checks it at start-up."""
    text = json.dumps(metadata, indent=2, sort_keys=True) + "\n"
    (model_dir / METADATA_FILE).write_text(text)
    artifact = ModelArtifact.load(model_dir)
    artifact.reference  # noqa: B018 (checked as the service checks it)
    return artifact
