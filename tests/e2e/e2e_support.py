"""What the end-to-end tests share: a local environment of a test's own, driven through the
installed `mlinfra` console script in a state folder of its own (``MLINFRA_STATE_DIR``) with ports
of its own, so it never touches a user's local environment; and a stream of requests that counts
every outcome during a roll."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import lightgbm
import numpy as np
import pytest

from mlinfra import docker_engine
from mlinfra.config import runtime_name
from mlinfra.emulator import boto3_session
from mlinfra.emulator.testing import free_port
from tests.support.serving import GUIDE_FEATURES

ROOT = Path(__file__).resolve().parents[2]
MLINFRA = shutil.which("mlinfra", path=str(Path(sys.executable).parent)) or "mlinfra"


@dataclass
class LocalEnv:
    """One local environment of the test's own, driven through the CLI."""

    state_dir: Path
    env: dict[str, str]
    emulator_port: int
    outcome: dict[str, bool] = field(default_factory=dict)

    def mlinfra(
        self, *args: str, timeout: float = 900, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        result = subprocess.run(
            [MLINFRA, *args],
            env=self.env,
            cwd=ROOT,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        print(f"$ mlinfra {' '.join(args)}  ({time.monotonic() - started:.1f} s)")
        print(result.stdout[-4000:], result.stderr[-4000:], sep="\n")
        return result

    def ok(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        result = self.mlinfra(*args, stdin=stdin)
        assert result.returncode == 0, f"mlinfra {' '.join(args)} failed:\n{result.stderr}"
        return result

    def status(self) -> dict:
        return json.loads(self.ok("status", "--env", "local", "--json").stdout)

    def aws(self, service: str) -> Any:
        return boto3_session(f"http://127.0.0.1:{self.emulator_port}").client(service)

    def task_containers(self) -> list[str]:
        labels = [f"mlinfra.env={runtime_name('local', self.state_dir)}", "mlinfra.role=task"]
        found = docker_engine.client().containers.list(all=True, filters={"label": labels})
        return sorted(c.id for c in found)


@contextmanager
def local_environment(
    tmp_path_factory: pytest.TempPathFactory, timings: dict[str, float], **variables: str
) -> Iterator[LocalEnv]:
    """A local environment with its own state and ports (``variables`` join its environment);
    whatever a failed step left is destroyed and stopped at the end."""
    state_dir = tmp_path_factory.mktemp("mlinfra-state")
    emulator_port = free_port()
    env = {
        **os.environ,
        "MLINFRA_STATE_DIR": str(state_dir),
        "MLINFRA_EMULATOR_PORT": str(emulator_port),
        "MLINFRA_REGISTRY_PORT": str(free_port()),
        "MLINFRA_PROXY_PORT": str(free_port()),
        "COLUMNS": "200",
        **variables,
    }
    env.pop("AWS_ENDPOINT_URL", None)
    # The test's own Terraform CLI config and base image record, as the set-up makes them.
    for name in ("terraformrc", "base-image"):
        source = ROOT / ".mlinfra" / name
        if source.exists():
            shutil.copy(source, state_dir / name)
    local_env = LocalEnv(state_dir=state_dir, env=env, emulator_port=emulator_port)
    try:
        yield local_env
    finally:
        local_env.mlinfra("destroy", "--env", "local", "--yes")
        local_env.mlinfra("down", "--env", "local")
        print("e2e timings (s):", json.dumps({k: round(v, 1) for k, v in timings.items()}))


def in_order(request: pytest.FixtureRequest, local: LocalEnv) -> Iterator[None]:
    """The body of an autouse fixture: the steps share one deployment, so a failed step skips
    the rest."""
    failed = [name for name, passed in local.outcome.items() if not passed]
    if failed:
        pytest.skip(f"an earlier step failed: {failed[0]}")
    local.outcome[request.node.name] = False
    yield
    local.outcome[request.node.name] = True


PACE_S = 0.1


class RequestStream:
    """Threads posting the guide's request to ``url`` until stopped; counts every outcome.

    ``accepted`` answers count as served (a rotated key's old value may get 401 from a new
    task: answered, not lost); anything else, a 5xx or a broken connection, is a failure.
    """

    def __init__(
        self,
        url: str,
        threads: int = 2,
        headers: dict[str, str] | None = None,
        accepted: frozenset[int] = frozenset({200}),
        verify: str | bool = True,
    ) -> None:
        self.url = url
        self.verify = verify
        self.headers = headers or {}
        self.accepted = accepted
        self.statuses: dict[int, int] = {}
        self.stop = threading.Event()
        self.ok = 0
        self.failures: list[str] = []
        self.versions: set[str] = set()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        with httpx.Client(timeout=10, verify=self.verify) as client:
            while not self.stop.is_set():
                try:
                    answer = client.post(
                        f"{self.url}/predict",
                        json={"features": GUIDE_FEATURES},
                        headers=self.headers,
                    )
                    outcome = answer.status_code in self.accepted
                    version = (
                        answer.json().get("model_version") if answer.status_code == 200 else None
                    )
                    with self._lock:
                        self.statuses[answer.status_code] = (
                            self.statuses.get(answer.status_code, 0) + 1
                        )
                except httpx.HTTPError as err:
                    outcome, version = False, None
                    answer = err  # type: ignore[assignment]
                with self._lock:
                    if outcome:
                        self.ok += 1
                        self.versions.add(str(version))
                    else:
                        self.failures.append(repr(answer))
                # Paced: the stream watches for lost requests; flat out it took a core from the
                # workers beside it (CI runs three on two cores).
                time.sleep(PACE_S)

    def __enter__(self) -> RequestStream:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


def another_model(path: Path, seed: int = 7) -> Path:
    """A LightGBM model of the same four features with other predictions: a 'new model' (one
    per ``seed``, so a test can own the image tag its model makes)."""
    rng = np.random.default_rng(seed)
    rows = rng.uniform([1, 1, 600, 1900], [6, 4, 4000, 2020], size=(400, 4))
    prices = 40_000 + 90 * rows[:, 2] + 15_000 * rows[:, 1] + rng.normal(0, 5_000, 400)
    booster = lightgbm.train(
        {"objective": "regression", "verbose": -1, "num_threads": 1, "seed": seed},
        lightgbm.Dataset(rows, prices),
        num_boost_round=20,
    )
    booster.save_model(str(path))
    return path
