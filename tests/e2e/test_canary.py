"""The canary end to end on a local environment of the test's own: a canary at 25% answers a
quarter of a client's requests and its promotion loses none; a canary that answers 5xx to one
request in five is aborted by its gate within the bake, exit 1 naming the gate, and the stable
share of the stream loses nothing. Both recorded in the ledger.

The steps share one deployment, in order (a failed step skips the rest). Each canary serves a
model of this test's own (its image tags are this module's alone: the engine is shared with the
other e2e modules). It prints the canary's extra time (start, bake, end).
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_support import PACE_S, LocalEnv, in_order, local_environment

from mlinfra import docker_engine
from mlinfra.config import runtime_name
from mlinfra.training import TrainingSettings, train
from tests.support.serving import GUIDE_FEATURES

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2400)]

TIMINGS: dict[str, float] = {}
SEEN: dict[str, Any] = {}

# A test image's fault switch: every fifth prediction answers 500 inside the app, so the
# service's own signals count it (a wrapper outside the app would hide it from CloudWatch).
FAULTY = """\
import itertools

import falcon

from mlinfra_serving.asgi import application

_count = itertools.count(1)


class EveryFifthFails:
    async def process_resource(self, req, resp, resource, params):
        if req.path.endswith("/predict") and next(_count) % 5 == 0:
            raise falcon.HTTPInternalServerError(title="fault injected")


application.add_middleware(EveryFifthFails())
"""


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEnv]:
    with local_environment(tmp_path_factory, TIMINGS) as made:
        yield made


@pytest.fixture(autouse=True)
def _in_order(request: pytest.FixtureRequest, local: LocalEnv) -> Iterator[None]:
    yield from in_order(request, local)


def _new_model(local: LocalEnv, seed: int) -> None:
    """The house-price model trained again on another split (its own version, with the training
    reference the signals need: an imported model file has none) into the environment's model
    folder, as `mlinfra train` writes it."""
    train(local.state_dir / "model", TrainingSettings(seed=seed, num_boost_round=60))


def _versions_of(url: str, n: int) -> Counter[str]:
    with httpx.Client(timeout=10) as client:
        return Counter(
            client.post(f"{url}/predict", json={"features": GUIDE_FEATURES}).json()["model_version"]
            for _ in range(n)
        )


def _releases(local: LocalEnv) -> dict[str, Any]:
    listed: dict[str, Any] = json.loads(local.ok("releases", "--env", "local", "--json").stdout)
    return listed


def _services(local: LocalEnv) -> set[str]:
    """The ECS services whose tasks run (their containers' labels)."""
    labels = [f"mlinfra.env={runtime_name('local', local.state_dir)}", "mlinfra.role=task"]
    running = docker_engine.client().containers.list(filters={"label": labels})
    return {c.labels.get("mlinfra.service", "") for c in running}


class Stream:
    """Posts the guide's request until stopped; keeps every answer's status and body."""

    def __init__(self, url: str, threads: int = 3) -> None:
        self.url = url
        self.answers: list[tuple[int, str]] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self.stop.is_set():
                try:
                    answer = client.post(f"{self.url}/predict", json={"features": GUIDE_FEATURES})
                    got = (answer.status_code, answer.text)
                except httpx.HTTPError as err:
                    got = (0, repr(err))
                with self._lock:
                    self.answers.append(got)
                # Paced: the stream watches for lost requests; flat out it took a core from the
                # workers beside it (CI runs three on two cores).
                time.sleep(PACE_S)

    def __enter__(self) -> Stream:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


def test_a_stable_release_serves(local: LocalEnv) -> None:
    local.ok("deploy", "--env", "local", "--yes")
    url = local.status()["url"].rstrip("/")
    SEEN["url"] = url
    SEEN["stable"] = httpx.get(f"{url}/metadata", timeout=5).json()["model_version"]


def test_a_canary_at_25_percent_answers_a_quarter_and_its_promotion_loses_nothing(
    local: LocalEnv, tmp_path: Path
) -> None:
    url = SEEN["url"]
    _new_model(local, seed=2207)
    started = time.monotonic()
    result = local.ok("deploy", "--env", "local", "--canary", "25", "--bake", "0", "--json")
    TIMINGS["canary_start_command"] = time.monotonic() - started
    outcome = json.loads(result.stdout)
    assert outcome["outcome"] == "baking"
    new = outcome["canary"]["release"]["model_version"]
    assert new != SEEN["stable"] and outcome["canary"]["weight"] == 25

    answers = _versions_of(url, 2000)

    assert set(answers) == {new, SEEN["stable"]}
    assert 0.20 <= answers[new] / 2000 <= 0.30, answers  # 25% +- 5%
    shown = json.loads(local.ok("canary", "status", "--env", "local", "--json").stdout)
    assert shown["canary"]["weight"] == 25 and shown["judgement"]["canary_version"] == new

    with Stream(url) as stream:
        started = time.monotonic()
        local.ok("canary", "promote", "--env", "local", "--yes")
        TIMINGS["canary_promote_command"] = time.monotonic() - started
        time.sleep(1)
    failed = [a for a in stream.answers if a[0] != 200]
    assert failed == [], f"{len(failed)} of {len(stream.answers)} failed: {failed[:3]}"
    assert _versions_of(url, 50) == Counter({new: 50})
    status = local.status()
    assert status["healthy"] is True
    assert _services(local) == {"mlinfra-local"}, "one service's tasks only"
    newest = _releases(local)["releases"][0]
    assert (newest["kind"], newest["verdict"], newest["model_version"]) == (
        "canary",
        "succeeded",
        new,
    )
    assert status["release"] == newest["number"]
    SEEN["stable"] = new


def test_a_canary_answering_5xx_is_aborted_by_its_gate_and_the_stable_share_loses_nothing(
    local: LocalEnv, tmp_path: Path
) -> None:
    """Its image: the built one with the fault switch added (labels inherited, so the deploy
    reuses it as built)."""
    url = SEEN["url"]
    _new_model(local, seed=2208)
    local.ok("build", "--env", "local")
    reference = json.loads((local.state_dir / "local" / "last-build.json").read_text())["reference"]
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as archive:
        files = {
            "faulty.py": FAULTY.encode(),
            "Dockerfile": (
                f"FROM {reference}\nCOPY faulty.py /opt/mlinfra/faulty.py\n"
                'CMD ["gunicorn", "--config", "/opt/mlinfra/gunicorn.conf.py", "faulty:application"]\n'
            ).encode(),
        }
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    context.seek(0)
    docker_engine.client().images.build(fileobj=context, custom_context=True, tag=reference)

    with Stream(url) as stream:
        started = time.monotonic()
        result = local.mlinfra("deploy", "--env", "local", "--canary", "25", "--bake", "5m")
        took = time.monotonic() - started
    TIMINGS["faulty_canary_command"] = took

    assert result.returncode == 1, result.stdout + result.stderr
    assert "gate 5xx failed" in result.stderr, result.stderr
    # The bake's own clock, not the wall's: the verdict came before the bake ran out.
    decided = re.search(r"bake (\d+)/300 s: .*gate 5xx failed", result.stderr)
    assert decided and int(decided.group(1)) < 300, result.stderr
    served = Counter(status for status, _ in stream.answers)
    lost = [a for a in stream.answers if a[0] != 200 and "fault injected" not in a[1]]
    assert lost == [], f"the stable share lost {len(lost)}: {lost[:3]}"
    assert served[500] > 0, "the canary answered some requests"
    assert _versions_of(url, 50) == Counter({SEEN["stable"]: 50})
    newest = _releases(local)["releases"][0]
    assert (newest["kind"], newest["verdict"]) == ("canary", "rolled_back")
    assert "5xx" in newest["detail"]
    assert _services(local) == {"mlinfra-local"}, "the canary's tasks are gone"


def test_monitor_shows_each_model_version_and_draws_them(local: LocalEnv, tmp_path: Path) -> None:
    """The three versions this module served (the first stable, the promoted canary, the
    aborted one with its 5xx), read back from the emulated CloudWatch."""
    plot = tmp_path / "monitor.png"
    result = local.ok("monitor", "--env", "local", "--since", "1h", "--plot", str(plot), "--json")
    versions = {v["model_version"]: v for v in json.loads(result.stdout)["versions"]}
    assert SEEN["stable"] in versions and len(versions) == 3, sorted(versions)
    faulty = [v for v in versions.values() if v["status_5xx"]]
    assert len(faulty) == 1 and 15 <= faulty[0]["status_5xx_percent"] <= 25
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"monitor plot: {plot}")
