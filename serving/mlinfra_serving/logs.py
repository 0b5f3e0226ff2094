"""JSON log lines on stdout: one object per line, as CloudWatch Logs Insights reads them."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

LOGGER_NAME = "mlinfra_serving"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        return json.dumps(line, default=str)


class StdoutHandler(logging.StreamHandler):
    """Writes to ``sys.stdout`` as it is at each record, not as it was at set-up, so a
    replaced stdout (pytest's capture, a redirect in an embedding server) still gets the lines."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def get_logger() -> logging.Logger:
    """The service logger, writing JSON to stdout (configured once)."""
    logger = logging.getLogger(LOGGER_NAME)
    if not logger.handlers:
        handler = StdoutHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def log_event(message: str, level: int = logging.INFO, **fields: Any) -> None:
    get_logger().log(level, message, extra={"fields": fields})
