"""The serving image, built once per test session by ``mlinfra.image``, and containers run
from it the way ECS runs them (tests/integration/serving, tests/reliability, bench/reliability).

The session fixtures (``run_id``, ``serving_model``, ``serving_image``) are imported by the
conftest.py of each suite that needs them, so every suite builds the image the same way.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from testcontainers.core.container import DockerContainer

from mlinfra import docker_engine
from mlinfra.image import BuiltImage, build_image
from mlinfra.model import ModelArtifact, ensure_model

CONTAINER_PORT = 8080
# The guide's example request: bedrooms, bathrooms, square feet, year built.
GUIDE_FEATURES = [3, 2, 1500, 2020]
GUIDE_BODY = {"features": GUIDE_FEATURES}


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def serving_model(tmp_path_factory: pytest.TempPathFactory) -> ModelArtifact:
    return ensure_model(tmp_path_factory.mktemp("model") / "model")


@pytest.fixture(scope="session")
def serving_image(serving_model: ModelArtifact, run_id: str) -> Iterator[BuiltImage]:
    # A repository of this session's own: parallel runs of teammates never share a tag.
    built = build_image(serving_model, f"mlinfra-it-{run_id}/serving")
    yield built
    docker_engine.client().images.remove(built.reference, noprune=False)


# What the task definition sets (linuxParameters.capabilities.drop, dockerSecurityOptions).
HARDENED = {"cap_drop": ["ALL"], "security_opt": ["no-new-privileges"]}


def serving_container(
    image: BuiltImage, name: str, *, hardened: bool = False, **env: str
) -> DockerContainer:
    """A container as ECS runs it: read-only root, tmpfs /tmp, port on a random 127.0.0.1 port;
    ``hardened``: also every capability dropped and no-new-privileges."""
    container = DockerContainer(image.reference, name=name, env=env or None)
    container.with_tmpfs_mount("/tmp", "size=64m")
    container.with_kwargs(read_only=True, **(HARDENED if hardened else {}))
    # NOTE: testcontainers binds 0.0.0.0; keep the service on loopback only.
    container.ports[f"{CONTAINER_PORT}/tcp"] = ("127.0.0.1", None)
    return container


def base_url(container: DockerContainer) -> str:
    return f"http://127.0.0.1:{container.get_exposed_port(CONTAINER_PORT)}"


def wait_ready(url: str, timeout: float = 30.0) -> float:
    """Seconds until GET /ready answers 200."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if httpx.get(f"{url}/ready", timeout=1.0).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url}/ready did not answer 200 within {timeout} s")


@contextmanager
def serving(container: DockerContainer) -> Iterator[tuple[DockerContainer, str]]:
    """Start ``container``, wait until /ready answers, stop it afterwards."""
    container.start()
    try:
        url = base_url(container)
        wait_ready(url)
        yield container, url
    finally:
        container.stop()
