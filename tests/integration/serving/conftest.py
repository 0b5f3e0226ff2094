"""The serving image, built once per session by mlinfra.image (the session fixtures of
tests.support.serving, shared with tests/reliability), and a service container per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from testcontainers.core.container import DockerContainer

from mlinfra.image import BuiltImage
from tests.support import serving
from tests.support.serving import serving_container

run_id = serving.run_id
serving_model = serving.serving_model
serving_image = serving.serving_image


@pytest.fixture(scope="module")
def service(serving_image: BuiltImage, run_id: str) -> Iterator[tuple[DockerContainer, str]]:
    container = serving_container(
        serving_image, f"mlinfra-it-{run_id}-service", GUNICORN_WORKERS="2"
    )
    with serving.serving(container) as running:
        yield running


@pytest.fixture
def url(service: tuple[DockerContainer, str]) -> str:
    return service[1]


@pytest.fixture
def container(service: tuple[DockerContainer, str]) -> DockerContainer:
    return service[0]
