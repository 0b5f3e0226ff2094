"""`mlinfra prune` on the real Docker engine: which of an environment's images go, which stay.

The environment is a copy of the stand-in project's `dev` under a name of this run's own, so its
repository (`mlinfra-<name>`) holds only the images made here, never a user's or another test's.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docker.errors import ImageNotFound
from typer.testing import CliRunner

from mlinfra import config, docker_engine, tfvars
from mlinfra.cli import app

from .conftest import STACKS, import_tiny_image

pytestmark = pytest.mark.integration
runner = CliRunner()


@pytest.fixture()
def images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Five images of one environment, oldest first, and what each is for."""
    run = uuid.uuid4().hex[:8]
    name = f"prune-{run}"
    root = tmp_path / "project"
    shutil.copytree(STACKS / "project", root)
    shutil.copytree(root / "environments" / "dev", root / "environments" / name)
    monkeypatch.setenv(config.PROJECT_DIR_ENV, str(root))
    monkeypatch.setenv(config.STATE_DIR_ENV, str(tmp_path / "state"))
    config.project_dir.cache_clear()

    client = docker_engine.client()
    repository = f"mlinfra-{name}"
    ids = {
        tag: import_tiny_image(client, f"{repository}:{tag}")
        for tag in ("v1", "v2", "v3", "v4", "v5")
    }
    # v1: a stopped container was made from it (ECS's agent leaves such containers too).
    container = client.containers.create(
        f"{repository}:v1", command="/none", name=f"mlinfra-{name}"
    )
    # v2: the environment's last build.
    tfvars.write_atomic_json(
        tmp_path / "state" / name / "last-build.json",
        {"reference": f"{repository}:v2", "tag": "v2", "image_id": ids["v2"]},
    )
    # v3: also in a repository that is not the environment's; v4: also pushed to a registry.
    client.images.get(f"{repository}:v3").tag(f"other-{run}", "kept")
    client.images.get(f"{repository}:v4").tag(f"127.0.0.1:5999/{repository}", "v4")
    try:
        yield {"env": name, "repository": repository, "ids": ids, "other": f"other-{run}:kept"}
    finally:
        container.remove(force=True)
        for image in client.images.list():
            for reference in image.tags:
                if run in reference:
                    client.images.remove(reference, force=True)
        config.project_dir.cache_clear()


def _tags_left(repository: str) -> set[str]:
    client = docker_engine.client()
    return {
        reference.rsplit(":", 1)[-1]
        for image in client.images.list()
        for reference in image.tags
        if reference.rsplit(":", 1)[0].endswith(repository)
    }


def test_prune_keeps_the_newest_the_last_build_and_images_in_use(images: dict[str, Any]) -> None:
    env, repository = images["env"], images["repository"]

    planned = runner.invoke(app, ["prune", "--env", env, "--keep", "1", "--dry-run", "--json"])
    assert planned.exit_code == 0, planned.output
    plan = json.loads(planned.stdout)
    assert [i["image_id"] for i in plan["remove"]] == [images["ids"]["v4"], images["ids"]["v3"]]
    assert [i["image_id"] for i in plan["keep"]] == [images["ids"]["v5"], images["ids"]["v2"]]
    assert [i["image_id"] for i in plan["in_use"]] == [images["ids"]["v1"]]
    assert plan["remove"][0]["references"] == [
        f"127.0.0.1:5999/{repository}:v4",
        f"{repository}:v4",
    ]
    assert plan["freed_bytes"] == 0
    assert _tags_left(repository) == {"v1", "v2", "v3", "v4", "v5"}, "a dry run removes nothing"

    declined = runner.invoke(app, ["prune", "--env", env, "--keep", "1"], input="n\n")
    assert declined.exit_code == 1 and "Remove 2 image(s)?" in declined.output
    assert _tags_left(repository) == {"v1", "v2", "v3", "v4", "v5"}, "a 'no' removes nothing"

    shown = runner.invoke(app, ["prune", "--env", env, "--keep", "1", "--dry-run"])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.count("remove") == 2 and shown.stdout.count("in use") == 1
    assert "removed" not in shown.stdout

    pruned = runner.invoke(app, ["prune", "--env", env, "--keep", "1", "--yes", "--json"])
    assert pruned.exit_code == 0, pruned.output
    assert json.loads(pruned.stdout)["freed_bytes"] > 0, "v4's layer is gone from the disk"
    assert _tags_left(repository) == {"v1", "v2", "v5"}
    client = docker_engine.client()
    with pytest.raises(ImageNotFound):
        client.images.get(images["ids"]["v4"])  # its last tags went, so the image went
    assert client.images.get(images["other"]).id == images["ids"]["v3"], "other tags stay"

    again = runner.invoke(app, ["prune", "--env", env, "--keep", "1", "--yes", "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["remove"] == []


def test_prune_refuses_a_negative_keep_in_one_line(images: dict[str, Any]) -> None:
    result = runner.invoke(app, ["prune", "--env", images["env"], "--keep", "-1", "--yes"])
    assert result.exit_code == 2
    assert "--keep" in result.output and "greater than or equal to 0" in result.output
    assert "Traceback" not in result.output
    assert _tags_left(images["repository"]) == {"v1", "v2", "v3", "v4", "v5"}
