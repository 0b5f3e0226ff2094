"""A private copy of the Terraform code, so that test runs keep .terraform/ out of the tree."""

import shutil
from pathlib import Path

from mlinfra.config import project_dir


def private_tree(tmp: Path) -> Path:
    """A copy of the Terraform code (environments and modules), without local .terraform folders."""
    ignore = shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*", "*.tfplan")
    for part in ("environments", "terraform"):
        shutil.copytree(project_dir() / part, tmp / part, ignore=ignore)
    return tmp
