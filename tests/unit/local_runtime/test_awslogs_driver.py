"""The awslogs driver as the agent plays it: settings, stream names, Docker's lines, batches
(pure functions; the shipping itself is checked against the emulator in the integration tests)."""

from __future__ import annotations

import copy

from test_task_spec import LOAD_BALANCER, TASK_DEFINITION

from mlinfra.local_runtime import task_spec
from mlinfra.local_runtime._logs import (
    EVENT_OVERHEAD_BYTES,
    MAX_BATCH_BYTES,
    AwsLogs,
    _lines,
    aws_logs,
    batches,
    parse_log_line,
)
from mlinfra.local_runtime._spec import unhonoured_fields

AWSLOGS = {
    "logDriver": "awslogs",
    "options": {
        "awslogs-group": "/ecs/mlinfra-local",
        "awslogs-region": "us-east-1",
        "awslogs-stream-prefix": "serving",
    },
}
CONTAINER_ID = "0123456789abcdef" * 4


def test_the_stream_is_prefix_container_task_id_as_ecs_names_it() -> None:
    logs = aws_logs({"logConfiguration": AWSLOGS})

    assert logs == AwsLogs("/ecs/mlinfra-local", "serving", create_group=False)
    assert logs.stream("serving", CONTAINER_ID) == f"serving/serving/{CONTAINER_ID[:32]}"
    # Without a prefix, the driver names the stream by the container id.
    assert AwsLogs("/g", None, False).stream("serving", CONTAINER_ID) == CONTAINER_ID[:32]


def test_awslogs_with_a_group_is_honoured_and_other_drivers_are_listed() -> None:
    definition = copy.deepcopy(TASK_DEFINITION)
    definition["containerDefinitions"][0]["logConfiguration"] = AWSLOGS
    assert "containerDefinitions[0].logConfiguration" not in unhonoured_fields(definition)
    assert task_spec(definition, LOAD_BALANCER, {"/mlinfra/api-key": "k"}).logs is not None

    definition["containerDefinitions"][0]["logConfiguration"] = {"logDriver": "json-file"}
    assert "containerDefinitions[0].logConfiguration" in unhonoured_fields(definition)
    assert aws_logs({"logConfiguration": {"logDriver": "awslogs", "options": {}}}) is None


def test_create_group_is_read_as_the_driver_reads_it() -> None:
    options = {**AWSLOGS["options"], "awslogs-create-group": "true"}
    logs = aws_logs({"logConfiguration": {"logDriver": "awslogs", "options": options}})
    assert logs is not None and logs.create_group


def test_docker_timestamps_become_milliseconds_and_the_message_stays_whole() -> None:
    line = b'2026-12-02T05:30:01.123456789Z {"_aws": {"Timestamp": 1}} a b\n'

    assert parse_log_line(line) == (1796189401123, '{"_aws": {"Timestamp": 1}} a b')
    assert parse_log_line(b"2026-12-02T05:30:01Z x") == (1796189401000, "x")
    assert parse_log_line(b"no timestamp here") is None


def test_frames_are_joined_into_whole_lines() -> None:
    frames = [
        b"2026-12-02T05:30:01Z one\n2026-12-02T05:30:01Z tw",
        b"o\n",
        b"2026-12-02T05:30:02Z 3",
    ]

    assert list(_lines(iter(frames))) == [
        b"2026-12-02T05:30:01Z one",
        b"2026-12-02T05:30:01Z two",
        b"2026-12-02T05:30:02Z 3",
    ]


def test_batches_keep_put_log_events_limits_and_order() -> None:
    big = "x" * (200_000 - EVENT_OVERHEAD_BYTES)
    events = [(t, big) for t in range(12)] + [(100 + t, "small") for t in range(10_500)]

    cut = list(batches(events))

    assert [e for batch in cut for e in batch] == events
    for batch in cut:
        assert len(batch) <= 10_000
        assert sum(len(m.encode()) + EVENT_OVERHEAD_BYTES for _, m in batch) <= MAX_BATCH_BYTES
    assert len(cut) >= 4
