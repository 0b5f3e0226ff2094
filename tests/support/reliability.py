"""Helpers of the reliability suite (and of bench/reliability): running the serving container
as ECS would, driving load with wrk, and reading gunicorn's JSON logs."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from serving_support import base_url, serving_container, wait_ready
from testcontainers.core.container import DockerContainer

from mlinfra.image import BuiltImage

WRK = "/usr/bin/wrk"
WRK_SCRIPT = Path(__file__).with_name("wrk_report.lua")
GUIDE_BODY = {"features": [3, 2, 1500, 2020]}

ServiceFactory = Callable[..., tuple[DockerContainer, str]]


def start_service(
    image: BuiltImage,
    name: str,
    started: list[DockerContainer],
    *,
    mem_limit: str | None = None,
    volumes: dict[str, str] | None = None,
    **env: str,
) -> tuple[DockerContainer, str]:
    """Start ``image`` read-only on a random 127.0.0.1 port and wait for ``/ready``.
    The container is appended to ``started`` before it starts, for clean-up."""
    container = serving_container(image, name, **env)
    # NOTE: with_kwargs replaces the kwargs serving_container set, so read_only is repeated.
    container.with_kwargs(read_only=True, **({"mem_limit": mem_limit} if mem_limit else {}))
    for host_path, container_path in (volumes or {}).items():
        container.with_volume_mapping(host_path, container_path, "ro")
    started.append(container)
    container.start()
    url = base_url(container)
    wait_ready(url)
    return container, url


# ---------------------------------------------------------------------------------------------
# Load
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadResult:
    """What wrk saw. ``non_2xx`` is wrk's status error count (HTTP status > 399)."""

    connections: int
    seconds: float
    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    non_2xx: int
    connect_errors: int
    read_errors: int
    write_errors: int
    timeouts: int

    @property
    def socket_errors(self) -> int:
        return self.connect_errors + self.read_errors + self.write_errors + self.timeouts

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "socket_errors": self.socket_errors}


def wrk_command(url: str, *, connections: int, seconds: int, threads: int = 2) -> list[str]:
    if not Path(WRK).exists():
        raise AssertionError(f"{WRK} is missing: run `./bin/task setup:test-tools` (Debian's wrk).")
    return [
        WRK, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
        "-s", str(WRK_SCRIPT), f"{url}/predict",
    ]  # fmt: skip


def wrk_env(body: dict[str, Any] | None = None, api_key: str | None = None) -> dict[str, str]:
    return {
        **os.environ,
        "WRK_BODY": json.dumps(body or GUIDE_BODY),
        "WRK_API_KEY": api_key or "",
    }


def parse_wrk(stdout: str, connections: int) -> LoadResult:
    line = next((ln for ln in stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if line is None:
        raise AssertionError(f"wrk printed no summary line; its output was:\n{stdout}")
    raw = json.loads(line.removeprefix("WRK_JSON "))
    seconds = raw["duration_us"] / 1e6
    return LoadResult(
        connections=connections,
        seconds=round(seconds, 2),
        requests=raw["requests"],
        requests_per_s=round(raw["requests"] / seconds, 1),
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        non_2xx=raw["status"],
        connect_errors=raw["connect"],
        read_errors=raw["read"],
        write_errors=raw["write"],
        timeouts=raw["timeout"],
    )


def start_wrk(
    url: str, *, connections: int, seconds: int, api_key: str | None = None
) -> subprocess.Popen[str]:
    """wrk in the background (load only 127.0.0.1, bounded by ``seconds``)."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"load only goes to 127.0.0.1, not {url}")
    return subprocess.Popen(
        wrk_command(url, connections=connections, seconds=seconds),
        env=wrk_env(api_key=api_key),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish_wrk(process: subprocess.Popen[str], connections: int, seconds: int) -> LoadResult:
    stdout, _ = process.communicate(timeout=seconds + 30)
    return parse_wrk(stdout, connections)


def run_wrk(url: str, *, connections: int, seconds: int, api_key: str | None = None) -> LoadResult:
    process = start_wrk(url, connections=connections, seconds=seconds, api_key=api_key)
    return finish_wrk(process, connections, seconds)


# ---------------------------------------------------------------------------------------------
# Logs
# ---------------------------------------------------------------------------------------------


def json_lines(container: DockerContainer, *, stdout: bool, stderr: bool) -> list[dict[str, Any]]:
    raw = container.get_wrapped_container().logs(stdout=stdout, stderr=stderr).decode()
    return [json.loads(ln) for ln in raw.splitlines() if ln.startswith("{")]


def request_log(container: DockerContainer) -> list[dict[str, Any]]:
    """The app's one line per request (stdout)."""
    lines = json_lines(container, stdout=True, stderr=False)
    return [ln for ln in lines if ln.get("message") == "request"]


def wait_for_request_log(
    container: DockerContainer, count: int, timeout_s: float = 15.0
) -> list[dict[str, Any]]:
    """The request log once it holds ``count`` lines (or what it holds at the deadline).

    Each worker writes its request lines in batches from a background thread, so the last
    requests reach the container's log a moment after their answers.
    """
    deadline = time.monotonic() + timeout_s
    lines = request_log(container)
    while len(lines) < count and time.monotonic() < deadline:
        time.sleep(0.2)
        lines = request_log(container)
    return lines


def booted_workers(container: DockerContainer) -> list[int]:
    """Pids of every worker gunicorn booted, in order (a restart adds one)."""
    lines = json_lines(container, stdout=False, stderr=True)
    prefix = "Booting worker with pid: "
    return [int(ln["message"][len(prefix) :]) for ln in lines if ln["message"].startswith(prefix)]


def wait_for_workers(container: DockerContainer, count: int, timeout: float = 15.0) -> list[int]:
    """The first ``count`` worker pids, once their boot lines reached the container's log
    (Docker collects logs asynchronously: /ready can answer before the lines are readable)."""
    deadline = time.monotonic() + timeout
    while len(booted := booted_workers(container)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(booted)} of {count} workers booted within {timeout} s")
        time.sleep(0.1)
    return booted
