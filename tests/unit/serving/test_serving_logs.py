"""The background log writer: every line from every thread arrives, whole and in order."""

from __future__ import annotations

import json
import threading

import pytest

from mlinfra_serving.logs import (
    BackgroundStdoutHandler,
    flush_background,
    get_logger,
    log_event,
    write_in_background,
)


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
