"""CloudWatch evaluates metric alarms and notifies their actions.

Real AWS: CloudWatch evaluates every metric alarm on its own, about once a minute: the alarm's
``Statistic`` of its metric (namespace, name and exactly its dimensions) over each of the last
``EvaluationPeriods`` periods of ``Period`` seconds; when ``DatapointsToAlarm`` of them (default
all) breach ``Threshold`` by ``ComparisonOperator`` the state becomes ALARM, when the periods
with data do not breach it becomes OK, with no data at all INSUFFICIENT_DATA
(``TreatMissingData``: ``missing`` as said, ``breaching``/``notBreaching`` count empty periods
as such, ``ignore`` keeps the state). On a change it publishes to the SNS topics of
``AlarmActions`` (ALARM), ``OKActions`` (OK) or ``InsufficientDataActions`` when actions are on.
moto 5.2.5: stores alarms in state OK for ever ("Unchecked: Initial alarm creation"); only
SetAlarmState changes them, so an alarm on a metric that crosses its threshold never fires.
Fix: the emulator evaluates as CloudWatch does, at the moments a reader could tell: after every
PutMetricData (EMF extraction included) for the alarms on that metric, and before DescribeAlarms
for every alarm, and publishes to the action topics of the new state on the emulated SNS. The
one difference: AWS evaluates on a clock, the emulator on those calls (a state can change later
on AWS, never earlier).
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from datetime import timedelta
from typing import Any
from unittest import mock

from moto.cloudwatch.models import (
    Alarm,
    CloudWatchBackend,
    MetricAggregatedDatum,
    MetricDatum,
)
from moto.core.utils import utcnow

_original_put_metric_data = CloudWatchBackend.put_metric_data
_original_describe_alarms = CloudWatchBackend.describe_alarms

COMPARE = {
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}


Datum = MetricDatum | MetricAggregatedDatum


def _summary(datum: Datum) -> tuple[float, float, float, float]:
    """(count, sum, minimum, maximum) of one datum, a value or a statistic set."""
    if isinstance(datum, MetricAggregatedDatum):
        return datum.sample_count, datum.sum, datum.min, datum.max
    return 1.0, datum.value, datum.value, datum.value


def statistic(data: list[Datum], name: str) -> float:
    """``name`` (Average, Sum, Minimum, Maximum, SampleCount) of ``data`` (not empty)."""
    summaries = [_summary(d) for d in data]
    count = sum(s[0] for s in summaries)
    total = sum(s[1] for s in summaries)
    if name == "SampleCount":
        return float(count)
    if name == "Sum":
        return float(total)
    if name == "Average":
        return float(total / count)
    if name == "Minimum":
        return float(min(s[2] for s in summaries))
    return float(max(s[3] for s in summaries))


def _naive(moment: Any) -> Any:
    return moment.replace(tzinfo=None) if getattr(moment, "tzinfo", None) else moment


def evaluate(backend: CloudWatchBackend, alarm: Alarm) -> str | None:
    """The state CloudWatch would give ``alarm`` now, or None for an alarm this does not judge
    (metric-math or percentile alarms)."""
    if alarm.metric_data_queries or not alarm.metric_name or alarm.statistic is None:
        return None
    compare = COMPARE.get(alarm.comparison_operator)
    if compare is None:
        return None
    wanted = {(d.name, d.value) for d in alarm.dimensions}
    now = utcnow()
    period = timedelta(seconds=int(alarm.period))
    start = now - period * int(alarm.evaluation_periods)
    data: list[Datum] = [
        d
        for d in backend.get_all_metrics()
        if isinstance(d, MetricDatum | MetricAggregatedDatum)
        and d.namespace == alarm.namespace
        and d.name == alarm.metric_name
        and {(x.name, x.value) for x in d.dimensions} == wanted
        and start <= _naive(d.timestamp) <= now
    ]
    breaching = empty = 0
    for i in range(int(alarm.evaluation_periods)):
        low, high = start + period * i, start + period * (i + 1)
        inside = [
            d for d in data if low <= _naive(d.timestamp) < high or _naive(d.timestamp) == now
        ]
        if not inside:
            empty += 1
        elif compare(statistic(inside, alarm.statistic), float(alarm.threshold)):
            breaching += 1
    missing = alarm.treat_missing_data or "missing"
    if missing == "breaching":
        breaching += empty
    needed = int(alarm.datapoints_to_alarm or alarm.evaluation_periods)
    if breaching >= needed:
        return "ALARM"
    if empty == int(alarm.evaluation_periods) and missing in ("missing", "ignore"):
        return "INSUFFICIENT_DATA" if missing == "missing" else alarm.state_value
    return "OK"


def _judge(backend: CloudWatchBackend, alarm: Alarm) -> None:
    state = evaluate(backend, alarm)
    if state is None or state == alarm.state_value:
        return
    old = alarm.state_value
    reason = (
        f"Threshold Crossed: the {alarm.statistic} of {alarm.metric_name} over the last"
        f" {alarm.evaluation_periods} period(s) of {alarm.period} s"
        f" {'was' if state == 'ALARM' else 'was not'} {alarm.comparison_operator}"
        f" {alarm.threshold} (evaluated by the emulator)"
    )
    alarm.update_state(reason, json.dumps({"version": "1.0"}), state)
    if alarm.actions_enabled:
        topics = {
            "ALARM": alarm.alarm_actions,
            "OK": alarm.ok_actions,
            "INSUFFICIENT_DATA": alarm.insufficient_data_actions,
        }[state]
        _notify(backend, alarm, old, reason, topics)


def _notify(
    backend: CloudWatchBackend, alarm: Alarm, old: str, reason: str, topics: list[str]
) -> None:
    from moto.sns.models import sns_backends

    message = json.dumps(
        {
            "AlarmName": alarm.name,
            "AlarmArn": alarm.alarm_arn,
            "NewStateValue": alarm.state_value,
            "OldStateValue": old,
            "NewStateReason": reason,
            "StateChangeTime": alarm.state_updated_timestamp.isoformat(),
            "Region": alarm.region_name,
            "Trigger": {
                "MetricName": alarm.metric_name,
                "Namespace": alarm.namespace,
                "Statistic": alarm.statistic,
                "Threshold": alarm.threshold,
                "Dimensions": [{"name": d.name, "value": d.value} for d in alarm.dimensions],
            },
        }
    )
    for arn in topics:
        if not arn.startswith("arn:aws:sns:"):
            continue
        sns = sns_backends[backend.account_id][arn.split(":")[3]]
        if arn in sns.topics:
            sns.publish(message, arn=arn, subject=f'ALARM: "{alarm.name}"'[:100])


def _put_then_judge(
    self: CloudWatchBackend, namespace: str, metric_data: list[dict[str, Any]]
) -> None:
    _original_put_metric_data(self, namespace, metric_data)
    names = {member["MetricName"] for member in metric_data}
    for alarm in list(self.alarms.values()):
        if alarm.namespace == namespace and alarm.metric_name in names:
            _judge(self, alarm)


def _judge_then_describe(self: CloudWatchBackend, *args: Any, **kwargs: Any) -> Any:
    for alarm in list(self.alarms.values()):
        _judge(self, alarm)
    return _original_describe_alarms(self, *args, **kwargs)


def apply(stack: ExitStack) -> None:
    stack.enter_context(mock.patch.object(CloudWatchBackend, "put_metric_data", _put_then_judge))
    stack.enter_context(
        mock.patch.object(CloudWatchBackend, "describe_alarms", _judge_then_describe)
    )
