"""The local runtime against a real emulator and real Docker: run, roll, refuse, stop."""

from __future__ import annotations

import threading
import time
from collections import Counter

import docker
import httpx
import pytest
from local_runtime_support import EmulatedService, free_port

from mlinfra.errors import DeployError
from mlinfra.local_runtime import RuntimeStatus, converge, status, stop_all

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def _converge(service: EmulatedService, proxy_port: int) -> RuntimeStatus:
    return converge(
        service.endpoint,
        env=service.env,
        cluster=service.cluster,
        service=service.service,
        proxy_port=proxy_port,
    )


def _version(url: str) -> str:
    return httpx.get(url, timeout=5).json()["version"]


class RequestStream:
    """Two threads sending GETs to ``url`` until stopped (at most ``limit_s``)."""

    def __init__(self, url: str, threads: int = 2, limit_s: float = 90.0) -> None:
        self.url, self.limit_s = url, limit_s
        self.outcomes: Counter[str] = Counter()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run) for _ in range(threads)]

    def _run(self) -> None:
        deadline = time.monotonic() + self.limit_s
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set() and time.monotonic() < deadline:
                try:
                    response = client.get(self.url)
                    outcome = (
                        response.json()["version"]
                        if response.status_code == 200
                        else str(response.status_code)
                    )
                except httpx.HTTPError as err:
                    outcome = type(err).__name__
                with self._lock:
                    self.outcomes[outcome] += 1

    def __enter__(self) -> RequestStream:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()


def test_converge_runs_the_task_definition_behind_the_proxy(
    emulated_service: EmulatedService, docker_client: docker.DockerClient
) -> None:
    port = free_port()
    first = _converge(emulated_service, port)

    assert first.url == f"http://127.0.0.1:{port}"
    assert [(t.task_definition, t.health) for t in first.tasks] == [
        (f"{emulated_service.family}:1", "healthy")
    ]
    assert first.healthy
    assert _version(first.url) == "v1"
    task = first.tasks[0]
    assert emulated_service.registered() == [(emulated_service.instance_id, task.host_port)]
    assert emulated_service.counts() == (1, 0)
    attrs = docker_client.containers.get(task.container).attrs
    assert "APP_SECRET=s3cr3t" in attrs["Config"]["Env"]
    host_config = attrs["HostConfig"]
    assert (host_config["Init"], host_config["Tmpfs"]) == (True, {"/tmp": "size=16m"})
    assert host_config["Memory"] == 128 * 1024 * 1024
    assert host_config["CpuShares"] == 128
    assert host_config["ReadonlyRootfs"] is True

    again = _converge(emulated_service, port)
    assert [t.container for t in again.tasks] == [task.container]


def test_roll_to_a_new_revision_drops_no_request(
    emulated_service: EmulatedService, app_images: dict[str, str]
) -> None:
    port = free_port()
    before = _converge(emulated_service, port)
    emulated_service.deploy(emulated_service.register_revision(app_images["v2"], APP_VERSION="v2"))

    started = time.monotonic()
    with RequestStream(before.url) as stream:
        after = _converge(emulated_service, port)
        time.sleep(0.5)  # requests after the old task stopped
    took = time.monotonic() - started

    assert set(stream.outcomes) == {"v1", "v2"}, stream.outcomes
    assert sum(stream.outcomes.values()) > 50
    assert [t.task_definition for t in after.tasks] == [f"{emulated_service.family}:2"]
    assert after.tasks[0].container != before.tasks[0].container
    assert emulated_service.registered() == [
        (emulated_service.instance_id, after.tasks[0].host_port)
    ]
    assert emulated_service.counts() == (1, 0)
    print(f"roll: {took:.1f} s, requests {dict(stream.outcomes)}")


def test_a_revision_that_never_becomes_healthy_leaves_the_old_task_serving(
    emulated_service: EmulatedService, app_images: dict[str, str]
) -> None:
    port = free_port()
    before = _converge(emulated_service, port)
    broken = emulated_service.register_revision(app_images["v1"], APP_VERSION="v3", APP_HEALTHY="0")
    emulated_service.deploy(broken)

    with pytest.raises(DeployError, match=f"{broken}.*did not become healthy"):
        _converge(emulated_service, port)

    after = status(emulated_service.env)
    assert [t.container for t in after.tasks] == [before.tasks[0].container]
    assert after.healthy
    assert _version(before.url) == "v1"
    assert emulated_service.registered() == [
        (emulated_service.instance_id, before.tasks[0].host_port)
    ]


def test_stop_all_leaves_no_container(
    emulated_service: EmulatedService, docker_client: docker.DockerClient
) -> None:
    emulated_service.deploy(f"{emulated_service.family}:1", desired_count=2)
    running = _converge(emulated_service, free_port())
    assert running.running == 2

    removed = stop_all(emulated_service.env)

    assert removed == 3  # two tasks and the proxy
    left = docker_client.containers.list(
        all=True, filters={"label": f"mlinfra.env={emulated_service.env}"}
    )
    assert left == []
    assert status(emulated_service.env).tasks == ()
