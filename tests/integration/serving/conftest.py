"""The serving image, built once per session by mlinfra.image, and containers started from it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import docker
import pytest
from serving_support import serving, serving_container
from testcontainers.core.container import DockerContainer

from mlinfra.image import BuiltImage, build_image
from mlinfra.model import ModelArtifact, ensure_model


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def serving_model(tmp_path_factory: pytest.TempPathFactory) -> ModelArtifact:
    return ensure_model(tmp_path_factory.mktemp("model") / "model")


@pytest.fixture(scope="session")
def serving_image(serving_model: ModelArtifact, run_id: str) -> Iterator[BuiltImage]:
    model = serving_model
    # A repository of this session's own: parallel runs of teammates never share a tag.
    built = build_image(model, f"mlinfra-it-{run_id}/serving")
    yield built
    docker.from_env().images.remove(built.reference, noprune=False)


@pytest.fixture(scope="module")
def service(serving_image: BuiltImage, run_id: str) -> Iterator[tuple[DockerContainer, str]]:
    container = serving_container(
        serving_image, f"mlinfra-it-{run_id}-service", GUNICORN_WORKERS="2"
    )
    with serving(container) as running:
        yield running


@pytest.fixture
def url(service: tuple[DockerContainer, str]) -> str:
    return service[1]


@pytest.fixture
def container(service: tuple[DockerContainer, str]) -> DockerContainer:
    return service[0]
