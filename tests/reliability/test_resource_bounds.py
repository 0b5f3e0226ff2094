"""Requests at the row and body limits are answered, one past them is refused, and memory
stays under a task-like limit while the largest requests arrive concurrently."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from testcontainers.core.container import DockerContainer

from mlinfra.image import BuiltImage
from tests.support.reliability import booted_workers, start_service, wait_for_workers

pytestmark = pytest.mark.integration

MAX_ROWS = 1000  # the image's MAX_BATCH_ROWS default
MAX_BODY = 1 << 20  # the image's MAX_BODY_BYTES default
ROW = [3, 2, 1500, 2020]
# Half the task_definition module's 1024 MiB default: a small task, the harder bound.
MEM_LIMIT_MIB = 512
CLIENTS = 8
SECONDS = 6.0


def body_of(rows: int, size: int | None = None) -> bytes:
    """``{"instances": [...]}`` with ``rows`` rows, padded with JSON whitespace to ``size``."""
    body = json.dumps({"instances": [ROW] * rows}).encode()
    if size is None:
        return body
    assert len(body) <= size, f"{rows} rows already take {len(body)} bytes"
    return body[:-1] + b" " * (size - len(body)) + b"}"


def post(client: httpx.Client, url: str, body: bytes) -> httpx.Response:
    return client.post(f"{url}/predict", content=body, headers={"Content-Type": "application/json"})


@pytest.fixture(scope="module")
def bounded(serving_image: BuiltImage, run_id: str) -> Iterator[tuple[DockerContainer, str]]:
    started: list[DockerContainer] = []
    try:
        yield start_service(
            serving_image,
            f"mlinfra-rel-{run_id}-bounds",
            started,
            mem_limit=f"{MEM_LIMIT_MIB}m",
            GUNICORN_WORKERS="2",
        )
    finally:
        for container in started:
            container.stop()


@pytest.mark.parametrize(
    ("rows", "size", "status", "code"),
    [
        (MAX_ROWS, None, 200, None),
        (MAX_ROWS + 1, None, 413, "batch_too_large"),
        (10, MAX_BODY, 200, None),
        (10, MAX_BODY + 1, 413, "body_too_large"),
    ],
    ids=["rows-at-limit", "rows-over", "body-at-limit", "body-over"],
)
def test_limits_are_answered_and_one_past_them_refused(
    bounded: tuple[DockerContainer, str], rows: int, size: int | None, status: int, code: str | None
) -> None:
    with httpx.Client(timeout=10) as client:
        response = post(client, bounded[1], body_of(rows, size))
    assert response.status_code == status, response.text
    if code is None:
        assert response.json()["count"] == rows
    else:
        assert response.json()["error"]["code"] == code


def _peak_memory(container: DockerContainer, stop: threading.Event, peaks: list[int]) -> None:
    """Sample the container's memory; cgroup v1 also reports the peak since start."""
    wrapped = container.get_wrapped_container()
    while not stop.is_set():
        memory = wrapped.stats(stream=False, one_shot=True)["memory_stats"]
        peaks.append(max(memory.get("usage", 0), memory.get("max_usage", 0)))
        time.sleep(0.2)


def test_memory_stays_under_the_task_limit_under_the_largest_requests(
    bounded: tuple[DockerContainer, str],
) -> None:
    container, url = bounded
    workers = wait_for_workers(container, 2)
    largest = [
        body_of(MAX_ROWS),
        body_of(10, MAX_BODY),
        body_of(MAX_ROWS + 1),
        body_of(10, MAX_BODY + 1),
    ]
    statuses: Counter[int | str] = Counter()
    stop = threading.Event()
    peaks: list[int] = []

    def client_loop(offset: int) -> None:
        with httpx.Client(timeout=10) as client:
            sent = offset
            while not stop.is_set():
                try:
                    statuses[post(client, url, largest[sent % len(largest)]).status_code] += 1
                except httpx.TransportError as err:
                    statuses[type(err).__name__] += 1
                sent += 1

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(CLIENTS)]
    threads.append(threading.Thread(target=_peak_memory, args=(container, stop, peaks)))
    for thread in threads:
        thread.start()
    time.sleep(SECONDS)
    stop.set()
    for thread in threads:
        thread.join(timeout=15)

    wrapped = container.get_wrapped_container()
    wrapped.reload()
    peak_mib = max(peaks) / (1 << 20)
    print(f"\nmemory peak {peak_mib:.0f} MiB of {MEM_LIMIT_MIB} MiB; answers {dict(statuses)}")
    assert set(statuses) == {200, 413}
    assert sum(statuses.values()) > 4 * len(largest)
    assert peak_mib < MEM_LIMIT_MIB * 0.8
    assert not wrapped.attrs["State"]["OOMKilled"]
    assert booted_workers(container) == workers
