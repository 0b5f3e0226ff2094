"""The canary's gates over CloudWatch figures (as `monitor.read` returns them), its thresholds
as settings, its weight, and the state file the next plan reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mlinfra import canary, tfvars
from mlinfra.canary import CanaryState, Thresholds, judge
from mlinfra.errors import ConfigError
from mlinfra.monitor import FeatureSignals, MonitorReport, Series, VersionSignals
from mlinfra.releases import Release

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def _series(*values: float) -> Series:
    return Series([NOW + timedelta(minutes=i) for i in range(len(values))], list(values))


def _version(
    name: str,
    requests: float,
    errors: float,
    p99: float,
    prediction_psi: float | None = 0.02,
    area_psi: float | None = 0.03,
) -> VersionSignals:
    features = []
    if area_psi is not None:
        features = [FeatureSignals("sqft_living", _series(area_psi), _series(0.0), _series(0.0))]
    return VersionSignals(
        name,
        _series(requests / 2, requests / 2),
        _series(errors),
        _series(p99 * 0.8, p99),
        _series(prediction_psi) if prediction_psi is not None else _series(),
        features,
    )


def _report(*versions: VersionSignals) -> MonitorReport:
    return MonitorReport("local", timedelta(minutes=5), 0.25, list(versions))


def test_a_canary_like_the_stable_one_passes_every_gate() -> None:
    report = _report(_version("new", 300, 0, 9.0), _version("old", 900, 1, 8.0))

    judged = judge(report, "new", "old", Thresholds())

    assert judged.failed == [] and judged.enough
    assert [g.name for g in judged.gates] == [
        "traffic",
        "5xx",
        "p99",
        "prediction_drift",
        "feature_drift:sqft_living",
    ]
    assert (judged.canary_requests, judged.stable_requests) == (300, 900)
    assert judged.summary().startswith("all gates pass")


def test_one_request_in_five_failing_fails_the_5xx_gate_with_its_figures() -> None:
    report = _report(_version("new", 300, 60, 9.0), _version("old", 900, 0, 8.0))

    judged = judge(report, "new", "old", Thresholds())

    assert [g.name for g in judged.failed] == ["5xx"]
    assert "20.0% of canary requests against 0.0% of stable" in judged.summary()


def test_a_slow_canary_fails_p99_and_a_shifted_one_fails_drift() -> None:
    slow = judge(
        _report(_version("new", 300, 0, 400.0), _version("old", 900, 0, 10.0)),
        "new",
        "old",
        Thresholds(),
    )
    assert [g.name for g in slow.failed] == ["p99"]
    assert "at most 65.0 ms" in slow.summary()  # 1.5 * 10 + 50

    shifted = judge(
        _report(
            _version("new", 300, 0, 9.0, prediction_psi=0.6, area_psi=0.9),
            _version("old", 900, 0, 8.0, prediction_psi=0.05, area_psi=0.04),
        ),
        "new",
        "old",
        Thresholds(),
    )
    assert [g.name for g in shifted.failed] == ["prediction_drift", "feature_drift:sqft_living"]


def test_too_few_canary_requests_give_no_verdict() -> None:
    judged = judge(_report(_version("old", 900, 0, 8.0)), "new", "old", Thresholds())

    assert not judged.enough
    assert [g.name for g in judged.failed] == ["traffic"]
    assert "0 canary requests" in judged.summary()


def test_thresholds_are_settings_and_a_bad_one_names_the_fix() -> None:
    limits = Thresholds.from_env({"MLINFRA_CANARY_MAX_5XX_PERCENT": "5", "X": "1"})
    assert limits.max_5xx_percent == 5.0 and limits.min_requests == 50
    assert Thresholds.from_env({"MLINFRA_CANARY_MIN_REQUESTS": "10"}).min_requests == 10

    with pytest.raises(ConfigError, match="MLINFRA_CANARY_P99_RATIO"):
        Thresholds.from_env({"MLINFRA_CANARY_P99_RATIO": "fast"})


@pytest.mark.parametrize("text", ["0", "100", "ten", "-5", "12.5"])
def test_a_weight_is_a_whole_percent_1_to_99(text: str) -> None:
    with pytest.raises(ValueError, match="whole percent 1-99"):
        canary.parse_weight(text)


def test_the_state_is_the_stack_variable_and_the_release_it_would_become(tmp_path: Path) -> None:
    release = Release(1, "r/x@sha256:ab", "sha256:ab", "new", "f" * 64, "abc", False, "canary")
    state = CanaryState("r/x@sha256:ab", 25, release, "old", "r/x@sha256:cd")

    canary.write(tmp_path, state)

    variable = json.loads(tfvars.canary_tfvars_path(tmp_path).read_text())
    assert variable == {"canary": {"image": "r/x@sha256:ab", "weight": 25, "desired_count": 1}}
    assert canary.read(tmp_path) == state
    canary.clear(tmp_path)
    assert canary.read(tmp_path) is None and not tfvars.canary_tfvars_path(tmp_path).exists()


def test_a_damaged_state_file_names_the_way_out(tmp_path: Path) -> None:
    tfvars.canary_tfvars_path(tmp_path).write_text("{}")
    (tmp_path / canary.CANARY_STATE).write_text("{not json")

    with pytest.raises(ConfigError, match="canary abort"):
        canary.read(tmp_path)
