"""The main job from nothing: `mlinfra deploy --env local`, the guide's requests, a no-change
deploy, a model roll under a request stream with zero failures, and a clean destroy.

Everything runs through the installed `mlinfra` console script in a state folder of its own
(``MLINFRA_STATE_DIR``) with ports of its own, so it never touches a user's local environment.
The steps share one deployment (an apply costs about 100 s), so they run in order as one test
module; a failed step skips the rest.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker
import httpx
import lightgbm
import numpy as np
import pytest

from mlinfra.config import runtime_name
from mlinfra.emulator import boto3_session
from mlinfra.emulator.testing import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

ROOT = Path(__file__).resolve().parents[2]
MLINFRA = shutil.which("mlinfra", path=str(Path(sys.executable).parent)) or "mlinfra"
GUIDE_FEATURES = [3, 2, 1500, 2020]
TIMINGS: dict[str, float] = {}


@dataclass
class LocalEnv:
    """One local environment of the test's own, driven through the CLI."""

    state_dir: Path
    env: dict[str, str]
    emulator_port: int
    outcome: dict[str, bool] = field(default_factory=dict)

    def mlinfra(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        result = subprocess.run(
            [MLINFRA, *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        print(f"$ mlinfra {' '.join(args)}  ({time.monotonic() - started:.1f} s)")
        print(result.stdout[-4000:], result.stderr[-4000:], sep="\n")
        return result

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = self.mlinfra(*args)
        assert result.returncode == 0, f"mlinfra {' '.join(args)} failed:\n{result.stderr}"
        return result

    def status(self) -> dict:
        return json.loads(self.ok("status", "--env", "local", "--json").stdout)


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEnv]:
    state_dir = tmp_path_factory.mktemp("mlinfra-state")
    emulator_port = free_port()
    env = {
        **os.environ,
        "MLINFRA_STATE_DIR": str(state_dir),
        "MLINFRA_EMULATOR_PORT": str(emulator_port),
        "MLINFRA_REGISTRY_PORT": str(free_port()),
        "MLINFRA_PROXY_PORT": str(free_port()),
        "COLUMNS": "200",
    }
    env.pop("AWS_ENDPOINT_URL", None)
    # The test's own Terraform CLI config and base image record, as the set-up makes them.
    for name in ("terraformrc", "base-image"):
        source = ROOT / ".mlinfra" / name
        if source.exists():
            shutil.copy(source, state_dir / name)
    local_env = LocalEnv(state_dir=state_dir, env=env, emulator_port=emulator_port)
    yield local_env
    # Whatever a failed step left: tasks, proxy, emulated infrastructure, emulator, registry.
    local_env.mlinfra("destroy", "--env", "local", "--yes")
    local_env.mlinfra("down", "--env", "local")
    print("e2e timings (s):", json.dumps({k: round(v, 1) for k, v in TIMINGS.items()}))


@pytest.fixture(autouse=True)
def _in_order(request: pytest.FixtureRequest, local: LocalEnv) -> Iterator[None]:
    failed = [name for name, passed in local.outcome.items() if not passed]
    if failed:
        pytest.skip(f"an earlier step failed: {failed[0]}")
    local.outcome[request.node.name] = False
    yield
    local.outcome[request.node.name] = True


def _task_containers(local: LocalEnv) -> list[str]:
    labels = [f"mlinfra.env={runtime_name('local', local.state_dir)}", "mlinfra.role=task"]
    found = docker.from_env().containers.list(all=True, filters={"label": labels})
    return sorted(c.id for c in found)


def test_first_deploy_from_nothing_serves_the_guide_requests(local: LocalEnv) -> None:
    started = time.monotonic()
    result = local.ok("deploy", "--env", "local", "--yes")
    TIMINGS["first_deploy"] = time.monotonic() - started
    assert "curl" in result.stdout, "the report ends with the commands to try"

    status = local.status()
    assert status["healthy"] is True
    url = status["url"].rstrip("/")
    assert httpx.get(f"{url}/health", timeout=5).status_code == 200
    answer = httpx.post(f"{url}/predict", json={"features": GUIDE_FEATURES}, timeout=5)
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "success"
    assert isinstance(body["prediction"], float)
    assert 50_000 < body["prediction"] < 1_000_000, "a plausible house price"
    assert body["model_version"]


def test_the_other_commands_read_the_live_deployment(local: LocalEnv) -> None:
    outputs = json.loads(local.ok("outputs", "--env", "local", "--json").stdout)
    assert outputs["registry"]["repository_url"]
    for name in ("alb_dns_name", "service_url", "cluster_name", "service_name"):
        assert outputs["service"][name], name
    for name in ("target_group_arn", "log_group_name"):
        assert outputs["service"][name], name

    # A request the service logs, then found by `logs` with the request id it was given.
    url = local.status()["url"].rstrip("/")
    request_id = f"e2e-{time.monotonic_ns()}"
    httpx.get(f"{url}/health", headers={"X-Request-ID": request_id}, timeout=5)
    deadline = time.monotonic() + 20
    while True:
        events = json.loads(local.ok("logs", "--env", "local", "--since", "5m", "--json").stdout)
        if any(request_id in event["message"] for event in events) or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert any(request_id in event["message"] for event in events)

    checks = json.loads(local.ok("doctor", "--env", "local", "--json").stdout)
    assert checks and all(check["ok"] for check in checks), checks

    # Building and pushing again with nothing changed reuses the image and its digest.
    built = json.loads(local.ok("build", "--env", "local", "--json").stdout)
    assert built["reused"] is True
    pushed = json.loads(local.ok("push", "--env", "local", "--json").stdout)
    assert pushed["image"].endswith(built["image"].rpartition(":")[2])
    assert pushed["digest"].startswith("sha256:")


def test_second_deploy_builds_nothing_and_changes_nothing(local: LocalEnv) -> None:
    before = _task_containers(local)
    started = time.monotonic()
    local.ok("deploy", "--env", "local", "--yes")
    TIMINGS["no_change_deploy"] = time.monotonic() - started
    assert _task_containers(local) == before, "no task was replaced"
    plan = local.mlinfra("plan", "--env", "local", "--detailed-exitcode")
    assert plan.returncode == 0, "a plan after the deploy shows no changes"


def _another_model(path: Path) -> Path:
    """A LightGBM model of the same four features with other predictions: a 'new model'."""
    rng = np.random.default_rng(7)
    rows = rng.uniform([1, 1, 600, 1900], [6, 4, 4000, 2020], size=(400, 4))
    prices = 40_000 + 90 * rows[:, 2] + 15_000 * rows[:, 1] + rng.normal(0, 5_000, 400)
    booster = lightgbm.train(
        {"objective": "regression", "verbose": -1, "num_threads": 1, "seed": 7},
        lightgbm.Dataset(rows, prices),
        num_boost_round=20,
    )
    booster.save_model(str(path))
    return path


class RequestStream:
    """Threads posting the guide's request to ``url`` until stopped; counts every outcome."""

    def __init__(self, url: str, threads: int = 2) -> None:
        self.url = url
        self.stop = threading.Event()
        self.ok = 0
        self.failures: list[str] = []
        self.versions: set[str] = set()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self.stop.is_set():
                try:
                    answer = client.post(f"{self.url}/predict", json={"features": GUIDE_FEATURES})
                    outcome = answer.status_code == 200
                    version = answer.json().get("model_version") if outcome else None
                except httpx.HTTPError as err:
                    outcome, version = False, None
                    answer = err  # type: ignore[assignment]
                with self._lock:
                    if outcome:
                        self.ok += 1
                        self.versions.add(str(version))
                    else:
                        self.failures.append(repr(answer))
                time.sleep(0.02)

    def __enter__(self) -> RequestStream:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


def test_model_change_rolls_with_zero_failed_requests(local: LocalEnv, tmp_path: Path) -> None:
    status = local.status()
    url = status["url"].rstrip("/")
    old_version = httpx.get(f"{url}/metadata", timeout=5).json()["model_version"]
    model_file = _another_model(tmp_path / "model.txt")
    local.ok(
        "train",
        "--from-file",
        str(model_file),
        "--features",
        "bedrooms,bathrooms,sqft_living,year_built",
    )
    with RequestStream(url) as stream:
        started = time.monotonic()
        local.ok("deploy", "--env", "local", "--yes")
        TIMINGS["roll_deploy"] = time.monotonic() - started
        time.sleep(1)
    assert stream.failures == [], f"{len(stream.failures)} failed of {stream.ok}"
    assert stream.ok > 20
    new_version = httpx.get(f"{url}/metadata", timeout=5).json()["model_version"]
    assert new_version != old_version
    assert {old_version, new_version} >= stream.versions - {"None"}
    assert local.status()["healthy"] is True


def test_destroy_leaves_no_tasks_and_no_emulated_resources(local: LocalEnv) -> None:
    started = time.monotonic()
    local.ok("destroy", "--env", "local", "--yes")
    TIMINGS["destroy"] = time.monotonic() - started
    assert _task_containers(local) == []
    session = boto3_session(f"http://127.0.0.1:{local.emulator_port}")
    ecs = session.client("ecs")
    # As in AWS, a deleted cluster stays listed for a while, INACTIVE.
    arns = ecs.list_clusters()["clusterArns"]
    clusters = ecs.describe_clusters(clusters=arns)["clusters"] if arns else []
    assert [c["clusterName"] for c in clusters if c["status"] == "ACTIVE"] == []
    assert session.client("elbv2").describe_load_balancers()["LoadBalancers"] == []
    assert session.client("ecr").describe_repositories()["repositories"] == []
    assert session.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"] == []
    assert session.client("logs").describe_log_groups()["logGroups"] == []
    # The registry's data and the user's model stay.
    assert (local.state_dir / "model" / "model.txt").exists()
