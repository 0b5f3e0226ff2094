"""Shared fixtures of the reliability suite.

The image comes from the session fixtures of tests/integration/serving (``run_id``,
``serving_model``, ``serving_image``), loaded from that conftest rather than copied, so the
image is made the same way, by ``mlinfra.image.build_image`` (a warm layer cache makes a
second build in one run a re-tag of cached layers).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from testcontainers.core.container import DockerContainer

from mlinfra.image import BuiltImage

SERVING_TESTS = Path(__file__).parents[1] / "integration" / "serving"
# The serving conftest imports serving_support, which lives beside it.
sys.path.insert(0, str(SERVING_TESTS))


def _load_serving_fixtures() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "serving_integration_fixtures", SERVING_TESTS / "conftest.py"
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the serving fixtures from {SERVING_TESTS}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_serving = _load_serving_fixtures()
run_id = _serving.run_id
serving_model = _serving.serving_model
serving_image = _serving.serving_image

from reliability_support import ServiceFactory, start_service  # noqa: E402


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
