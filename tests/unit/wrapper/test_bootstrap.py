"""The set-up step: provider mirror discovery, the CLI config it writes, the base-image recipe tag."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlinfra import bootstrap
from mlinfra.errors import MlinfraError


def _fake_mirror(root: Path) -> Path:
    (root / "registry.terraform.io/hashicorp/aws/5.100.0/linux_amd64").mkdir(parents=True)
    return root


def test_mirror_setting_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = _fake_mirror(tmp_path / "mirror")
    monkeypatch.setenv(bootstrap.PLUGIN_DIR_ENV, str(mirror))
    assert bootstrap.provider_mirror() == mirror


def test_mirror_setting_without_aws_provider_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(bootstrap.PLUGIN_DIR_ENV, str(tmp_path))
    with pytest.raises(MlinfraError) as err:
        bootstrap.provider_mirror()
    assert bootstrap.PLUGIN_DIR_ENV in err.value.message
    assert "unset it" in (err.value.hint or "")


def test_cli_config_uses_the_mirror_and_is_stable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = _fake_mirror(tmp_path / "mirror")
    monkeypatch.setenv(bootstrap.PLUGIN_DIR_ENV, str(mirror))
    path = bootstrap.terraform_cli_config(tmp_path / "state")
    text = path.read_text()
    assert f'filesystem_mirror {{ path = "{mirror}" }}' in text
    # Terraform links to an unpacked mirror; a shared cache would only race between inits.
    assert "plugin_cache_dir" not in text
    mtime = path.stat().st_mtime_ns
    bootstrap.terraform_cli_config(tmp_path / "state")
    assert path.stat().st_mtime_ns == mtime, "an unchanged config must not be rewritten"


def test_cli_config_caches_a_packed_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = tmp_path / "mirror"
    (mirror / "registry.terraform.io/hashicorp/aws").mkdir(parents=True)
    (
        mirror
        / "registry.terraform.io/hashicorp/aws/terraform-provider-aws_5.100.0_linux_amd64.zip"
    ).touch()
    monkeypatch.setenv(bootstrap.PLUGIN_DIR_ENV, str(mirror))
    text = bootstrap.terraform_cli_config(tmp_path / "state").read_text()
    assert "filesystem_mirror" in text
    assert "plugin_cache_dir" in text


def test_cli_config_without_mirror_downloads_as_usual(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(bootstrap.PLUGIN_DIR_ENV, raising=False)
    monkeypatch.setattr(bootstrap, "KNOWN_PLUGIN_DIRS", (str(tmp_path / "nowhere"),))
    text = bootstrap.terraform_cli_config(tmp_path / "state").read_text()
    assert "provider_installation" not in text
    assert "plugin_cache_dir" in text


def test_base_image_tag_follows_the_recipe(monkeypatch: pytest.MonkeyPatch) -> None:
    tag = bootstrap.local_base_image_tag()
    assert tag.startswith(f"{bootstrap.LOCAL_BASE_REPOSITORY}:")
    assert bootstrap.local_base_image_tag() == tag
    monkeypatch.setattr(bootstrap, "DEBOOTSTRAP_ARGS", (*bootstrap.DEBOOTSTRAP_ARGS, "--extra"))
    assert bootstrap.local_base_image_tag() != tag


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
