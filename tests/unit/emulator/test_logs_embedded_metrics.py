"""EMF extraction and alarm evaluation, against a recorded line of the service's signals."""

import json
import time
from datetime import UTC, datetime, timedelta

from mlinfra.emulator.patches import cloudwatch_alarm_evaluation, logs_embedded_metrics
from mlinfra.emulator.testing import in_process

# Recorded from the service (``SIGNALS_FLUSH_SECONDS=1``, living area times 3): one feature's line.
RECORDED = (
    '{"window_rows":120,"ModelVersion":"grinnell-houses-1a2b3c4d","Feature":"sqft_living",'
    '"PSI":3.1416,"OutOfRangeRate":62.5,"MissingRate":0.0,"_aws":{"Timestamp":TS,'
    '"CloudWatchMetrics":[{"Namespace":"mlinfra","Dimensions":[["ModelVersion","Feature"]],'
    '"Metrics":[{"Name":"PSI","Unit":"None"},{"Name":"OutOfRangeRate","Unit":"Percent"},'
    '{"Name":"MissingRate","Unit":"Percent"}]}]}}'
)
DIMENSIONS = [
    {"Name": "ModelVersion", "Value": "grinnell-houses-1a2b3c4d"},
    {"Name": "Feature", "Value": "sqft_living"},
]


def _ship(aws, endpoint, *messages):
    logs = aws(endpoint, "logs")
    logs.create_log_group(logGroupName="/ecs/app")
    logs.create_log_stream(logGroupName="/ecs/app", logStreamName="app/app/task1")
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName="/ecs/app",
        logStreamName="app/app/task1",
        logEvents=[{"timestamp": now, "message": m.replace("TS", str(now))} for m in messages],
    )
    return aws(endpoint, "cloudwatch")


def _psi(cloudwatch, **extra):
    now = datetime.now(UTC)
    return cloudwatch.get_metric_statistics(
        Namespace="mlinfra",
        MetricName="PSI",
        Dimensions=DIMENSIONS,
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Maximum", "SampleCount"],
        **extra,
    )["Datapoints"]


def test_moto_alone_extracts_no_metric_from_an_emf_line(aws):
    with in_process() as endpoint:
        cloudwatch = _ship(aws, endpoint, RECORDED)
        assert _psi(cloudwatch) == []
        assert cloudwatch.list_metrics(Namespace="mlinfra")["Metrics"] == []


def test_an_emf_line_becomes_metrics_with_its_dimensions_and_unit(aws):
    with in_process(logs_embedded_metrics) as endpoint:
        cloudwatch = _ship(aws, endpoint, RECORDED, '{"message": "a plain line"}', "not json")
        (point,) = _psi(cloudwatch)
        listed = cloudwatch.list_metrics(Namespace="mlinfra")["Metrics"]
        now = datetime.now(UTC)
        rate = cloudwatch.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "rate",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "mlinfra",
                            "MetricName": "OutOfRangeRate",
                            "Dimensions": DIMENSIONS,
                        },
                        "Period": 60,
                        "Stat": "Average",
                        "Unit": "Percent",
                    },
                }
            ],
            StartTime=now - timedelta(minutes=5),
            EndTime=now + timedelta(minutes=1),
        )["MetricDataResults"][0]
    assert (point["Maximum"], point["SampleCount"], point["Unit"]) == (3.1416, 1.0, "None")
    assert {m["MetricName"] for m in listed} == {"PSI", "OutOfRangeRate", "MissingRate"}
    assert all(
        sorted(d["Name"] for d in m["Dimensions"]) == ["Feature", "ModelVersion"] for m in listed
    )
    assert rate["Values"] == [62.5]


def test_an_array_counts_each_value_and_invalid_documents_are_skipped(aws):
    latency = json.dumps(
        {
            "ModelVersion": "v1",
            "Latency": [1.0, 2.0, 3.0],
            "_aws": {
                "Timestamp": "TS",
                "CloudWatchMetrics": [
                    {
                        "Namespace": "mlinfra",
                        "Dimensions": [["ModelVersion"]],
                        "Metrics": [{"Name": "Latency", "Unit": "Milliseconds"}],
                    }
                ],
            },
        }
    ).replace('"TS"', "TS")
    no_value = RECORDED.replace('"PSI":3.1416,', "")
    with in_process(logs_embedded_metrics) as endpoint:
        cloudwatch = _ship(aws, endpoint, latency, no_value)
        now = datetime.now(UTC)
        (point,) = cloudwatch.get_metric_statistics(
            Namespace="mlinfra",
            MetricName="Latency",
            Dimensions=[{"Name": "ModelVersion", "Value": "v1"}],
            StartTime=now - timedelta(minutes=5),
            EndTime=now + timedelta(minutes=1),
            Period=60,
            Statistics=["Average", "SampleCount"],
        )["Datapoints"]
        skipped = _psi(cloudwatch)
    assert (point["Average"], point["SampleCount"], point["Unit"]) == (2.0, 3.0, "Milliseconds")
    assert skipped == []


def _drift_alarm(aws, endpoint, threshold):
    sns = aws(endpoint, "sns")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    sqs = aws(endpoint, "sqs")
    queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    cloudwatch = aws(endpoint, "cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="drift-sqft_living",
        Namespace="mlinfra",
        MetricName="PSI",
        Dimensions=DIMENSIONS,
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=threshold,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
        AlarmActions=[topic],
    )
    return sqs, queue


def _state(cloudwatch):
    return cloudwatch.describe_alarms(AlarmNames=["drift-sqft_living"])["MetricAlarms"][0][
        "StateValue"
    ]


def test_moto_alone_never_moves_an_alarm(aws):
    with in_process(logs_embedded_metrics) as endpoint:
        _drift_alarm(aws, endpoint, 0.25)
        cloudwatch = _ship(aws, endpoint, RECORDED)
        assert _state(cloudwatch) == "OK"


def test_psi_over_the_threshold_sets_the_alarm_and_notifies_its_topic(aws):
    with in_process(logs_embedded_metrics, cloudwatch_alarm_evaluation) as endpoint:
        sqs, queue = _drift_alarm(aws, endpoint, 0.25)
        cloudwatch = aws(endpoint, "cloudwatch")
        before = _state(cloudwatch)
        _ship(aws, endpoint, RECORDED)
        after = _state(cloudwatch)
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert (before, after) == ("OK", "ALARM")
    (note,) = [json.loads(json.loads(m["Body"])["Message"]) for m in messages]
    assert (note["AlarmName"], note["NewStateValue"]) == ("drift-sqft_living", "ALARM")


def test_psi_under_the_threshold_keeps_the_alarm_ok(aws):
    with in_process(logs_embedded_metrics, cloudwatch_alarm_evaluation) as endpoint:
        _drift_alarm(aws, endpoint, 5.0)
        cloudwatch = _ship(aws, endpoint, RECORDED)
        assert _state(cloudwatch) == "OK"
