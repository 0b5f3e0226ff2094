"""mlinfra.image against the real engine: tag reuse rules, build failures, progress."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlinfra import docker_engine
from mlinfra.bootstrap import base_image
from mlinfra.config import project_dir, state_dir
from mlinfra.errors import DockerError
from mlinfra.image import (
    LABEL_MODEL_SHA,
    BuiltImage,
    build_image,
    git_revision,
    image_tag,
)
from mlinfra.model import ModelArtifact, import_model

pytestmark = pytest.mark.integration


@pytest.fixture
def model(serving_model: ModelArtifact, serving_image: BuiltImage) -> ModelArtifact:
    # Built once already: every layer is cached, so these builds take seconds.
    return serving_model


@pytest.fixture
def repository(run_id: str) -> Iterator[str]:
    name = f"mlinfra-it-{run_id}/build"
    yield name
    client = docker_engine.client()
    for found in client.images.list(name=name):
        client.images.remove(found.id, force=True)


def test_a_tag_holding_other_content_is_refused_then_replaced_then_reused(
    model: ModelArtifact, repository: str
) -> None:
    revision = git_revision(project_dir())
    tag = image_tag(revision.sha, revision.dirty, model.sha256)
    client = docker_engine.client()
    # Any other image under the tag the build would use: here the bare base image.
    client.images.get(base_image(state_dir())).tag(repository, tag)

    with pytest.raises(DockerError, match="exists with other content") as caught:
        build_image(model, repository)
    assert "docker rmi" in (caught.value.hint or "")

    lines: list[str] = []
    replaced = build_image(model, repository, replace=True, progress=lines.append)
    assert not replaced.reused and replaced.tag == tag
    assert any(line.startswith("Step ") for line in lines)
    assert client.images.get(replaced.reference).labels[LABEL_MODEL_SHA] == model.sha256

    again = build_image(model, repository)
    assert again.reused and again.image_id == replaced.image_id


def test_a_failed_build_raises_with_the_engine_message(
    model: ModelArtifact, repository: str, run_id: str
) -> None:
    missing = f"mlinfra-it-{run_id}/no-such-base:0"
    with pytest.raises(DockerError, match=r"docker build of .* failed") as caught:
        build_image(model, repository, base=missing)
    # The engine's own last lines, and the base image the engine could not find.
    assert missing in caught.value.message
    assert "FROM ${BASE_IMAGE}" in caught.value.message


def test_one_model_file_imported_from_two_folders_reuses_one_image(
    model: ModelArtifact, repository: str, tmp_path: Path
) -> None:
    """As a second clone (or CI run) on the same engine does: same commit, same model file."""
    built: list[BuiltImage] = []
    for folder in ("first", "second"):
        source = tmp_path / folder / "model.txt"
        source.parent.mkdir()
        shutil.copyfile(model.dir / "model.txt", source)
        built.append(build_image(import_model(source, tmp_path / folder / "artifact"), repository))
    assert built[1].reused and built[1].image_id == built[0].image_id
