"""docker_engine.exec_output against the real engine: a container that is not running answers
None, not the SDK's 409 (a restart policy can restart a container between a status read and
an exec, which is how the local proxy's start once failed on a taken port)."""

from __future__ import annotations

import secrets

import docker
import pytest

from mlinfra import docker_engine
from mlinfra.proxy._image import ensure_proxy_image

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_an_exec_into_a_container_that_is_not_running_answers_none(
    docker_client: docker.DockerClient,
) -> None:
    container = docker_client.containers.create(
        ensure_proxy_image(docker_client), ["sleep", "60"], name=f"lrt{secrets.token_hex(3)}"
    )
    try:
        assert docker_engine.exec_output(container, ["true"]) is None
        container.start()
        assert docker_engine.exec_output(container, ["sh", "-c", "echo up; exit 3"]) == (3, "up\n")
    finally:
        container.remove(force=True)
