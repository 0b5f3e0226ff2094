"""The training reference, PSI, EMF documents and the service's signals."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from falcon import testing

from mlinfra_serving import emf
from mlinfra_serving import signals as signals_module
from mlinfra_serving.app import create_app
from mlinfra_serving.artifact import ArtifactError, ModelArtifact
from mlinfra_serving.config import Settings, SettingsError
from mlinfra_serving.predictor import Predictor
from mlinfra_serving.reference import Histogram, Reference, psi
from mlinfra_serving.signals import Signals, SignalSettings, field_feature, load

# --- the reference -------------------------------------------------------------------------


def test_quantile_bins_hold_about_equal_shares():
    values = np.arange(1000, dtype=np.float64)
    hist = Histogram.of(values, bins=10)
    assert len(hist.edges) == 9
    assert hist.counts == (100,) * 10
    assert (hist.low, hist.high) == (0.0, 999.0)


def test_repeated_values_give_fewer_bins_and_every_value_counts():
    values = np.asarray([1.0] * 50 + [2.0] * 30 + [3.0] * 20)
    hist = Histogram.of(values, bins=10)
    assert list(hist.edges) == sorted(set(hist.edges))
    assert sum(hist.counts) == 100
    assert len(hist.counts) == len(hist.edges) + 1


def test_psi_is_zero_for_the_same_distribution_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    train = rng.normal(1500, 400, 5000)
    hist = Histogram.of(train)
    same = np.bincount(np.searchsorted(hist.edges, rng.normal(1500, 400, 5000), "right"), None, 10)
    shifted = np.bincount(np.searchsorted(hist.edges, train * 3, "right"), None, 10)
    assert psi(hist.shares, same) < 0.02
    assert psi(hist.shares, shifted) > 2.0
    assert math.isnan(psi(hist.shares, np.zeros(10)))


def test_psi_of_known_shares():
    # Two bins, 50/50 against 8000/2000 (smoothing negligible): 0.3 ln 1.6 + 0.3 ln 2.5.
    assert psi(np.asarray([0.5, 0.5]), np.asarray([8000, 2000])) == pytest.approx(
        0.3 * math.log(1.6) + 0.3 * math.log(2.5), rel=1e-3
    )


def test_train_stores_the_reference_and_the_artifact_loads_it(model_dir: Path):
    metadata = json.loads((model_dir / "metadata.json").read_text())
    reference = ModelArtifact.load(model_dir).reference
    assert reference is not None
    assert list(reference.features) == [f["name"] for f in metadata["features"]]
    rows = metadata["provenance"]["rows_used"]
    assert all(sum(h.counts) == rows for h in reference.features.values())
    assert sum(reference.prediction.counts) == rows
    living = reference.features["sqft_living"]
    assert [living.low, living.high] == metadata["observed_ranges"]["sqft_living"]


def test_an_artifact_without_a_reference_loads_with_signals_off(model_dir, tmp_path, capsys):
    old = tmp_path / "old"
    old.mkdir()
    (old / "model.txt").write_bytes((model_dir / "model.txt").read_bytes())
    metadata = json.loads((model_dir / "metadata.json").read_text())
    del metadata["reference"]
    (old / "metadata.json").write_text(json.dumps(metadata))
    predictor = Predictor.load(old)
    assert predictor.reference is None
    assert load(predictor.reference, predictor.version, {}) is None
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["message"] for line in lines] == ["signals off"]
    assert "no training reference" in lines[0]["reason"]


def test_a_broken_reference_is_an_artifact_error(model_dir, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "model.txt").write_bytes((model_dir / "model.txt").read_bytes())
    metadata = json.loads((model_dir / "metadata.json").read_text())
    metadata["reference"]["features"]["bedrooms"]["counts"] = [1]
    (bad / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ArtifactError, match=r"reference\.features\.bedrooms"):
        Predictor.load(bad)


# --- EMF -----------------------------------------------------------------------------------


def test_emf_document_follows_the_spec():
    doc = emf.document(
        "mlinfra",
        {"ModelVersion": "v1", "Feature": "sqft_living"},
        [
            emf.Directive(
                [
                    emf.Metric("PSI", 0.42),
                    emf.Metric("Latency", [1.5, 2.0], "Milliseconds"),
                    emf.Metric("Empty", float("nan")),
                ]
            ),
            emf.Directive([emf.Metric("MaxFeaturePSI", 0.42)], [["ModelVersion"], []]),
            emf.Directive([emf.Metric("Nothing", float("nan"))]),
        ],
        1_700_000_000_000,
        {"window_rows": 7},
    )
    assert doc == {
        "_aws": {
            "Timestamp": 1_700_000_000_000,
            "CloudWatchMetrics": [
                {
                    "Namespace": "mlinfra",
                    "Dimensions": [["ModelVersion", "Feature"]],
                    "Metrics": [
                        {"Name": "PSI", "Unit": "None"},
                        {"Name": "Latency", "Unit": "Milliseconds"},
                    ],
                },
                {
                    "Namespace": "mlinfra",
                    "Dimensions": [["ModelVersion"], []],
                    "Metrics": [{"Name": "MaxFeaturePSI", "Unit": "None"}],
                },
            ],
        },
        "ModelVersion": "v1",
        "Feature": "sqft_living",
        "PSI": 0.42,
        "Latency": [1.5, 2.0],
        "MaxFeaturePSI": 0.42,
        "window_rows": 7,
    }
    assert json.loads(emf.line(doc)) == doc


def test_emf_refuses_what_cloudwatch_would_reject():
    with pytest.raises(ValueError, match="100"):
        emf.document("n", {}, [emf.Directive([emf.Metric("L", [1.0] * 101)])], 0)
    with pytest.raises(ValueError, match="unit"):
        emf.document("n", {}, [emf.Directive([emf.Metric("L", 1.0, "Furlongs")])], 0)
    with pytest.raises(ValueError, match="dimension set"):
        emf.document("n", {"A": "a"}, [emf.Directive([emf.Metric("L", 1.0)], [["B"]])], 0)


# --- the signals ---------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _signals(reference: Reference, **settings) -> tuple[Signals, list[str], Clock]:
    lines: list[str] = []
    clock = Clock()
    made = Signals(
        reference,
        "v1",
        SignalSettings(**{"flush_seconds": 10, "window_seconds": 30, "min_rows": 10, **settings}),
        lines.append,
        clock,
    )

    return made, lines, clock


def _by_feature(lines: list[str]) -> dict[str, dict]:
    return {d.get("Feature", "-"): d for d in (json.loads(x) for x in lines)}


def _rows(n: int, living_factor: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(1)
    rows = np.column_stack(
        [
            rng.integers(2, 5, n),
            rng.integers(1, 3, n),
            rng.normal(1500, 300, n) * living_factor,
            rng.integers(1950, 2010, n),
        ]
    ).astype(np.float64)
    return rows


def _reference(rows: np.ndarray) -> Reference:
    return Reference.of(
        ["bedrooms", "bathrooms", "sqft_living", "year_built"], rows, rows[:, 2] * 100
    )


def test_nothing_is_written_before_the_flush_is_due_then_one_line_per_feature_and_one_more():
    reference = _reference(_rows(2000))
    signals, lines, clock = _signals(reference)
    rows = _rows(50)
    for row in rows:
        signals.predicted(row[None, :], [float(row[2]) * 100])
        signals.request(200, 0.002)
    assert lines == []
    signals.request(422, 0.001)
    signals.request(500, 0.003)
    clock.now = 10.0
    signals.request(200, 0.002)
    docs = _by_feature(lines)
    assert set(docs) == {"-", "bedrooms", "bathrooms", "sqft_living", "year_built"}
    head = docs["-"]
    assert (head["Requests"], head["Status4xx"], head["Status5xx"], head["Rows"]) == (53, 1, 1, 50)
    assert len(head["Latency"]) == 53 and head["LatencyP99"] == pytest.approx(3.0, abs=0.1)
    assert docs["sqft_living"]["PSI"] < 0.5
    assert docs["sqft_living"]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [
        ["ModelVersion", "Feature"],
        ["Feature"],
    ]
    assert head["MaxFeaturePSI"] == max(docs[f]["PSI"] for f in docs if f != "-")


def test_living_area_times_three_drives_its_psi_and_out_of_range_rate_up():
    reference = _reference(_rows(2000))
    signals, lines, clock = _signals(reference)
    shifted = _rows(200, living_factor=3.0)
    signals.predicted(shifted, list(shifted[:, 2] * 100))
    signals.request(200, 0.001)
    clock.now = 10.0
    signals.flush()
    docs = _by_feature(lines)
    assert docs["sqft_living"]["PSI"] > 1.0
    assert docs["sqft_living"]["OutOfRangeRate"] > 50
    assert docs["bedrooms"]["PSI"] < 0.1
    assert docs["bedrooms"]["OutOfRangeRate"] == 0
    assert docs["-"]["PredictionPSI"] > 1.0


def test_the_window_slides_and_too_few_rows_give_no_psi():
    reference = _reference(_rows(2000))
    signals, lines, clock = _signals(reference, min_rows=100)
    shifted = _rows(150, living_factor=3.0)
    signals.predicted(shifted, list(shifted[:, 2] * 100))
    signals.request(200, 0.001)
    clock.now = 10.0
    signals.flush()
    assert _by_feature(lines)["sqft_living"]["PSI"] > 1.0
    lines.clear()
    clock.now = 50.0  # the shifted bucket is now older than the 30 s window
    normal = _rows(20)
    signals.predicted(normal, list(normal[:, 2] * 100))
    signals.request(200, 0.001)
    signals.flush()
    docs = _by_feature(lines)
    assert "PSI" not in docs["sqft_living"]
    assert docs["sqft_living"]["window_rows"] == 20


def test_rows_past_the_buffer_grow_it_and_past_the_cap_are_counted_not_binned(monkeypatch):
    # The rows of a flush lie in arrays that double from 1,024 rows, up to MAX_ROWS_PER_FLUSH.
    monkeypatch.setattr(signals_module, "MAX_ROWS_PER_FLUSH", 3000)
    reference = _reference(_rows(2000))
    signals, lines, clock = _signals(reference)
    normal, shifted = _rows(2500), _rows(1000, living_factor=3.0)
    for chunk in (normal[:1], normal[1:1500], normal[1500:], shifted):
        signals.predicted(chunk, list(chunk[:, 2] * 100))
        signals.request(200, 0.001)
    clock.now = 10.0
    signals.flush()
    docs = _by_feature(lines)
    assert docs["-"]["Rows"] == 3500
    # Binned: the 2,500 normal rows and the first 500 shifted ones, in the order they came.
    assert docs["sqft_living"]["window_rows"] == 3000
    assert 500 / 3000 * 100 * 0.5 < docs["sqft_living"]["OutOfRangeRate"] <= 500 / 3000 * 100
    assert docs["bedrooms"]["OutOfRangeRate"] == 0


def test_missing_rate_counts_refusals_naming_the_feature():
    reference = _reference(_rows(2000))
    signals, lines, clock = _signals(reference)
    signals.missing(2)
    for _ in range(4):
        signals.request(200, 0.001)
    clock.now = 10.0
    signals.flush()
    docs = _by_feature(lines)
    assert docs["sqft_living"]["MissingRate"] == 25.0
    assert docs["bedrooms"]["MissingRate"] == 0.0


def test_field_feature_reads_every_body_shape():
    names = ["bedrooms", "bathrooms", "sqft_living", "year_built"]
    assert field_feature("features[2]", names) == 2
    assert field_feature("instances[3][1]", names) == 1
    assert field_feature("records[0].year_built", names) == 3
    assert field_feature("records[0].nope", names) is None
    assert field_feature("features[9]", names) is None
    assert field_feature(None, names) is None


def test_bad_signal_settings_name_the_variable():
    with pytest.raises(SettingsError, match="SIGNALS_WINDOW_SECONDS"):
        SignalSettings.from_env({"SIGNALS_WINDOW_SECONDS": "soon"})


def test_the_service_feeds_the_signals(predictor: Predictor, model_dir: Path):
    lines: list[str] = []
    clock = Clock()
    assert predictor.reference is not None
    signals = Signals(
        predictor.reference, predictor.version, SignalSettings(min_rows=1), lines.append, clock
    )
    client = testing.TestClient(create_app(predictor, Settings(model_dir=model_dir), None, signals))
    ok = client.simulate_post("/predict", json={"features": [3, 2, 1500, 1990]})
    missing = client.simulate_post(
        "/predict", json={"records": [{"bedrooms": 3, "bathrooms": 2, "year_built": 1990}]}
    )
    client.simulate_get("/health")
    clock.now = 10.0
    client.simulate_post("/predict", json={"instances": [[3, 2, 1500, 1990], [4, 3, 2500, 2000]]})
    assert (ok.status_code, missing.status_code) == (200, 422)
    docs = _by_feature(lines)
    head = docs["-"]
    assert (head["Requests"], head["Status4xx"], head["Rows"]) == (3, 1, 3)
    assert head["ModelVersion"] == predictor.version
    assert docs["sqft_living"]["MissingRate"] == pytest.approx(100 / 3)
