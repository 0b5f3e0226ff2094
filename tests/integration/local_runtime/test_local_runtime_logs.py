"""The agent's awslogs driver against the emulator and a real container: the output lands in
the task's stream, an embedded-metric line becomes a metric, and a restarted shipper sends
nothing twice."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import docker
import pytest
from docker.models.containers import Container

from mlinfra import emulator
from mlinfra.bootstrap import base_image
from mlinfra.local_runtime._logs import AwsLogs, LogShipper, log_labels

EMF = {
    "_aws": {
        "Timestamp": 0,
        "CloudWatchMetrics": [
            {"Namespace": "MlinfraLogsTest", "Dimensions": [["Model"]],
             "Metrics": [{"Name": "Requests", "Unit": "Count"}]}
        ],
    },
    "Model": "v1",
    "Requests": 7,
}  # fmt: skip


def _events(logs: Any, group: str, stream: str) -> list[str]:
    try:
        found = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
    except logs.exceptions.ResourceNotFoundException:  # the stream is not made yet
        return []
    return [event["message"] for event in found["events"]]


def _wait_for(predicate: Any, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.25)


@pytest.fixture
def task_container(docker_client: docker.DockerClient) -> Iterator[tuple[Container, AwsLogs]]:
    logs = AwsLogs(f"/ecs/lrt-{secrets.token_hex(3)}", "serving", create_group=False)
    emf = json.dumps({**EMF, "_aws": {**EMF["_aws"], "Timestamp": int(time.time() * 1000)}})
    script = f"echo first; echo second line; echo '{emf}'; sleep 60"
    container = docker_client.containers.run(
        base_image(),
        ["sh", "-c", script],
        detach=True,
        labels=log_labels(logs, "serving"),
    )
    yield container, logs
    container.remove(force=True)


def test_output_reaches_the_stream_once_and_emf_becomes_a_metric(
    endpoint: str, task_container: tuple[Container, AwsLogs]
) -> None:
    container, settings = task_container
    session = emulator.boto3_session(endpoint)
    logs, cloudwatch = session.client("logs"), session.client("cloudwatch")
    logs.create_log_group(logGroupName=settings.group)
    stream = settings.stream("serving", container.id or "")
    said: list[str] = []

    LogShipper(logs, said.append).follow(container)

    _wait_for(lambda: len(_events(logs, settings.group, stream)) == 3)
    messages = _events(logs, settings.group, stream)
    assert messages[:2] == ["first", "second line"]
    assert json.loads(messages[2])["Requests"] == 7
    metrics = cloudwatch.list_metrics(Namespace="MlinfraLogsTest")["Metrics"]
    assert [m["MetricName"] for m in metrics] == ["Requests"]
    assert said == []

    # An agent that restarts follows the same container again: nothing is sent twice.
    again = LogShipper(logs, said.append)
    again.follow(container)
    time.sleep(2.5)
    assert again.flush() == 0
    assert len(_events(logs, settings.group, stream)) == 3


def test_a_missing_group_is_said_and_nothing_is_invented(
    endpoint: str, task_container: tuple[Container, AwsLogs]
) -> None:
    container, settings = task_container
    logs = emulator.boto3_session(endpoint).client("logs")
    said: list[str] = []

    LogShipper(logs, said.append).follow(container)

    _wait_for(lambda: bool(said))
    assert settings.group in said[0] and "ResourceNotFoundException" in said[0]
    assert not logs.describe_log_groups(logGroupNamePrefix=settings.group)["logGroups"]
