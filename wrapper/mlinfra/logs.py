"""Tail the service's CloudWatch log group (``log_group_name``, a service stack output)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mlinfra.errors import MlinfraError


@dataclass(frozen=True)
class LogEvent:
    timestamp: datetime
    stream: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {
            "timestamp": self.timestamp.isoformat(timespec="milliseconds"),
            "stream": self.stream,
            "message": self.message,
        }


def tail(logs_client: Any, log_group: str, since: datetime, limit: int) -> list[LogEvent]:
    """The last ``limit`` events of ``log_group`` since ``since``, oldest first."""
    events = list(_events(logs_client, log_group, since))
    return events[-limit:] if limit > 0 else events


def docker_tail(containers: Sequence[str], since: datetime, limit: int) -> list[LogEvent]:
    """The local environment's logs: its task containers' output (the emulator keeps none)."""
    from mlinfra import docker_engine

    client = docker_engine.client()
    events: list[LogEvent] = []
    for name in containers:
        raw = client.containers.get(name).logs(since=since, timestamps=True, tail=limit or "all")
        for line in raw.decode(errors="replace").splitlines():
            stamp, _, message = line.partition(" ")
            events.append(LogEvent(_docker_time(stamp), name, message))
    events.sort(key=lambda event: event.timestamp)
    return events[-limit:] if limit > 0 else events


def _docker_time(stamp: str) -> datetime:
    # Docker prints RFC 3339 with nanoseconds; Python's parser takes at most microseconds.
    head, _, fraction = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{(fraction + '000000')[:6]}+00:00")


def _events(logs_client: Any, log_group: str, since: datetime) -> Iterator[LogEvent]:
    start_ms = int(since.timestamp() * 1000)
    try:
        pages = logs_client.get_paginator("filter_log_events").paginate(
            logGroupName=log_group, startTime=start_ms
        )
        for page in pages:
            for event in page.get("events", []):
                yield LogEvent(
                    datetime.fromtimestamp(event["timestamp"] / 1000, UTC),
                    event.get("logStreamName", ""),
                    event["message"].rstrip("\n"),
                )
    except ClientError as err:
        if err.response["Error"]["Code"] == "ResourceNotFoundException":
            raise MlinfraError(
                f"The log group {log_group!r} does not exist.",
                "Apply the service stack first (`mlinfra apply --env ENV`).",
            ) from err
        raise MlinfraError(f"Reading the log group {log_group!r} failed: {err}") from err
    except BotoCoreError as err:
        raise MlinfraError(
            f"Reading the log group {log_group!r} failed: {err}",
            "Check your AWS credentials and region (`mlinfra doctor`).",
        ) from err
