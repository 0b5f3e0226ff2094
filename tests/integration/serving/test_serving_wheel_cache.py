"""mlinfra.image.wheel_cache against the real package index, through the host's pip settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlinfra.errors import DockerError
from mlinfra.image import SOURCES, requirements_hash, wheel_cache

pytestmark = pytest.mark.integration


def test_downloads_once_then_reuses(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("packaging==25.0\n")
    said: list[str] = []
    folder = wheel_cache(requirements, tmp_path / "cache", said.append)
    assert folder.name == requirements_hash(requirements)
    assert [p.name for p in folder.glob("*.whl")] == ["packaging-25.0-py3-none-any.whl"]
    assert len(said) == 1
    assert wheel_cache(requirements, tmp_path / "cache", said.append) == folder
    assert len(said) == 1


def test_a_version_the_index_lacks_fails_with_pips_words(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("packaging==0.0.0.1\n")
    with pytest.raises(DockerError, match="No matching distribution") as caught:
        wheel_cache(requirements, tmp_path / "cache", lambda _line: None)
    assert "pip config list" in (caught.value.hint or "")
    assert list((tmp_path / "cache").iterdir()) == []


def test_sources_are_fetched_as_archives_in_their_own_folder(tmp_path: Path) -> None:
    # The image's native stage builds these (serving/requirements-native.txt).
    requirements = tmp_path / "requirements-native.txt"
    requirements.write_text("gunicorn_h1c==0.6.10\n")
    folder = wheel_cache(requirements, tmp_path / "cache", lambda _line: None, SOURCES)
    assert [p.name for p in folder.iterdir() if p.name != ".complete"] == [
        "gunicorn_h1c-0.6.10.tar.gz"
    ]
    assert (
        folder.name == requirements_hash(requirements, SOURCES) != requirements_hash(requirements)
    )
