"""A throwaway mlinfra project (environments/ + serving/) and state folder for CLI tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlinfra import config

STACK = 'terraform {\n  backend "s3" {}\n}\n'


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A project with environments dev, local and prod (two stacks each), an empty state folder."""
    root = tmp_path / "project"
    for env in ("dev", "local", "prod"):
        for stack in ("registry", "service"):
            folder = root / "environments" / env / stack
            folder.mkdir(parents=True)
            (folder / "main.tf").write_text(STACK)
    (root / "serving").mkdir()
    monkeypatch.setenv(config.PROJECT_DIR_ENV, str(root))
    monkeypatch.setenv(config.STATE_DIR_ENV, str(tmp_path / "state"))
    monkeypatch.delenv("MLINFRA_ENV", raising=False)
    config.project_dir.cache_clear()
    yield root
    config.project_dir.cache_clear()
