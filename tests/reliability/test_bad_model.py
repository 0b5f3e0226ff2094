"""A missing or corrupt model: the container stops at start with one clear log line, /ready
never answers 200, and Docker's health check (what ECS reads) says unhealthy."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from testcontainers.core.container import DockerContainer

from mlinfra.image import BuiltImage
from mlinfra.model import ModelArtifact
from tests.support.serving import CONTAINER_PORT, serving_container

pytestmark = pytest.mark.integration

MOUNT = "/opt/mlinfra/bad-model"
# A guard against a container that keeps running, not a speed target (those live in bench/).
EXITS_WITHIN_S = 60.0


def _truncated(model: Path) -> None:
    text = (model / "model.txt").read_bytes()
    (model / "model.txt").write_bytes(text[: len(text) // 2])


def _not_a_model(model: Path) -> None:
    """Garbage whose sha256 the metadata agrees with: only LightGBM itself can refuse it."""
    garbage = b"tree\nversion=v4\nnum_leaves=not-a-number\n"
    (model / "model.txt").write_bytes(garbage)
    metadata = json.loads((model / "metadata.json").read_text())
    metadata["sha256"] = hashlib.sha256(garbage).hexdigest()
    (model / "metadata.json").write_text(json.dumps(metadata))


def _metadata_not_json(model: Path) -> None:
    (model / "metadata.json").write_text('{"model_version": ')


def _missing(model: Path) -> None:
    for path in model.iterdir():
        path.unlink()


BREAKAGES: dict[str, tuple[Callable[[Path], None], str]] = {
    "missing": (_missing, "model.txt does not exist"),
    "truncated": (_truncated, "has sha256"),
    "not-a-model": (_not_a_model, "is not a LightGBM model"),
    "metadata-not-json": (_metadata_not_json, "is not valid JSON"),
}


@pytest.fixture
def containers() -> Iterator[list[DockerContainer]]:
    started: list[DockerContainer] = []
    yield started
    for container in started:
        container.stop()


def _watch_until_exit(container: DockerContainer) -> tuple[dict[str, Any], float, list[int]]:
    """The final State, seconds from start to exit, and every /ready status seen meanwhile."""
    wrapped = container.get_wrapped_container()
    began = time.monotonic()
    seen: list[int] = []
    while time.monotonic() - began < EXITS_WITHIN_S:
        wrapped.reload()
        if wrapped.status == "exited":
            return wrapped.attrs["State"], time.monotonic() - began, seen
        bound = (wrapped.attrs["NetworkSettings"]["Ports"] or {}).get(f"{CONTAINER_PORT}/tcp")
        if bound:
            try:
                port = bound[0]["HostPort"]
                seen.append(httpx.get(f"http://127.0.0.1:{port}/ready", timeout=0.5).status_code)
            except httpx.TransportError:
                pass
        time.sleep(0.1)
    pytest.fail(f"the container still runs after {EXITS_WITHIN_S} s; /ready said {seen}")


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_a_bad_model_fails_fast_with_one_clear_line_and_never_turns_ready(
    breakage: str,
    serving_image: BuiltImage,
    serving_model: ModelArtifact,
    run_id: str,
    tmp_path: Path,
    containers: list[DockerContainer],
) -> None:
    model = tmp_path / "model"
    shutil.copytree(serving_model.dir, model)
    model.chmod(0o755)  # the service's uid 10001 reads it through the bind mount
    damage, says = BREAKAGES[breakage]
    damage(model)

    container = serving_container(
        serving_image, f"mlinfra-rel-{run_id}-bad-{breakage}", MODEL_DIR=MOUNT
    )
    container.with_volume_mapping(str(model), MOUNT, "ro")
    containers.append(container)
    container.start()
    state, seconds, ready_statuses = _watch_until_exit(container)

    stdout = container.get_wrapped_container().logs(stdout=True, stderr=False).decode()
    stderr = container.get_wrapped_container().logs(stdout=False, stderr=True).decode()
    lines = [json.loads(ln) for ln in stdout.splitlines()]
    critical = [ln for ln in lines if ln["level"] == "critical"]
    print(f"\n{breakage}: exit {state['ExitCode']} after {seconds:.1f} s: {critical}")

    assert state["ExitCode"] != 0 and not state["OOMKilled"]
    assert len(critical) == 1 and says in critical[0]["error"]
    assert MOUNT in critical[0]["error"]
    assert "Traceback" not in stdout + stderr
    assert 200 not in ready_statuses
    assert state["Health"]["Status"] == "unhealthy"
