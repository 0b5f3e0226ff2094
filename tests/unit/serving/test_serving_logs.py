"""The background log writer: every line from every thread arrives, whole and in order."""

from __future__ import annotations

import json
import random
import threading
import time
from datetime import UTC, datetime

import pytest

from mlinfra_serving import logs
from mlinfra_serving.logs import (
    BackgroundStdoutHandler,
    flush_background,
    get_logger,
    log_event,
    log_request,
    write_in_background,
)

FIELDS = {
    "method": "POST",
    "route": "/predict",
    "status": 200,
    "latency_ms": 0.2,
    "request_id": "r1",
}


def _without_time(line: str) -> dict:
    parsed = json.loads(line)
    assert parsed.pop("time").endswith("+00:00")
    return parsed


def test_lines_from_many_threads_all_arrive_after_flush(capsys: pytest.CaptureFixture) -> None:
    write_in_background()
    assert any(isinstance(h, BackgroundStdoutHandler) for h in get_logger().handlers)

    def burst(thread: int) -> None:
        for n in range(300):
            log_event("request", thread=thread, n=n)

    threads = [threading.Thread(target=burst, args=(t,)) for t in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    flush_background()
    assert not any(isinstance(h, BackgroundStdoutHandler) for h in get_logger().handlers)

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 6 * 300
    for t in range(6):
        assert [line["n"] for line in lines if line["thread"] == t] == list(range(300))


def test_after_flush_lines_are_written_on_the_callers_thread(
    capsys: pytest.CaptureFixture,
) -> None:
    write_in_background()
    flush_background()
    log_event("synchronous", k=1)
    assert json.loads(capsys.readouterr().out)["message"] == "synchronous"


def test_a_request_line_is_the_same_json_with_or_without_the_writer(
    capsys: pytest.CaptureFixture,
) -> None:
    log_event("request", **FIELDS)
    write_in_background()
    log_request(**FIELDS)
    flush_background()
    log_request(**FIELDS)
    first, fast, after = capsys.readouterr().out.splitlines()
    assert _without_time(fast) == _without_time(first) == _without_time(after)
    assert list(json.loads(fast))[:4] == ["time", "level", "logger", "message"]


def test_request_lines_follow_the_loggers_level(capsys: pytest.CaptureFixture) -> None:
    logger = get_logger()
    logger.setLevel("WARNING")
    try:
        write_in_background()
        log_request(**FIELDS)
        flush_background()
        log_request(**FIELDS)
    finally:
        logger.setLevel("INFO")
    assert capsys.readouterr().out == ""


def test_line_times_are_datetimes_text_to_the_millisecond() -> None:
    rng = random.Random(3)
    now = time.time()
    edges = [0.0, 1.0005, 5.9999994, 5.9999996, 1764000000.9999995, 1764000000.0000004, -1.5]
    for created in edges + [now + rng.random() * 1e6 for _ in range(20_000)]:
        expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
        assert logs.iso_milliseconds(created) == expected, created
