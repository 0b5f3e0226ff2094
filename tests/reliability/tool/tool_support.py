"""Helpers of the tool's reliability tests: the real `mlinfra` console script in a subprocess,
and a snapshot of a state folder to show that a failed command wrote nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

# The console script installed beside this interpreter (the venv's bin/).
MLINFRA = str(Path(sys.executable).parent / "mlinfra")
# Settings of the person running the tests that would change what the CLI does.
_SCRUBBED = ("MLINFRA_", "AWS_", "DOCKER_HOST", "TF_")


def clean_env(state_dir: Path, **settings: str) -> dict[str, str]:
    """The current environment without mlinfra/AWS/Docker/Terraform settings, plus ``settings``;
    ``MLINFRA_STATE_DIR`` points at ``state_dir`` so nothing of a user's is touched."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED)}
    env["MLINFRA_STATE_DIR"] = str(state_dir)
    # No instance role exists here; skipping the metadata lookup keeps "no credentials" quick.
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["AWS_CONFIG_FILE"] = str(state_dir / "no-aws-config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(state_dir / "no-aws-credentials")
    env.update(settings)
    return env


def run_cli(
    env: Mapping[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MLINFRA, *args], env=dict(env), capture_output=True, text=True, timeout=timeout
    )


def files_under(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes (folders alone are not state)."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }
