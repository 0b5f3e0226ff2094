"""What the benchmarks share: the two images (the project's and the guide's) and containers on
random 127.0.0.1 ports (wrk runs: :mod:`mlinfra.wrk`, the one driver of `mlinfra bench`, the tests and the benchmarks).

Every image and container made here is named ``mlinfra-bench-<run id>...`` and removed by the
benchmark that made it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from docker.models.containers import Container

from mlinfra import docker_engine
from mlinfra.bootstrap import base_image
from mlinfra.config import state_dir
from mlinfra.image import wheel_cache
from mlinfra.model import ModelArtifact, ensure_model
from mlinfra.wrk import WrkResult, run_wrk

SEED_DIR = Path(__file__).resolve().parent / "seed"
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def run_id() -> str:
    return uuid.uuid4().hex[:6]


def bench_model() -> ModelArtifact:
    """The project's default model (trained once into .mlinfra/model when absent)."""
    return ensure_model()


def machine() -> dict[str, str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    cores = str(len(os.sched_getaffinity(0)))
    return {"cpu": cpu, "cores": cores, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def build_seed_image(model: ModelArtifact, reference: str) -> int:
    """Build the guide's image (bench/seed) with ``model`` on the project's base; its size."""
    client = docker_engine.client()
    wheels = wheel_cache(SEED_DIR / "requirements.txt", state_dir() / "cache" / "wheels", print)
    with tempfile.TemporaryDirectory(prefix="seed-", dir=state_dir() / "cache") as scratch:
        context = Path(scratch)
        for name in ("Dockerfile", "requirements.txt", "app.py"):
            shutil.copy2(SEED_DIR / name, context / name)
        shutil.copy2(model.dir / "model.txt", context / "model.txt")
        shutil.copytree(wheels, context / "wheels", ignore=shutil.ignore_patterns(".complete"))
        image = docker_engine.build(
            client,
            str(context),
            reference,
            buildargs={"BASE_IMAGE": base_image(state_dir())},
            what=f"the guide's image {reference}",
        )
    return int(image.attrs["Size"])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running(
    reference: str,
    name: str,
    *,
    seed: bool = False,
    command: list[str] | None = None,
    **env: str,
) -> Iterator[tuple[Container, str]]:
    """A container of ``reference`` on the host's network, listening on 127.0.0.1 only at a free
    port, removed on exit; its base URL. ``command`` replaces the project's image's (a gunicorn
    command: the port is passed to it in ``GUNICORN_CMD_ARGS``).

    NOTE: a published port would send every request through docker-proxy, a userland copy loop
    that took as much CPU as the services measured; ECS bridge mode uses iptables instead.
    """
    port = free_port()
    if seed:
        # The guide's command, bound to loopback.
        command = ["gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2", "app:app"]
    else:
        # gunicorn reads GUNICORN_CMD_ARGS over its config file.
        env = {"PORT": str(port), "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port}", **env}
    container = docker_engine.client().containers.run(
        reference,
        command=command,
        detach=True,
        name=name,
        environment=env,
        network_mode="host",
        tmpfs={"/tmp": "size=64m"},
    )
    try:
        yield container, f"http://127.0.0.1:{port}"
    finally:
        container.remove(force=True)


def cpu_microseconds(container: Container) -> float:
    """CPU time the container's processes used so far (its cgroup's counter)."""
    return container.stats(stream=False)["cpu_stats"]["cpu_usage"]["total_usage"] / 1e3


def take_turns(
    targets: dict[str, tuple[Container, str]],
    body: str,
    rounds: int,
    seconds: int,
    connections: int,
) -> tuple[dict[str, list[WrkResult]], dict[str, list[float]]]:
    """wrk on each target's ``/predict`` in turn, ``rounds`` times (after a 1 s warm-up each:
    first requests pay for imports and connection set-up): every run, and each run's CPU in
    microseconds of the target's container."""
    runs: dict[str, list[WrkResult]] = {name: [] for name in targets}
    cpu: dict[str, list[float]] = {name: [] for name in targets}
    for _ in range(rounds):
        for name, (container, url) in targets.items():
            run_wrk(f"{url}/predict", body, seconds=1, connections=connections)
            before = cpu_microseconds(container)
            runs[name].append(
                run_wrk(f"{url}/predict", body, seconds=seconds, connections=connections)
            )
            cpu[name].append(cpu_microseconds(container) - before)
    return runs, cpu


def wait_http(url: str, timeout: float = 30.0) -> float:
    """Seconds until ``url`` answers 200."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    raise TimeoutError(f"{url} did not answer 200 within {timeout} s")


def add_load_options(parser: argparse.ArgumentParser, *, rounds_help: str) -> None:
    """The load options every side-by-side benchmark takes: wrk's run length and connections,
    single row and batch, and how many times the servers take turns."""
    parser.add_argument("--seconds", type=int, default=10, help="per wrk run")
    parser.add_argument("--rounds", type=int, default=2, help=rounds_help)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--batch-seconds", type=int, default=5)
    # NOTE: 8, not 4: each worker takes the connections it accepts, and with 4 one worker got 3
    # or 4 of them in some runs (1.15M rows/s against 2.1M); 8 gave 2.0-2.1M in every run.
    parser.add_argument("--batch-connections", type=int, default=8)


def save_results(name: str, data: dict) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path
