"""JSON log lines on stdout: one object per line, as CloudWatch Logs Insights reads them."""

from __future__ import annotations

import logging
import math
import queue
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

LOGGER_NAME = "mlinfra_serving"
# The same object get_logger() configures; held here because getLogger takes logging's module
# lock on every call, which log_request would otherwise pay per request.
_SERVICE_LOGGER = logging.getLogger(LOGGER_NAME)
# How long the background writer lets lines gather before one write.
BATCH_SECONDS = 0.02


# The last whole second formatted, and its text: every line of one second shares it.
_second_text: tuple[int, str] = (-1, "")


def iso_milliseconds(created: float) -> str:
    """``datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")``, the same
    text (its rounding to the microsecond too), at a third of the cost (one datetime a second).
    """
    global _second_text
    if created < 0:
        return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    fraction, whole = math.modf(created)
    second, micro = int(whole), round(fraction * 1e6)
    if micro >= 1_000_000:
        second, micro = second + 1, micro - 1_000_000
    cached, text = _second_text
    if second != cached:
        text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second_text = (second, text)
    return f"{text}.{micro // 1000:03d}+00:00"


def json_line(created: float, level: str, logger: str, message: str, fields: dict[str, Any]) -> str:
    """One log line: time, level, logger and message, then the caller's fields."""
    line: dict[str, Any] = {
        "time": iso_milliseconds(created),
        "level": level,
        "logger": logger,
        "message": message,
    }
    line.update(fields)
    # PERF: orjson: 0.2 us a line against json's 3 us.
    return orjson.dumps(line, default=str).decode()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json_line(
            record.created,
            record.levelname.lower(),
            record.name,
            record.getMessage(),
            getattr(record, "fields", {}),
        )


class StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
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


class BackgroundStdoutHandler(logging.Handler):
    """Formats each record at once and queues the line; a writer thread writes every line
    waiting in one call.

    PERF: written by the request's own thread, the per-request line cost half of a worker's time
    under load (py-spy, docs/performance.md): stdout, a pipe to the container runtime, blocks.
    The writer only joins and writes (the write releases the GIL): a writer that also formatted
    held the GIL for a whole batch while the event loop waited for it. ``close`` writes what is
    queued, so no line is lost when gunicorn stops a worker.
    """

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__()
        self.setFormatter(formatter)
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_batches, name="log-writer", daemon=True)
        self._writer.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.put_line(self.format(record))
        except Exception:
            self.handleError(record)

    def put_line(self, line: str) -> None:
        """Queue a line formatted elsewhere (``log_request``'s)."""
        self._queue.put(line + "\n")

    def _write_batches(self) -> None:
        while True:
            batch = [self._queue.get()]
            if batch[0] is not None:
                # PERF: let a batch gather: a writer woken per line takes the GIL from the
                # event loop once per request.
                time.sleep(BATCH_SECONDS)
            while not self._queue.empty():
                batch.append(self._queue.get())
            lines = [line for line in batch if line is not None]
            if lines:
                sys.stdout.write("".join(lines))
                sys.stdout.flush()
            if None in batch:
                return

    def close(self) -> None:
        if self._writer.is_alive():
            self._queue.put(None)
            self._writer.join(timeout=5)
        super().close()


# The background writer of this process, while there is one (gunicorn workers: post_fork on).
_background: BackgroundStdoutHandler | None = None


def write_in_background() -> None:
    """Serve log lines from a writer thread of this process (gunicorn's ``post_fork``: a thread
    started before the fork would not exist in the worker)."""
    # PERF: the logging HOWTO's "Optimization": no caller frame walk, thread or process lookups
    # per record; no line of this service prints them.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    global _background
    logger = get_logger()
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    _background = BackgroundStdoutHandler(JsonFormatter())
    logger.addHandler(_background)


def flush_background() -> None:
    """Write every queued line and go back to writing on the caller's thread."""
    global _background
    _background = None
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        if isinstance(handler, BackgroundStdoutHandler):
            logger.removeHandler(handler)
            handler.close()
            logger.addHandler(_stdout_handler())


def _stdout_handler() -> logging.Handler:
    handler = StdoutHandler()
    handler.setFormatter(JsonFormatter())
    return handler


def get_logger() -> logging.Logger:
    """The service logger, writing JSON to stdout (configured once)."""
    logger = logging.getLogger(LOGGER_NAME)
    if not logger.handlers:
        logger.addHandler(_stdout_handler())
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def log_event(message: str, level: int = logging.INFO, **fields: Any) -> None:
    get_logger().log(level, message, extra={"fields": fields})


def write_line(line: str) -> None:
    """Write a line formatted by the caller (an EMF document) the way log lines go."""
    writer = _background
    if writer is None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        return
    writer.put_line(line)


def log_request(**fields: Any) -> None:
    """The line every request ends with: ``log_event("request", **fields)``, made faster.

    PERF: with the background writer on, the line goes to it as text, without the logging
    module's LogRecord, which was 7% of a worker's busy time in py-spy (docs/performance.md).
    The line is the same JSON either way, and the logger's level still applies.
    """
    writer = _background
    if writer is None or not _SERVICE_LOGGER.isEnabledFor(logging.INFO):
        log_event("request", **fields)
        return
    writer.put_line(json_line(time.time(), "info", LOGGER_NAME, "request", fields))
