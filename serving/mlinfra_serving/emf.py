"""CloudWatch Embedded Metric Format (EMF) documents: metrics written as one JSON log line.

The spec (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
CloudWatch_Embedded_Metric_Format_Specification.html): the root object carries
``_aws = {"Timestamp": <ms since the epoch>, "CloudWatchMetrics": [MetricDirective, ...]}``;
a MetricDirective is ``{"Namespace", "Dimensions": [[key, ...], ...], "Metrics": [{"Name",
"Unit"}, ...]}``; every dimension key and every metric name is also a root member holding its
value: a string for a dimension, a number or an array of at most 100 numbers for a metric (each
element one sample). CloudWatch Logs extracts the metrics from such a line with no agent and no
PutMetricData permission; awslogs ships the line from the container's stdout.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

MAX_VALUES = 100
MAX_DIMENSIONS = 30
# The units the spec accepts are CloudWatch's StandardUnit; these are the ones the service uses.
UNITS = frozenset({"Count", "Milliseconds", "Percent", "None"})


@dataclass(frozen=True)
class Metric:
    name: str
    value: float | Sequence[float]
    unit: str = "None"


@dataclass(frozen=True)
class Directive:
    """Metrics under their dimension sets; None: one set of every dimension of the document.
    ``[[]]`` is one set with no dimension (the metric aggregated over every version)."""

    metrics: Sequence[Metric]
    dimension_sets: Sequence[Sequence[str]] | None = None


def document(
    namespace: str,
    dimensions: Mapping[str, str],
    directives: Sequence[Directive],
    timestamp_ms: int,
    properties: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One EMF document: each directive's metrics under its dimension sets.

    A metric whose value is NaN (no data) is left out: EMF has no null value. ``properties`` are
    extra root members CloudWatch keeps in the log event but does not turn into metrics.
    """
    root: dict[str, Any] = dict(properties or {})
    root.update(dimensions)
    directives_json = []
    for directive in directives:
        sets = [list(dimensions)] if directive.dimension_sets is None else directive.dimension_sets
        for keys in sets:
            if len(keys) > MAX_DIMENSIONS or not set(keys) <= set(dimensions):
                raise ValueError(
                    f"dimension set {list(keys)} is not {MAX_DIMENSIONS} or fewer"
                    f" of the document's dimensions {list(dimensions)}"
                )
        definitions = []
        for metric in directive.metrics:
            if metric.unit not in UNITS:
                raise ValueError(f"unit {metric.unit!r} is not one of {sorted(UNITS)}")
            value = _value(metric)
            if value is None:
                continue
            definitions.append({"Name": metric.name, "Unit": metric.unit})
            root[metric.name] = value
        if definitions:
            directives_json.append(
                {
                    "Namespace": namespace,
                    "Dimensions": [list(keys) for keys in sets],
                    "Metrics": definitions,
                }
            )
    root["_aws"] = {"Timestamp": timestamp_ms, "CloudWatchMetrics": directives_json}
    return root


def _value(metric: Metric) -> float | list[float] | None:
    if isinstance(metric.value, int | float):
        return None if math.isnan(metric.value) else float(metric.value)
    values = [float(v) for v in metric.value if math.isfinite(v)]
    if len(values) > MAX_VALUES:
        raise ValueError(f"{metric.name} has {len(values)} values; EMF allows {MAX_VALUES}")
    return values or None


def line(doc: Mapping[str, Any]) -> str:
    return orjson.dumps(doc).decode()
