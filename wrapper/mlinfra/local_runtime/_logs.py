"""The awslogs log driver, played by the agent: each task container's output goes to the
emulated CloudWatch Logs, in the group and stream the task definition names.

As the ECS agent's awslogs driver: the stream is ``<awslogs-stream-prefix>/<container>/<task
id>`` (the container id without a prefix); the group must exist unless ``awslogs-create-group``
is ``true``; events keep Docker's timestamps and go in batches (at most every second here; the
driver's default is 5 s). A restarted agent resumes after the stream's last event, so a line is
shipped once. From there the emulator does what CloudWatch does with the lines (embedded metric
format extraction included).
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from docker.errors import APIError, NotFound
from docker.models.containers import Container

# The settings on each task container (its labels are the runtime's only state): the stream
# names the container id, known once the container exists.
LABEL_LOG_GROUP = "mlinfra.awslogs-group"
LABEL_LOG_STREAM_PREFIX = "mlinfra.awslogs-stream-prefix"
LABEL_LOG_CREATE_GROUP = "mlinfra.awslogs-create-group"
LABEL_CONTAINER_NAME = "mlinfra.container-name"
FLUSH_S = 1.0
# PutLogEvents' limits: 10,000 events and 1,048,576 bytes (each event counts 26 bytes more).
MAX_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 26
# CloudWatch Logs truncates nothing below 256 KiB per event; longer lines are cut, as the driver does.
MAX_EVENT_BYTES = 256 * 1024 - EVENT_OVERHEAD_BYTES


@dataclass(frozen=True)
class AwsLogs:
    """A container definition's ``awslogs`` logConfiguration."""

    group: str
    stream_prefix: str | None
    create_group: bool

    def stream(self, container_name: str, container_id: str) -> str:
        """The stream of one task's container (ECS: prefix/container-name/task-id)."""
        task = container_id[:32]
        return f"{self.stream_prefix}/{container_name}/{task}" if self.stream_prefix else task


def aws_logs(container_definition: dict[str, Any]) -> AwsLogs | None:
    """The container's awslogs settings, or None when it logs some other way."""
    log_config = container_definition.get("logConfiguration") or {}
    options = log_config.get("options") or {}
    if log_config.get("logDriver") != "awslogs" or not options.get("awslogs-group"):
        return None
    return AwsLogs(
        group=options["awslogs-group"],
        stream_prefix=options.get("awslogs-stream-prefix") or None,
        create_group=str(options.get("awslogs-create-group", "")).lower() == "true",
    )


def log_labels(logs: AwsLogs, container_name: str) -> dict[str, str]:
    """The labels a task container carries for the agent to ship its output."""
    return {
        LABEL_LOG_GROUP: logs.group,
        LABEL_LOG_STREAM_PREFIX: logs.stream_prefix or "",
        LABEL_LOG_CREATE_GROUP: str(logs.create_group).lower(),
        LABEL_CONTAINER_NAME: container_name,
    }


def _from_labels(labels: dict[str, str]) -> tuple[AwsLogs, str] | None:
    group = labels.get(LABEL_LOG_GROUP)
    if not group:
        return None
    logs = AwsLogs(
        group=group,
        stream_prefix=labels.get(LABEL_LOG_STREAM_PREFIX) or None,
        create_group=labels.get(LABEL_LOG_CREATE_GROUP) == "true",
    )
    return logs, labels.get(LABEL_CONTAINER_NAME, "")


def parse_log_line(raw: bytes) -> tuple[int, str] | None:
    """Docker's ``timestamps=True`` line ("2026-12-02T00:49:37.123456789Z message") as
    (milliseconds since the epoch, message); None for a line without a timestamp."""
    text = raw.decode(errors="replace").rstrip("\n")
    stamp, _, message = text.partition(" ")
    try:
        millis = round(docker_time(stamp) * 1000, 3)
    except ValueError:
        return None
    return int(millis), message.encode()[:MAX_EVENT_BYTES].decode(errors="ignore")


def docker_time(value: str) -> float:
    """Docker's RFC 3339 time with nanoseconds ("2026-12-02T00:49:37.123456789Z"), as Unix time."""
    head, _, fraction = value.rstrip("Z").partition(".")
    seconds = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    return seconds + float(f"0.{fraction[:6] or 0}")


def batches(events: list[tuple[int, str]]) -> Iterator[list[tuple[int, str]]]:
    """``events`` (in time order) cut into PutLogEvents calls within its limits."""
    batch: list[tuple[int, str]] = []
    size = 0
    for event in events:
        event_size = len(event[1].encode()) + EVENT_OVERHEAD_BYTES
        if batch and (len(batch) == MAX_EVENTS or size + event_size > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(event)
        size += event_size
    if batch:
        yield batch


def _lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Whole lines from Docker's log frames (a frame may hold part of a line, or several)."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *whole, pending = pending.split(b"\n")
        yield from whole
    if pending:
        yield pending


class LogShipper:
    """Follows task containers' output and puts it to CloudWatch Logs, one thread per container
    and one that sends; ``follow`` is idempotent per container."""

    def __init__(self, logs: Any, say: Callable[[str], None]) -> None:
        self.logs = logs
        self.say = say
        self.followed: set[str] = set()
        self.events: queue.Queue[tuple[str, str, int, str]] = queue.Queue()
        self.ready: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._send_forever, daemon=True).start()

    def follow(self, container: Container) -> None:
        settings = _from_labels(container.labels)
        cid = container.id or ""
        with self._lock:
            if settings is None or cid in self.followed:
                return
            self.followed.add(cid)
        logs, name = settings
        arguments = (container, logs.group, logs.stream(name, cid), logs.create_group)
        threading.Thread(target=self._read, args=arguments, daemon=True).start()

    def _read(self, container: Container, group: str, stream: str, create: bool) -> None:
        try:
            last = self._prepare(group, stream, create)
            # Docker's `since` is in whole seconds (and must be > 0); lines up to the last
            # shipped millisecond are skipped here.
            since = last // 1000 if last >= 1000 else None
            chunks = container.logs(stream=True, follow=True, timestamps=True, since=since)
            for raw in _lines(chunks):
                parsed = parse_log_line(raw)
                if parsed and parsed[0] > last:
                    self.events.put((group, stream, *parsed))
        except (APIError, NotFound, ClientError, BotoCoreError) as err:
            self.say(f"awslogs: {container.name} to {group}/{stream}: {err}")
            with self._lock:
                self.followed.discard(container.id or "")

    def _prepare(self, group: str, stream: str, create: bool) -> int:
        """Make the stream (and the group when allowed); the stream's last event time (ms)."""
        if create:
            with contextlib.suppress(self.logs.exceptions.ResourceAlreadyExistsException):
                self.logs.create_log_group(logGroupName=group)
        with contextlib.suppress(self.logs.exceptions.ResourceAlreadyExistsException):
            self.logs.create_log_stream(logGroupName=group, logStreamName=stream)
        found = self.logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=stream)
        for described in found.get("logStreams", []):
            if described["logStreamName"] == stream:
                return int(described.get("lastEventTimestamp") or 0)
        return 0

    def _send_forever(self) -> None:
        while True:
            time.sleep(FLUSH_S)
            self.flush()

    def flush(self) -> int:
        """Send what was read so far; the number of events sent."""
        by_stream: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
        while not self.events.empty():
            group, stream, millis, message = self.events.get_nowait()
            by_stream[(group, stream)].append((millis, message))
        sent = 0
        for (group, stream), events in by_stream.items():
            events.sort(key=lambda event: event[0])
            for batch in batches(events):
                try:
                    self.logs.put_log_events(
                        logGroupName=group,
                        logStreamName=stream,
                        logEvents=[{"timestamp": t, "message": m} for t, m in batch],
                    )
                    sent += len(batch)
                except (ClientError, BotoCoreError) as err:
                    self.say(f"awslogs: {len(batch)} event(s) to {group}/{stream} lost: {err}")
        return sent
