"""Prometheus metrics, correct across gunicorn workers.

With ``PROMETHEUS_MULTIPROC_DIR`` set (the image sets it, on tmpfs) every worker writes its
samples to files there and ``/metrics`` aggregates them, whichever worker answers. Without it
(tests in process) the default registry of this one process is served.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter(
    "mlinfra_http_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
LATENCY = Histogram(
    "mlinfra_http_request_duration_seconds",
    "Time from request start to response, by route.",
    ["route"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
PREDICTIONS = Counter("mlinfra_predictions_total", "Rows predicted.", ["kind"])


@functools.cache
def _request_counter(method: str, route: str, status: int) -> Any:
    # PERF: .labels() takes a lock and builds a key on every call; the children never change.
    return REQUESTS.labels(method, route, str(status))


@functools.cache
def _latency(route: str) -> Any:
    return LATENCY.labels(route)


@functools.cache
def _predictions(batch: bool) -> Any:
    return PREDICTIONS.labels("batch" if batch else "single")


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    _request_counter(method, route, status).inc()
    _latency(route).observe(seconds)


def observe_predictions(rows: int, batch: bool) -> None:
    _predictions(batch).inc(rows)


# The container's CPU counter: cgroup v2 (usage_usec in cpu.stat), then v1 (cpuacct, in ns).
CGROUP_CPU_FILES = (
    (Path("/sys/fs/cgroup/cpu.stat"), 1e-6),
    (Path("/sys/fs/cgroup/cpuacct/cpuacct.usage"), 1e-9),
    (Path("/sys/fs/cgroup/cpu,cpuacct/cpuacct.usage"), 1e-9),
)


def cgroup_cpu_seconds(files: tuple[tuple[Path, float], ...] = CGROUP_CPU_FILES) -> float | None:
    """CPU seconds every process of this container used so far (master, workers, log writer),
    read from its cgroup; None where no counter is readable (not in a container)."""
    for path, scale in files:
        try:
            text = path.read_text()
        except OSError:
            continue
        if path.name == "cpu.stat":
            for line in text.splitlines():
                key, _, value = line.partition(" ")
                if key == "usage_usec" and value.strip().isdigit():
                    return int(value) * scale
            continue
        if text.strip().isdigit():
            return int(text) * scale
    return None


class ContainerCpuCollector:
    """``mlinfra_container_cpu_seconds_total``, read at scrape time: with the request counter it
    gives the service's CPU per request (``mlinfra bench``), whichever worker answers."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        seconds = cgroup_cpu_seconds()
        if seconds is not None:
            yield CounterMetricFamily(
                "mlinfra_container_cpu_seconds",
                "CPU seconds used by every process of the container (its cgroup).",
                value=seconds,
            )


REGISTRY.register(ContainerCpuCollector())


def render() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(ContainerCpuCollector())
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
