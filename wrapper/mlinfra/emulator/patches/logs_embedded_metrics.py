"""CloudWatch Logs extracts Embedded Metric Format (EMF) documents into CloudWatch metrics.

Real AWS: a log event whose message is a JSON object with ``_aws.CloudWatchMetrics`` (the EMF
spec, docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
CloudWatch_Embedded_Metric_Format_Specification.html) becomes metrics, with no agent and no
PutMetricData call: for each MetricDirective, each DimensionSet and each metric it names, one
datum in the directive's ``Namespace``, dimensions from the root members the DimensionSet names,
the metric's ``Unit``, the value of the root member of the metric's name (a number, or an array
of up to 100 numbers: one sample each), at ``_aws.Timestamp`` (ms). The
``x-amzn-logs-format: json/emf`` header of PutLogEvents is optional; the awslogs driver sends
none. A line that is not valid EMF stays a plain log event (CloudWatch counts it in
``AWS/Logs`` EMFValidationErrors; the emulator skips it).
moto 5.2.5: stores the events and extracts nothing, so metrics written as EMF (the service's
signals) never reach CloudWatch on the emulator.
Fix: after PutLogEvents stores the events, each valid EMF document among them is put into the
same account and region's CloudWatch as PutMetricData would (so alarms see it too:
``cloudwatch_alarm_evaluation``).
"""

from __future__ import annotations

import json
import math
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any
from unittest import mock

from moto.cloudwatch.models import cloudwatch_backends
from moto.logs.models import LogsBackend

_original_put_log_events = LogsBackend.put_log_events

MAX_VALUES = 100


def metric_data(document: Any) -> list[tuple[str, dict[str, Any]]]:
    """``(namespace, PutMetricData member)`` pairs of one EMF document; [] for anything that is
    not valid EMF (CloudWatch rejects the whole document then)."""
    if not isinstance(document, dict):
        return []
    meta = document.get("_aws")
    if not isinstance(meta, dict) or not isinstance(meta.get("CloudWatchMetrics"), list):
        return []
    timestamp = meta.get("Timestamp")
    if not isinstance(timestamp, int | float) or isinstance(timestamp, bool):
        return []
    when = datetime.fromtimestamp(timestamp / 1000, UTC).replace(tzinfo=None)
    data: list[tuple[str, dict[str, Any]]] = []
    for directive in meta["CloudWatchMetrics"]:
        try:
            namespace = directive["Namespace"]
            dimension_sets = directive["Dimensions"]
            metrics = directive["Metrics"]
            sets = [
                [{"Name": key, "Value": _dimension(document, key)} for key in keys]
                for keys in dimension_sets
            ] or [[]]
        except (KeyError, TypeError, ValueError):
            return []
        for metric in metrics:
            if not isinstance(metric, dict) or not isinstance(metric.get("Name"), str):
                return []
            values = _values(document.get(metric["Name"]))
            if values is None:
                return []
            for dimensions in sets:
                member: dict[str, Any] = {
                    "MetricName": metric["Name"],
                    "Dimensions": dimensions,
                    "Timestamp": when,
                    "Values": values,
                }
                if metric.get("Unit"):
                    member["Unit"] = metric["Unit"]
                data.append((str(namespace), member))
    return data


def _dimension(document: dict[str, Any], key: Any) -> str:
    value = document.get(key)
    if not isinstance(key, str) or not isinstance(value, str):
        raise ValueError(f"dimension {key!r} has no string value")
    return value


def _values(raw: Any) -> list[float] | None:
    items = raw if isinstance(raw, list) else [raw]
    if not items or len(items) > MAX_VALUES:
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in items):
        return None
    values = [float(v) for v in items]
    return values if all(math.isfinite(v) for v in values) else None


def _put_and_extract(
    self: LogsBackend, log_group_name: str, log_stream_name: str, log_events: list[dict[str, Any]]
) -> tuple[str, dict[str, Any]]:
    token, rejected = _original_put_log_events(self, log_group_name, log_stream_name, log_events)
    cloudwatch = cloudwatch_backends[self.account_id][self.region_name]
    for event in log_events:
        message = event.get("message", "")
        if not message.lstrip().startswith("{"):
            continue
        try:
            document = json.loads(message)
        except ValueError:
            continue
        for namespace, member in metric_data(document):
            cloudwatch.put_metric_data(namespace, [member])
    return token, rejected


def apply(stack: ExitStack) -> None:
    stack.enter_context(mock.patch.object(LogsBackend, "put_log_events", _put_and_extract))
