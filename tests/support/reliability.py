"""Helpers of the reliability suite (and of bench/reliability): the serving container started
as ECS would start it, and gunicorn's JSON logs read back (load: :mod:`mlinfra.wrk`)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from testcontainers.core.container import DockerContainer

from mlinfra.image import BuiltImage
from tests.support.serving import base_url, serving_container, wait_ready

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
