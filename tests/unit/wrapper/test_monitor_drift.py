"""Living area times 3 in a request stream: its PSI crosses the threshold, ``monitor`` shows it
and the drift alarm goes to ALARM; the same stream unshifted stays quiet.

The service is the real app (falcon's test client) with its real signals; its EMF lines are
shipped to the emulated CloudWatch Logs with PutLogEvents as the awslogs driver ships a
container's stdout, and extracted and judged by the emulator's patches, as CloudWatch does.
"""

import json
import random
import time
from pathlib import Path

import numpy as np
import pytest
from falcon import testing

from mlinfra import monitor
from mlinfra.emulator import boto3_session
from mlinfra.emulator.patches import cloudwatch_alarm_evaluation, logs_embedded_metrics
from mlinfra.emulator.testing import in_process
from mlinfra.training import load_dataset, train
from mlinfra_serving.app import create_app
from mlinfra_serving.config import Settings
from mlinfra_serving.predictor import Predictor
from mlinfra_serving.signals import Signals, SignalSettings

GROUP, STREAM = "/ecs/house-prices", "app/app/0123456789"


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def predictor(tmp_path_factory: pytest.TempPathFactory) -> Predictor:
    directory: Path = tmp_path_factory.mktemp("model")
    train(directory)
    return Predictor.load(directory)


def _serve(predictor: Predictor, factor: float) -> list[str]:
    """400 single-row predictions of training houses, living area times ``factor``, then one
    flush: the EMF lines the service wrote."""
    lines: list[str] = []
    clock = Clock()
    assert predictor.reference is not None
    signals = Signals(
        predictor.reference, predictor.version, SignalSettings(min_rows=100), lines.append, clock
    )
    client = testing.TestClient(
        create_app(predictor, Settings(model_dir=Path("/nonexistent")), None, signals)
    )
    rows, _, _ = load_dataset()
    picked = rows[np.random.default_rng(3).integers(0, len(rows), 400)]
    for row in picked:
        features = [float(v) for v in row]
        features[2] = round(features[2] * factor)
        answer = client.simulate_post("/predict", json={"features": features})
        assert answer.status_code == 200, answer.text
    clock.now = 10.0
    signals.flush()
    return lines


def _ship(endpoint: str, lines: list[str], account: str) -> None:
    logs = _client(endpoint, "logs", account)
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName=STREAM)
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=GROUP,
        logStreamName=STREAM,
        logEvents=[{"timestamp": now, "message": line} for line in lines],
    )


def _client(endpoint: str, service: str, account: str):
    made = boto3_session(endpoint).client(service)
    made.meta.events.register(
        "before-sign.*.*",
        lambda request, **_: request.headers.add_header("x-moto-account-id", account),
    )
    return made


def _drift_alarm(endpoint: str, account: str) -> None:
    """The alarm the cloudwatch module makes (``drift``): the largest feature PSI."""
    topic = _client(endpoint, "sns", account).create_topic(Name="alarms")["TopicArn"]
    _client(endpoint, "cloudwatch", account).put_metric_alarm(
        AlarmName="house-prices-drift",
        Namespace="mlinfra",
        MetricName="MaxFeaturePSI",
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=monitor.DRIFT_THRESHOLD,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
        AlarmActions=[topic],
    )


@pytest.mark.parametrize(("factor", "drifted"), [(3.0, True), (1.0, False)])
def test_living_area_times_three_is_seen_as_drift(predictor, factor, drifted, tmp_path):
    account = f"{random.randrange(10**11, 10**12)}"
    lines = _serve(predictor, factor)
    with in_process(logs_embedded_metrics, cloudwatch_alarm_evaluation) as endpoint:
        _drift_alarm(endpoint, account)
        _ship(endpoint, lines, account)
        cloudwatch = _client(endpoint, "cloudwatch", account)
        read = monitor.read(cloudwatch, "local", monitor.parse_since("10m"))
        report = read.to_dict()
        state = cloudwatch.describe_alarms(AlarmNames=["house-prices-drift"])["MetricAlarms"][0]
    (version,) = report["versions"]
    features = {f["feature"]: f for f in version["features"]}
    assert version["model_version"] == predictor.version
    assert version["requests"] == 400 and version["status_5xx"] == 0
    assert features["sqft_living"]["drifted"] is drifted
    assert [name for name, f in features.items() if f["drifted"]] == (
        ["sqft_living"] if drifted else []
    )
    assert features["bedrooms"]["psi_last"] < monitor.DRIFT_THRESHOLD
    if drifted:
        assert features["sqft_living"]["psi_last"] > 1.0
        assert features["sqft_living"]["out_of_range_percent"] > 10
    assert state["StateValue"] == ("ALARM" if drifted else "OK")
    monitor.plot(read, tmp_path / "signals.png")
    assert (tmp_path / "signals.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(json.dumps({"factor": factor, "psi": features["sqft_living"]["psi_last"]}))


def test_parse_since_reads_durations_and_refuses_the_rest():
    assert monitor.parse_since("90s").total_seconds() == 90
    assert monitor.parse_since("1h").total_seconds() == 3600
    with pytest.raises(ValueError, match="30m"):
        monitor.parse_since("soon")
