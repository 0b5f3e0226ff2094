"""What ``mlinfra monitor`` reports: the service's signals as CloudWatch holds them.

The service writes them as EMF lines (``mlinfra_serving.signals``); CloudWatch Logs extracts
them on AWS, the emulator's ``logs_embedded_metrics`` patch does locally, so this module reads
CloudWatch the same way in both places. Per model version: requests, 5xx, the worst p99 of any
worker in a minute, the prediction's PSI against training; per feature: PSI (last and worst),
out-of-range and missing rates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

NAMESPACE = "mlinfra"
PERIOD_SECONDS = 60
# The rule of thumb the alarm's default follows: PSI above 0.25 is a shift worth acting on.
DRIFT_THRESHOLD = 0.25


@dataclass(frozen=True)
class Series:
    """One metric per minute, oldest first."""

    times: list[datetime]
    values: list[float]

    @property
    def last(self) -> float | None:
        return self.values[-1] if self.values else None

    @property
    def worst(self) -> float | None:
        return max(self.values) if self.values else None

    @property
    def total(self) -> float:
        return float(sum(self.values))


@dataclass(frozen=True)
class FeatureSignals:
    feature: str
    psi: Series
    out_of_range_percent: Series
    missing_percent: Series

    def summary(self, threshold: float) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "psi_last": self.psi.last,
            "psi_max": self.psi.worst,
            "drifted": (self.psi.last or 0.0) > threshold,
            "out_of_range_percent": self.out_of_range_percent.last,
            "missing_percent": self.missing_percent.last,
        }


@dataclass(frozen=True)
class VersionSignals:
    version: str
    requests: Series
    status_5xx: Series
    p99_ms: Series
    prediction_psi: Series
    features: list[FeatureSignals] = field(default_factory=list)

    def summary(self, threshold: float) -> dict[str, Any]:
        requests = self.requests.total
        return {
            "model_version": self.version,
            "requests": int(requests),
            "status_5xx": int(self.status_5xx.total),
            "status_5xx_percent": 100 * self.status_5xx.total / requests if requests else None,
            "p99_ms": self.p99_ms.worst,
            "prediction_psi_last": self.prediction_psi.last,
            "features": [f.summary(threshold) for f in self.features],
        }


@dataclass(frozen=True)
class MonitorReport:
    env: str
    since: timedelta
    threshold: float
    versions: list[VersionSignals]

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "since_seconds": int(self.since.total_seconds()),
            "drift_threshold": self.threshold,
            "versions": [v.summary(self.threshold) for v in self.versions],
        }


def parse_since(text: str) -> timedelta:
    """``30m``, ``1h``, ``2d`` or seconds; ValueError naming the accepted forms."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    raw = text.strip().lower()
    try:
        amount = float(raw[:-1]) * units[raw[-1]] if raw and raw[-1] in units else float(raw)
    except ValueError:
        amount = -1
    if not math.isfinite(amount) or amount <= 0:
        raise ValueError(f"--since {text!r} is not a duration; use e.g. 30m, 1h or 2d")
    return timedelta(seconds=amount)


def _dimension_values(cloudwatch: Any, namespace: str, metric: str) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    for page in cloudwatch.get_paginator("list_metrics").paginate(
        Namespace=namespace, MetricName=metric
    ):
        for item in page["Metrics"]:
            found.append({d["Name"]: d["Value"] for d in item["Dimensions"]})
    return found


def read(
    cloudwatch: Any,
    env: str,
    since: timedelta,
    namespace: str = NAMESPACE,
    threshold: float = DRIFT_THRESHOLD,
    now: datetime | None = None,
) -> MonitorReport:
    """Every model version's signals of the last ``since`` from ``cloudwatch`` (a boto3 client)."""
    end = (now or datetime.now(UTC)) + timedelta(seconds=PERIOD_SECONDS)
    start = end - since - timedelta(seconds=PERIOD_SECONDS)
    versions = sorted(
        {d["ModelVersion"] for d in _dimension_values(cloudwatch, namespace, "Requests")}
    )
    features: dict[str, list[str]] = {}
    for dims in _dimension_values(cloudwatch, namespace, "PSI"):
        if "ModelVersion" in dims and "Feature" in dims:
            features.setdefault(dims["ModelVersion"], []).append(dims["Feature"])
    queries: list[tuple[str, str, dict[str, str], str]] = []
    for version in versions:
        base = {"ModelVersion": version}
        queries += [
            (f"{version}|Requests", "Requests", base, "Sum"),
            (f"{version}|Status5xx", "Status5xx", base, "Sum"),
            (f"{version}|LatencyP99", "LatencyP99", base, "Maximum"),
            (f"{version}|PredictionPSI", "PredictionPSI", base, "Average"),
        ]
        for feature in sorted(set(features.get(version, []))):
            dims = {**base, "Feature": feature}
            for metric in ("PSI", "OutOfRangeRate", "MissingRate"):
                queries.append((f"{version}|{feature}|{metric}", metric, dims, "Average"))
    series = _series(cloudwatch, namespace, queries, start, end)
    report = []
    for version in versions:
        per_feature = [
            FeatureSignals(
                feature,
                series[f"{version}|{feature}|PSI"],
                series[f"{version}|{feature}|OutOfRangeRate"],
                series[f"{version}|{feature}|MissingRate"],
            )
            for feature in sorted(set(features.get(version, [])))
        ]
        report.append(
            VersionSignals(
                version,
                series[f"{version}|Requests"],
                series[f"{version}|Status5xx"],
                series[f"{version}|LatencyP99"],
                series[f"{version}|PredictionPSI"],
                per_feature,
            )
        )
    return MonitorReport(env, since, threshold, report)


def _series(
    cloudwatch: Any,
    namespace: str,
    queries: list[tuple[str, str, dict[str, str], str]],
    start: datetime,
    end: datetime,
) -> dict[str, Series]:
    """GetMetricData of ``queries`` (key, metric, dimensions, stat), 500 a call (its limit)."""
    result: dict[str, Series] = {key: Series([], []) for key, *_ in queries}
    for first in range(0, len(queries), 500):
        chunk = queries[first : first + 500]
        ids = {f"q{i}": key for i, (key, *_) in enumerate(chunk)}
        answer = cloudwatch.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": f"q{i}",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": namespace,
                            "MetricName": metric,
                            "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                        },
                        "Period": PERIOD_SECONDS,
                        "Stat": stat,
                    },
                }
                for i, (_key, metric, dims, stat) in enumerate(chunk)
            ],
            StartTime=start,
            EndTime=end,
            ScanBy="TimestampAscending",
        )
        for item in answer["MetricDataResults"]:
            pairs = sorted(zip(item["Timestamps"], item["Values"], strict=True))
            result[ids[item["Id"]]] = Series([t for t, _ in pairs], [v for _, v in pairs])
    return result


def plot(report: MonitorReport, path: Path) -> None:
    """A PNG: per version, each feature's PSI over time against the threshold, and requests
    with 5xx. ImportError when matplotlib is missing (the caller says how to install it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = max(1, len(report.versions))
    figure, axes = plt.subplots(rows, 2, figsize=(12, 3.5 * rows), squeeze=False)
    for row, version in zip(axes, report.versions, strict=False):
        drift, traffic = row
        for feature in version.features:
            drift.plot(feature.psi.times, feature.psi.values, marker=".", label=feature.feature)
        drift.plot(
            version.prediction_psi.times,
            version.prediction_psi.values,
            linestyle="--",
            color="black",
            label="prediction",
        )
        drift.axhline(report.threshold, color="red", linewidth=1, label="threshold")
        drift.set_title(f"{version.version}: PSI against training")
        drift.legend(fontsize="small")
        traffic.bar(version.requests.times, version.requests.values, width=0.0005, label="requests")
        traffic.bar(
            version.status_5xx.times,
            version.status_5xx.values,
            width=0.0005,
            color="red",
            label="5xx",
        )
        traffic.set_title(f"{version.version}: requests a minute (p99 max {_ms(version)})")
        traffic.legend(fontsize="small")
    if not report.versions:
        axes[0][0].set_title(f"{report.env}: no signals in the last {report.since}")
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _ms(version: VersionSignals) -> str:
    worst = version.p99_ms.worst
    return "-" if worst is None else f"{worst:.1f} ms"
