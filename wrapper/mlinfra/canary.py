"""The canary's judgement and its state: the gates that compare a canary's model version with the
stable one's, as CloudWatch holds their signals (:mod:`mlinfra.monitor`), and the file that
says which canary an environment runs.

Pure over a :class:`~mlinfra.monitor.MonitorReport`, so the gates are tested on recorded
figures; the orchestration (applies, the bake) is :mod:`mlinfra.deploy`'s.

The state is ``.mlinfra/<env>/canary.auto.tfvars.json``: the ``canary`` variable of the service
stack (image, weight, desired_count), which Terraform reads on every plan of the service, and
``canary.json`` beside it with the release the canary would become (model, digest, git sha) and
the stable model version it is compared with.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlinfra import tfvars
from mlinfra.errors import ConfigError
from mlinfra.monitor import MonitorReport, VersionSignals
from mlinfra.releases import Release

CANARY_STATE = "canary.json"


@dataclass(frozen=True)
class Thresholds:
    """When a canary fails. Settings (``MLINFRA_CANARY_*``) with these defaults.

    - ``max_5xx_percent``: the canary's 5xx share may exceed the stable one's by this much;
    - ``p99_ratio`` / ``p99_slack_ms``: its worst per-minute p99 may be at most
      ``ratio * stable + slack`` (a ratio alone fails a 2 ms service for 1 ms of noise);
    - ``max_psi_increase``: its prediction's PSI, and each feature's, against training may
      exceed the stable one's by this much (0.25: PSI's rule of thumb for a shift worth acting on);
    - ``min_requests``: fewer canary requests give no verdict (the bake ends in an abort).
    """

    max_5xx_percent: float = 2.0
    p99_ratio: float = 1.5
    p99_slack_ms: float = 50.0
    max_psi_increase: float = 0.25
    min_requests: int = 50

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Thresholds:
        values = os.environ if environ is None else environ
        found: dict[str, Any] = {}
        for item in dataclasses.fields(cls):
            name = f"MLINFRA_CANARY_{item.name.upper()}"
            raw = values.get(name)
            if raw is None:
                continue
            try:
                number = float(raw)
            except ValueError:
                number = -1.0
            if number < 0:
                raise ConfigError(
                    f"{name}={raw!r} is not a number of 0 or more.",
                    f"Set {name} to a number such as {getattr(cls(), item.name)}, or unset it.",
                )
            found[item.name] = int(number) if item.name == "min_requests" else number
        return cls(**found)


@dataclass(frozen=True)
class Gate:
    name: str  # 5xx, p99, prediction_drift, feature_drift:<name>, traffic
    passed: bool
    detail: str  # the figures, in words


@dataclass(frozen=True)
class Judgement:
    """The gates over one reading: ``final`` when a failure is decided (enough requests)."""

    canary_version: str
    stable_version: str
    canary_requests: int
    stable_requests: int
    gates: tuple[Gate, ...]

    @property
    def failed(self) -> list[Gate]:
        return [g for g in self.gates if not g.passed]

    @property
    def enough(self) -> bool:
        return not any(g.name == "traffic" and not g.passed for g in self.gates)

    def summary(self) -> str:
        bad = self.failed
        if not bad:
            return "all gates pass: " + "; ".join(g.detail for g in self.gates)
        return "; ".join(f"gate {g.name} failed: {g.detail}" for g in bad)

    def to_dict(self) -> dict[str, Any]:
        return {
            "canary_version": self.canary_version,
            "stable_version": self.stable_version,
            "canary_requests": self.canary_requests,
            "stable_requests": self.stable_requests,
            "passed": not self.failed,
            "gates": [dataclasses.asdict(g) for g in self.gates],
        }


def _rate_5xx(signals: VersionSignals | None) -> float:
    if signals is None or not signals.requests.total:
        return 0.0
    return 100 * signals.status_5xx.total / signals.requests.total


def judge(
    report: MonitorReport, canary_version: str, stable_version: str, limits: Thresholds
) -> Judgement:
    """Compare the canary's model version with the stable one's over ``report``."""
    by_version = {v.version: v for v in report.versions}
    canary, stable = by_version.get(canary_version), by_version.get(stable_version)
    canary_requests = int(canary.requests.total) if canary else 0
    stable_requests = int(stable.requests.total) if stable else 0
    gates = [
        Gate(
            "traffic",
            canary_requests >= limits.min_requests,
            f"{canary_requests} canary requests (at least {limits.min_requests} for a verdict)",
        )
    ]
    canary_5xx, stable_5xx = _rate_5xx(canary), _rate_5xx(stable)
    gates.append(
        Gate(
            "5xx",
            canary_5xx <= stable_5xx + limits.max_5xx_percent,
            f"5xx {canary_5xx:.1f}% of canary requests against {stable_5xx:.1f}% of stable"
            f" (at most +{limits.max_5xx_percent:g} points)",
        )
    )
    canary_p99 = canary.p99_ms.worst if canary else None
    stable_p99 = stable.p99_ms.worst if stable else None
    if canary_p99 is not None and stable_p99 is not None:
        ceiling = limits.p99_ratio * stable_p99 + limits.p99_slack_ms
        gates.append(
            Gate(
                "p99",
                canary_p99 <= ceiling,
                f"p99 {canary_p99:.1f} ms against stable {stable_p99:.1f} ms"
                f" (at most {ceiling:.1f} ms)",
            )
        )
    gates += _drift_gates(canary, stable, limits)
    return Judgement(canary_version, stable_version, canary_requests, stable_requests, tuple(gates))


def _drift_gates(
    canary: VersionSignals | None, stable: VersionSignals | None, limits: Thresholds
) -> list[Gate]:
    if canary is None:
        return []
    gates = []
    stable_prediction = stable.prediction_psi.last if stable else None
    pairs = [("prediction_drift", canary.prediction_psi.last, stable_prediction)]
    stable_features = {f.feature: f for f in (stable.features if stable else [])}
    for feature in canary.features:
        other = stable_features.get(feature.feature)
        pairs.append(
            (
                f"feature_drift:{feature.feature}",
                feature.psi.last,
                other.psi.last if other else None,
            )
        )
    for name, ours, theirs in pairs:
        if ours is None:
            continue
        base = theirs or 0.0
        gates.append(
            Gate(
                name,
                ours <= base + limits.max_psi_increase,
                f"PSI {ours:.3f} against stable {base:.3f} (at most +{limits.max_psi_increase:g})",
            )
        )
    return gates


# ---------------------------------------------------------------------------------------------
# The state: what canary the environment runs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CanaryState:
    """The canary an environment runs: the service stack's ``canary`` variable and the release
    it would become, with the stable model version it is compared with."""

    image: str
    weight: int
    release: Release
    stable_version: str
    stable_image: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "weight": self.weight,
            "stable_version": self.stable_version,
            "stable_image": self.stable_image,
            "release": self.release.to_dict(),
        }


def write(state_dir: Path, state: CanaryState) -> None:
    """Record ``state``: the variable first (what the next plan reads), then the release."""
    tfvars.write_atomic_json(
        tfvars.canary_tfvars_path(state_dir),
        {"canary": {"image": state.image, "weight": state.weight, "desired_count": 1}},
    )
    tfvars.write_atomic_json(state_dir / CANARY_STATE, state.to_dict())


def read(state_dir: Path) -> CanaryState | None:
    """The canary ``state_dir``'s environment runs, or None."""
    path = state_dir / CANARY_STATE
    if not tfvars.canary_tfvars_path(state_dir).exists() or not path.exists():
        return None
    try:
        values = json.loads(path.read_text())
        return CanaryState(
            image=str(values["image"]),
            weight=int(values["weight"]),
            release=Release.from_dict(values["release"]),
            stable_version=str(values["stable_version"]),
            stable_image=values.get("stable_image"),
        )
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ConfigError(
            f"{path} is not a canary mlinfra wrote: {err}.",
            "Run `mlinfra canary abort` to take the canary down (it rewrites the files).",
        ) from err


def clear(state_dir: Path) -> None:
    """No canary: the stack's default (no canary service) from the next plan on."""
    tfvars.canary_tfvars_path(state_dir).unlink(missing_ok=True)
    (state_dir / CANARY_STATE).unlink(missing_ok=True)


def parse_weight(text: str | int) -> int:
    """A canary's share: a whole percent 1-99; ValueError naming the accepted range."""
    try:
        weight = int(str(text).strip().removesuffix("%"))
    except ValueError:
        weight = -1
    if not 1 <= weight <= 99:
        raise ValueError(f"--canary {text!r} is not a whole percent 1-99 (e.g. --canary 10)")
    return weight
