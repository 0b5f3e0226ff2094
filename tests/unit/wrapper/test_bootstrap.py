"""The set-up step: the base image (its recipe tag, which one builds use), the tools it installs."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlinfra import bootstrap
from mlinfra.errors import MlinfraError


def test_base_image_tag_follows_the_recipe(monkeypatch: pytest.MonkeyPatch) -> None:
    tag = bootstrap.local_base_image_tag()
    assert tag.startswith(f"{bootstrap.LOCAL_BASE_REPOSITORY}:")
    assert bootstrap.local_base_image_tag() == tag
    monkeypatch.setattr(bootstrap, "DEBOOTSTRAP_ARGS", (*bootstrap.DEBOOTSTRAP_ARGS, "--extra"))
    assert bootstrap.local_base_image_tag() != tag


def test_base_image_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(bootstrap.BASE_IMAGE_ENV, raising=False)
    (tmp_path / "base-image").write_text("local/base:1\n")
    assert bootstrap.base_image(tmp_path) == "local/base:1"
    monkeypatch.setenv(bootstrap.BASE_IMAGE_ENV, "mine:2")
    assert bootstrap.base_image(tmp_path) == "mine:2"


def test_missing_terraform_is_one_line_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(MlinfraError) as err:
        bootstrap.require_terraform()
    assert "terraform is not installed" in err.value.message
    assert "developer.hashicorp.com" in (err.value.hint or "")


def test_no_docker_engine_off_debian_is_one_line_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A socket nobody listens on: the real client fails the real way.
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    monkeypatch.setattr(bootstrap, "_is_debian_root", lambda: False)
    with pytest.raises(MlinfraError) as err:
        bootstrap.ensure_docker_engine(tmp_path, say=lambda _: None)
    assert "No Docker engine answers" in err.value.message
    assert "docker info" in (err.value.hint or "")


def test_missing_test_tools_off_debian_name_the_package(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(bootstrap, "_is_debian_root", lambda: False)
    monkeypatch.setitem(bootstrap.DEBIAN_PACKAGES, "mlinfra-no-such-tool", "no-such-package")
    monkeypatch.setattr(bootstrap, "TEST_TOOLS", ["mlinfra-no-such-tool"])
    assert bootstrap.main(["--test-tools"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "mlinfra setup: Missing programs: mlinfra-no-such-tool.",
        "  fix: Install the packages no-such-package (or your system's equivalent).",
    ]


def test_every_test_tool_has_its_debian_package() -> None:
    assert set(bootstrap.TEST_TOOLS) <= set(bootstrap.DEBIAN_PACKAGES)
