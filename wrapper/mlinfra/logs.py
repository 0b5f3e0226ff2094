"""Tail the service's CloudWatch log group (``log_group_name``, a service stack output)."""

from __future__ import annotations

from collections.abc import Iterator
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
