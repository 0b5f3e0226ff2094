"""The local registry for real: Debian's docker-registry with htpasswd auth, pushed to by Docker."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from mlinfra import docker_engine
from mlinfra.errors import RegistryError
from mlinfra.registry import (
    LayerProgress,
    LocalRegistry,
    add_release_tag,
    local_release_tags,
    next_release,
    push,
)

from .conftest import PREFIX, import_tiny_image

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    local = LocalRegistry(tmp_path_factory.mktemp("registry"), port=_free_port())
    assert local.start() is True
    yield local
    local.stop()


def test_a_running_registry_is_reused_and_requires_auth(registry: LocalRegistry) -> None:
    assert registry.answers()
    assert registry.start() is False
    assert (registry.root / "htpasswd").read_text().startswith("mlinfra:$2y$")


def test_push_reports_layers_and_confirms_the_digest(
    registry: LocalRegistry, tiny_image: str
) -> None:
    events: list[LayerProgress] = []
    repository = f"{registry.address}/{PREFIX}"
    result = push(tiny_image, repository, "v1", registry.credentials(), events.append)

    assert result.image == f"{repository}:v1"
    assert result.digest.startswith("sha256:")
    assert any(event.status == "Pushed" for event in events)
    served = docker_engine.client().images.get_registry_data(
        f"{repository}:v1", auth_config=registry.credentials().auth_config()
    )
    assert served.id == result.digest


def test_a_wrong_password_fails_in_one_line(registry: LocalRegistry, tiny_image: str) -> None:
    wrong = replace(registry.credentials(), password="not-the-password")
    with pytest.raises(RegistryError) as caught:
        push(tiny_image, f"{registry.address}/{PREFIX}", "v2", wrong)
    assert "\n" not in caught.value.message
    assert "refused the login of user 'mlinfra'" in caught.value.message
    assert registry.address in caught.value.message


def test_stop_ends_the_registry(tmp_path: Path) -> None:
    local = LocalRegistry(tmp_path / "registry", port=_free_port())
    local.start()
    assert local.stop() is True
    assert not local.answers()
    assert local.stop() is False


def test_every_pushed_image_gets_the_next_release_tag(
    registry: LocalRegistry, tiny_image: str
) -> None:
    client = docker_engine.client()
    credentials = registry.credentials()
    name = f"{PREFIX}-releases-{uuid.uuid4().hex[:6]}"
    repository = f"{registry.address}/{name}"
    assert local_release_tags(registry.address, name, credentials) == {}  # nothing pushed yet

    first = push(tiny_image, repository, "a1", credentials)
    first = add_release_tag(
        first, credentials, local_release_tags(registry.address, name, credentials)
    )
    assert first.release == "release-1"

    # The same image pushed again (another deploy of it) keeps its number.
    again = push(tiny_image, repository, "a1", credentials)
    again = add_release_tag(
        again, credentials, local_release_tags(registry.address, name, credentials)
    )
    assert again.release == "release-1"

    other = f"{PREFIX}-{uuid.uuid4().hex[:8]}:src"
    import_tiny_image(client, other)
    second = push(other, repository, "b2", credentials)
    tags = local_release_tags(registry.address, name, credentials)
    assert tags == {"release-1": first.digest}
    second = add_release_tag(second, credentials, tags)
    assert second.release == "release-2"

    # The registry itself serves both numbers, each on its own image.
    listed = local_release_tags(registry.address, name, credentials)
    assert listed == {"release-1": first.digest, "release-2": second.digest}
    served = client.images.get_registry_data(
        f"{repository}:release-2", auth_config=credentials.auth_config()
    )
    assert served.id == second.digest
    # A gap or a foreign tag does not confuse the count.
    assert next_release({"release-2": "x", "release-10": "y", "release-x": "z", "v1": "w"}) == 11
