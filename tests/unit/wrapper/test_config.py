"""Project discovery and environment lookup."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlinfra import config
from mlinfra.errors import ConfigError


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for stack in ("local/registry", "local/service", "prod/service"):
        (tmp_path / "environments" / stack).mkdir(parents=True)
        (tmp_path / "environments" / stack / "main.tf").write_text("")
    (tmp_path / "environments" / "notes").mkdir()
    (tmp_path / "serving").mkdir()
    monkeypatch.setenv(config.PROJECT_DIR_ENV, str(tmp_path))
    config.project_dir.cache_clear()
    yield tmp_path
    config.project_dir.cache_clear()


def test_environments_are_the_folders_holding_stacks(project: Path) -> None:
    assert config.environment_names() == ["local", "prod"]


def test_unknown_environment_lists_the_valid_ones(project: Path) -> None:
    with pytest.raises(ConfigError) as err:
        config.environment("prd")
    assert "'prd'" in err.value.message
    assert "local, prod" in (err.value.hint or "")


def test_environment_state_lives_under_dot_mlinfra(project: Path) -> None:
    env = config.environment("local")
    assert env.is_local
    assert env.state_dir == project / ".mlinfra" / "local"
    assert env.state_dir.is_dir()


def test_project_setting_must_point_at_a_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.PROJECT_DIR_ENV, str(tmp_path))
    config.project_dir.cache_clear()
    with pytest.raises(ConfigError, match="holds no environments/ and serving/"):
        config.project_dir()
    config.project_dir.cache_clear()


def test_runtime_name_is_the_env_unless_the_state_folder_is_its_own(tmp_path: Path) -> None:
    assert config.runtime_name("local", None) == "local"
    own = config.runtime_name("local", tmp_path)
    assert own.startswith("local-") and own != config.runtime_name("local", tmp_path / "other")
    assert own == config.runtime_name("local", tmp_path / ".")
