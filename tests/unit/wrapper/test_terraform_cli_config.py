"""The Terraform CLI config mlinfra writes: provider mirror discovery, mirror or plugin cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlinfra import terraform
from mlinfra.errors import MlinfraError


def _fake_mirror(root: Path) -> Path:
    (root / "registry.terraform.io/hashicorp/aws/5.100.0/linux_amd64").mkdir(parents=True)
    return root


def test_mirror_setting_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = _fake_mirror(tmp_path / "mirror")
    monkeypatch.setenv(terraform.PLUGIN_DIR_ENV, str(mirror))
    assert terraform.provider_mirror() == mirror


def test_mirror_setting_without_aws_provider_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(terraform.PLUGIN_DIR_ENV, str(tmp_path))
    with pytest.raises(MlinfraError) as err:
        terraform.provider_mirror()
    assert terraform.PLUGIN_DIR_ENV in err.value.message
    assert "unset it" in (err.value.hint or "")


def test_cli_config_uses_the_mirror_and_is_stable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = _fake_mirror(tmp_path / "mirror")
    monkeypatch.setenv(terraform.PLUGIN_DIR_ENV, str(mirror))
    path = terraform.terraform_cli_config(tmp_path / "state")
    text = path.read_text()
    assert f'filesystem_mirror {{ path = "{mirror}" }}' in text
    # Terraform links to an unpacked mirror; a shared cache would only race between inits.
    assert "plugin_cache_dir" not in text
    mtime = path.stat().st_mtime_ns
    terraform.terraform_cli_config(tmp_path / "state")
    assert path.stat().st_mtime_ns == mtime, "an unchanged config must not be rewritten"


def test_cli_config_caches_a_packed_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = tmp_path / "mirror"
    (mirror / "registry.terraform.io/hashicorp/aws").mkdir(parents=True)
    (
        mirror
        / "registry.terraform.io/hashicorp/aws/terraform-provider-aws_5.100.0_linux_amd64.zip"
    ).touch()
    monkeypatch.setenv(terraform.PLUGIN_DIR_ENV, str(mirror))
    text = terraform.terraform_cli_config(tmp_path / "state").read_text()
    assert "filesystem_mirror" in text
    assert "plugin_cache_dir" in text


def test_cli_config_without_mirror_downloads_as_usual(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(terraform.PLUGIN_DIR_ENV, raising=False)
    monkeypatch.setattr(terraform, "KNOWN_PLUGIN_DIRS", (str(tmp_path / "nowhere"),))
    text = terraform.terraform_cli_config(tmp_path / "state").read_text()
    assert "provider_installation" not in text
    assert "plugin_cache_dir" in text
