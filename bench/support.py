"""What the benchmarks share: the two images (the project's and the guide's), containers on
random 127.0.0.1 ports, and wrk runs read back as numbers.

Every image and container made here is named ``mlinfra-bench-<run id>...`` and removed by the
benchmark that made it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker
import httpx
from docker.models.containers import Container

from mlinfra.config import state_dir
from mlinfra.errors import DockerError
from mlinfra.image import base_image, wheel_cache
from mlinfra.model import ModelArtifact, ensure_model

SEED_DIR = Path(__file__).resolve().parent / "seed"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
WRK = "/usr/bin/wrk"
# wrk prints one JSON line from this Lua hook after its run: the latency distribution in us.
WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("WRK_BODY")
done = function(summary, latency, requests)
  local pct = {}
  for _, p in ipairs({1, 5, 10, 25, 50, 75, 90, 95, 99, 99.9}) do
    pct[#pct + 1] = string.format('"%s": %d', p, latency:percentile(p))
  end
  io.write(string.format(
    'WRK_JSON {"requests": %d, "seconds": %f, "errors": %d, "non2xx": %d, "percentiles": {%s}}\\n',
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, table.concat(pct, ", ")))
end
"""


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
    client = docker.from_env()
    wheels = wheel_cache(SEED_DIR / "requirements.txt", state_dir() / "cache" / "wheels", print)
    with tempfile.TemporaryDirectory(prefix="seed-", dir=state_dir() / "cache") as scratch:
        context = Path(scratch)
        for name in ("Dockerfile", "requirements.txt", "app.py"):
            shutil.copy2(SEED_DIR / name, context / name)
        shutil.copy2(model.dir / "model.txt", context / "model.txt")
        shutil.copytree(wheels, context / "wheels", ignore=shutil.ignore_patterns(".complete"))
        try:
            client.images.build(
                path=str(context),
                tag=reference,
                buildargs={"BASE_IMAGE": base_image(state_dir())},
                rm=True,
                forcerm=True,
            )
        except docker.errors.BuildError as err:
            raise DockerError(f"the guide's image {reference} did not build: {err}") from err
    return int(client.images.get(reference).attrs["Size"])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running(
    reference: str, name: str, *, seed: bool = False, **env: str
) -> Iterator[tuple[Container, str]]:
    """A container of ``reference`` on the host's network, listening on 127.0.0.1 only at a free
    port, removed on exit; its base URL.

    NOTE: a published port would send every request through docker-proxy, a userland copy loop
    that took as much CPU as the services measured; ECS bridge mode uses iptables instead.
    """
    port = free_port()
    if seed:
        # The guide's command, bound to loopback.
        command = ["gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2", "app:app"]
    else:
        command = None
        # gunicorn reads GUNICORN_CMD_ARGS over its config file.
        env = {"PORT": str(port), "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port}", **env}
    container = docker.from_env().containers.run(
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


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    errors: int
    non2xx: int
    percentiles_us: dict[str, int]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def latency_ms(self, percentile: str) -> float:
        return self.percentiles_us[percentile] / 1000


def wrk(url: str, body: str, *, seconds: int, connections: int, threads: int = 2) -> WrkResult:
    """One bounded wrk run of ``POST url`` with ``body``; its JSON summary."""
    if not Path(WRK).exists():
        raise SystemExit(f"{WRK} is missing: run `./bin/task setup:test-tools` (Debian's wrk).")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    try:
        result = subprocess.run(
            [WRK, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
             "-s", script.name, url],
            capture_output=True, text=True, check=False, timeout=seconds + 30,
            env={"WRK_BODY": body, "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
    finally:
        Path(script.name).unlink()
    for line in result.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            raw = json.loads(line.removeprefix("WRK_JSON "))
            return WrkResult(
                raw["requests"], raw["seconds"], raw["errors"], raw["non2xx"], raw["percentiles"]
            )
    raise RuntimeError(f"wrk gave no summary (exit {result.returncode}): {result.stderr[-500:]}")


def save_results(name: str, data: dict) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path
