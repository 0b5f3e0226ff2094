"""Shared fixtures of the reliability suite.

The image comes from the session fixtures of tests.support.serving (``run_id``,
``serving_model``, ``serving_image``), the ones tests/integration/serving uses, so the image is
made the same way, by ``mlinfra.image.build_image`` (a warm layer cache makes a second build in
one run a re-tag of cached layers).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from testcontainers.core.container import DockerContainer

from mlinfra.image import BuiltImage
from tests.support import serving
from tests.support.reliability import ServiceFactory, start_service

run_id = serving.run_id
serving_model = serving.serving_model
serving_image = serving.serving_image


@pytest.fixture
def start(serving_image: BuiltImage, run_id: str) -> Iterator[ServiceFactory]:
    """``start(name, mem_limit=None, volumes=None, **env) -> (container, url)`` once ready;
    every container it started is removed when the test ends."""
    started: list[DockerContainer] = []

    def factory(name: str, **options: object) -> tuple[DockerContainer, str]:
        return start_service(serving_image, f"mlinfra-rel-{run_id}-{name}", started, **options)

    yield factory
    for container in started:
        container.stop()
