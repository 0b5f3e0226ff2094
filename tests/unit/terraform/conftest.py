"""Session fixtures: every module's Terraform checks and a checkov scan of each root, started together."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from terraform_harness import (
    MOCKS_DIR,
    MODULES_DIR,
    PROJECT,
    Jobs,
    checkov_roots,
    checkov_scan,
    example_dirs,
    fmt_check,
    init,
    module_dirs,
    module_docs,
    plan,
    run,
    terraform_test,
    validate,
)

from mlinfra.config import state_dir
from mlinfra.emulator.lifecycle import Emulator
from mlinfra.emulator.testing import emulator_fixture
from mlinfra.terraform import terraform_cli_config

# What a user would write for each required input of a module, keyed by input name. A module
# with a required input missing here fails test_consumer_root_module_plans, which names it.
SAMPLE_INPUTS: dict[str, object] = {
    "name": "consumer",
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"],
    "ingress_cidr_blocks": ["0.0.0.0/0"],
    "alb_security_group_id": "sg-0123456789abcdef0",
    "cluster_name": "consumer",
    "service_name": "consumer",
    "container_image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/consumer:a1b2c3d-0123abcd",
    "log_group_name": "/mlinfra/consumer",
    "repository_arn": "arn:aws:ecr:us-east-1:123456789012:repository/consumer",
    "cluster_arn": "arn:aws:ecs:us-east-1:123456789012:cluster/consumer",
    "capacity_provider_name": "consumer-ec2",
    "target_group_arn": (
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/consumer/0123456789abcdef"
    ),
}

# Offline: the plan runs against the mocked aws provider every module's tests use
# (terraform/testing/mocks); a bare mock returns random strings, which the provider rejects where
# it expects a policy document or a CIDR block.
CONSUMER_TEST = f"""\
mock_provider "aws" {{
  source = "{MOCKS_DIR}"
}}

run "plans_with_required_inputs_only" {{
  command = plan
}}
"""


@dataclass(frozen=True)
class Consumer:
    """Someone else's root module: every module sourced by path, with its required inputs only."""

    folder: Path
    missing: dict[str, list[str]]  # module name -> required inputs SAMPLE_INPUTS has no value for


def write_consumer(modules: list[Path], folder: Path) -> Consumer:
    blocks, missing = [], {}
    for module in modules:
        required = [i.name for i in module_docs.read_inputs(module) if i.default is None]
        if absent := [name for name in required if name not in SAMPLE_INPUTS]:
            missing[module.name] = absent
            continue
        # JSON is valid HCL for values; the block itself is plain HCL, as a user writes it.
        inputs = "".join(f"  {name} = {json.dumps(SAMPLE_INPUTS[name])}\n" for name in required)
        blocks.append(f'module "{module.name}" {{\n  source = "{module}"\n\n{inputs}}}\n')
    provider = 'provider "aws" {\n  region = "us-east-1"\n}\n'
    (folder / "main.tf").write_text("\n".join([provider, *blocks]))
    (folder / "tests").mkdir(exist_ok=True)
    (folder / "tests" / "consumer.tftest.hcl").write_text(CONSUMER_TEST)
    return Consumer(folder, missing)


# The examples plan against it, as a user's root plans against AWS (AWS_ENDPOINT_URL).
emulator = emulator_fixture(scope="session")
EXAMPLE_REGION = "us-east-1"


def example_env(emulator: Emulator) -> dict[str, str]:
    """What a user of an example sets: the Region and credentials (here, the emulator's)."""
    return {
        "AWS_ENDPOINT_URL": emulator.endpoint,
        "AWS_REGION": EXAMPLE_REGION,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }


@pytest.fixture(scope="session")
def terraform_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    env["TF_CLI_CONFIG_FILE"] = str(terraform_cli_config(state_dir()))
    env["TF_IN_AUTOMATION"] = "1"
    return env


@pytest.fixture(scope="session")
def consumer(tmp_path_factory: pytest.TempPathFactory) -> Consumer:
    return write_consumer(module_dirs(), tmp_path_factory.mktemp("consumer"))


@pytest.fixture(scope="session")
def jobs(terraform_env: dict[str, str], consumer: Consumer, emulator: Emulator) -> Iterator[Jobs]:
    """All checks of all modules, submitted at once; tests wait for their own."""
    modules = module_dirs()
    # NOTE: where a plugin cache is used (no unpacked mirror), its first fill must not race.
    if modules:
        run(init(modules[0]), terraform_env)
    pool = Jobs(terraform_env)
    # The slowest first, so that they overlap with the rest.
    for root in checkov_roots():
        pool.submit(f"checkov:{root.relative_to(PROJECT)}", [checkov_scan(root)])
    # One root module for all modules: one init and one plan instead of six.
    pool.submit("consumer", [init(consumer.folder), terraform_test(consumer.folder)])
    pool.submit("fmt", [fmt_check(MODULES_DIR)])
    for module in modules:
        # terraform test validates the module first; a separate validate would only cost time.
        pool.submit(f"module:{module.name}", [init(module), terraform_test(module)])
        for example in example_dirs(module):
            # The plan as it is: no -var, so an input without a value fails it.
            steps = [init(example), validate(example), plan(example, example_env(emulator))]
            pool.submit(f"example:{module.name}/{example.name}", steps)
    yield pool
    pool.close()
