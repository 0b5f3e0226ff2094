"""The set-up script both README commands run: it fails in one line when a tool is missing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _run_without_terraform(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # Only what the script needs before its terraform check.
    for tool in ("bash", "dirname", "mkdir", "env"):
        os.symlink(subprocess.check_output(["which", tool], text=True).strip(), bin_dir / tool)
    return subprocess.run(
        ["bash", str(ROOT / "scripts/bootstrap.sh")],
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )


def test_missing_terraform_is_one_line_naming_the_fix(tmp_path: Path) -> None:
    result = _run_without_terraform(tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "terraform is not installed" in lines[0]
    assert "install Terraform" in lines[0]
    assert "Traceback" not in result.stderr
