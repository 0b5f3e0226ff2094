"""The Terraform code as the tests use it: a private copy (so .terraform/ stays out of the tree)
and each stack's backend.hcl as -backend-config values."""

import shutil
from pathlib import Path

import hcl2

from mlinfra.config import project_dir


def private_tree(tmp: Path) -> Path:
    """A copy of the Terraform code (environments and modules), without local .terraform folders."""
    ignore = shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*", "*.tfplan")
    for part in ("environments", "terraform"):
        shutil.copytree(project_dir() / part, tmp / part, ignore=ignore)
    return tmp


def backend_config(stack_dir: Path) -> dict[str, str]:
    """``backend.hcl`` as ``-backend-config`` values, plus path-style S3 (moto has no bucket DNS)."""
    with (stack_dir / "backend.hcl").open() as handle:
        values = {
            key: value[0] if isinstance(value, list) else value
            for key, value in hcl2.load(handle).items()
        }
    values["use_path_style"] = True
    return {
        key: str(value).lower() if isinstance(value, bool) else str(value)
        for key, value in values.items()
    }
