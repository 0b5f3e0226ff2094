"""The training distribution a model is compared against: quantile bins and their counts.

``mlinfra train`` stores one :class:`Histogram` per feature and one for the prediction under the
``reference`` key of ``metadata.json``; the service loads them with the model and computes the
population stability index (PSI) of what it is asked against them (``signals.py``).

Bins: ``edges`` are the distinct inner quantile edges of the training values; value ``x`` falls
in bin ``searchsorted(edges, x, side="right")``, so there are ``len(edges) + 1`` bins and the
first and last are open (a shifted value still lands in a bin). ``low``/``high`` are the training
span: a value outside it is "out of range" for the signals (the service's own accepted range is
wider: see ``FeatureSpec``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

REFERENCE_KEY = "reference"
DEFAULT_BINS = 10
# NOTE: a bin empty on one side would make PSI infinite. The reference's shares get a floor
# (0.0001, as in most PSI write-ups); the window's counts get half a count more per bin
# (additive smoothing) instead, since a floor alone made every bin a small window missed cost
# about 0.7 (50 rows in 10 bins of the same distribution gave a PSI of 0.9).
SHARE_FLOOR = 1e-4
SMOOTHING = 0.5


class ReferenceError(ValueError):
    """``metadata.json``'s ``reference`` is not what this module writes."""


@dataclass(frozen=True)
class Histogram:
    edges: tuple[float, ...]
    counts: tuple[int, ...]
    low: float
    high: float

    @classmethod
    def of(cls, values: np.ndarray, bins: int = DEFAULT_BINS) -> Histogram:
        """Quantile bins of ``values`` (finite ones) with the count of each."""
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            raise ReferenceError("no finite value to build a reference from")
        inner = np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1])
        edges = tuple(float(e) for e in np.unique(inner))
        counts = np.bincount(bin_index(np.asarray(edges), finite), minlength=len(edges) + 1)
        return cls(edges, tuple(int(c) for c in counts), float(finite.min()), float(finite.max()))

    @property
    def shares(self) -> np.ndarray:
        counts = np.asarray(self.counts, dtype=np.float64)
        shares: np.ndarray = counts / counts.sum()
        return shares

    def to_json(self) -> dict[str, Any]:
        return {
            "edges": list(self.edges),
            "counts": list(self.counts),
            "low": self.low,
            "high": self.high,
        }

    @classmethod
    def from_json(cls, raw: Any, where: str) -> Histogram:
        try:
            edges = tuple(float(e) for e in raw["edges"])
            counts = tuple(int(c) for c in raw["counts"])
            low, high = float(raw["low"]), float(raw["high"])
        except (KeyError, TypeError, ValueError) as err:
            raise ReferenceError(f"{where}: needs edges, counts, low and high ({err})") from err
        if len(counts) != len(edges) + 1 or sum(counts) <= 0 or list(edges) != sorted(edges):
            raise ReferenceError(
                f"{where}: {len(edges)} sorted edges need {len(edges) + 1} counts with a"
                f" positive total, got {len(counts)} summing to {sum(counts)}"
            )
        return cls(edges, counts, low, high)


@dataclass(frozen=True)
class Reference:
    """One histogram per feature (in the model's feature order) and one of the prediction."""

    features: dict[str, Histogram]
    prediction: Histogram

    @classmethod
    def of(
        cls, names: list[str], rows: np.ndarray, predictions: np.ndarray, bins: int = DEFAULT_BINS
    ) -> Reference:
        features = {name: Histogram.of(rows[:, i], bins) for i, name in enumerate(names)}
        return cls(features, Histogram.of(predictions, bins))

    def to_json(self) -> dict[str, Any]:
        return {
            "binning": "quantile",
            "features": {name: h.to_json() for name, h in self.features.items()},
            "prediction": self.prediction.to_json(),
        }

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any], names: list[str]) -> Reference | None:
        """The reference of ``metadata``; None for an artifact trained before references."""
        raw = metadata.get(REFERENCE_KEY)
        if raw is None:
            return None
        if not isinstance(raw, dict) or not isinstance(raw.get("features"), dict):
            raise ReferenceError("metadata 'reference' must be an object with 'features'")
        missing = [name for name in names if name not in raw["features"]]
        if missing:
            raise ReferenceError(f"metadata 'reference' lacks the feature(s) {missing}")
        features = {
            name: Histogram.from_json(raw["features"][name], f"reference.features.{name}")
            for name in names
        }
        return cls(features, Histogram.from_json(raw.get("prediction"), "reference.prediction"))


def bin_index(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The bin of each value (see the module's docstring)."""
    return np.searchsorted(edges, values, side="right")


def psi(expected: np.ndarray, actual_counts: np.ndarray) -> float:
    """Population stability index of ``actual_counts`` against the shares ``expected``:
    sum((a - e) * ln(a / e)) over the bins (see :data:`SHARE_FLOOR` and :data:`SMOOTHING`).
    Rules of thumb: < 0.1 stable, 0.1-0.25 some shift, > 0.25 a shift worth acting on."""
    total = float(actual_counts.sum())
    if total <= 0:
        return math.nan
    actual = (actual_counts + SMOOTHING) / (total + SMOOTHING * len(actual_counts))
    reference = np.maximum(expected, SHARE_FLOOR)
    return float(np.sum((actual - reference) * np.log(actual / reference)))
