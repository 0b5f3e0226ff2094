"""Every environment's two roots initialise (modules, provider) and validate, offline.

``mlinfra.terraform.Stack`` has no ``validate`` and always initialises a backend, so this check
runs terraform itself, on a private copy of the tree (``.terraform/`` stays out of it).
"""

import os
import subprocess

import pytest
from environment_tree import private_tree

from mlinfra.config import state_dir
from mlinfra.terraform import terraform_cli_config

pytestmark = pytest.mark.integration

ROOTS = [
    f"{env}/{stack}"
    for env in ("local", "dev", "staging", "prod")
    for stack in ("registry", "service")
]


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return private_tree(tmp_path_factory.mktemp("validate"))


@pytest.mark.parametrize("root", ROOTS)
def test_root_validates(tree, root):
    env = {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(terraform_cli_config(state_dir())),
        "TF_IN_AUTOMATION": "1",
    }
    working_dir = tree / "environments" / root
    for command in (["init", "-backend=false", "-input=false"], ["validate", "-no-color"]):
        done = subprocess.run(
            ["terraform", *command],
            cwd=working_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, (
            f"terraform {command[0]} in {root}: {done.stderr or done.stdout}"
        )
