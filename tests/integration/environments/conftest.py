"""Environments applied for real against the emulator: one emulator per test module.

Terraform runs through ``mlinfra.terraform.Stack`` on a private copy of ``environments/`` and
``terraform/`` (so ``.terraform/`` and saved plans land outside the tree and parallel runs of
teammates never share them), with the state in the emulator's S3 as ``backend.hcl`` says.

A 5xx moto answered Terraform is a gap in the emulator, never a retry to wait out: the
emulator answers it as a 400 ``MlinfraEmulatorGap`` (so Terraform fails at once) and
``no_emulator_gaps`` fails the test that met it, listing the requests.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from environment_tree import backend_config, private_tree

from mlinfra import emulator as emu
from mlinfra.config import state_dir
from mlinfra.emulator.testing import emulator_fixture
from mlinfra.terraform import PlanSummary, Stack, terraform_cli_config

emulator = emulator_fixture(scope="module")
# Gaps of each module emulator already reported: the module's apply runs in the first test's
# setup (module fixtures come before function ones), so its gaps count for that test.
_gaps_checked: dict[str, int] = {}


@pytest.fixture(autouse=True)
def no_emulator_gaps(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test of an emulator: fail it if moto answered any request with a 5xx."""
    if "emulator" not in request.fixturenames:
        yield
        return
    endpoint = request.getfixturevalue("emulator").endpoint
    yield
    found = emu.read_gaps(endpoint, since=_gaps_checked.get(endpoint, 0))
    _gaps_checked[endpoint] = found["count"]
    if found["gaps"]:
        listed = "\n".join(
            f"  HTTP {g['status']} {g['service']} {g['action']}: {g['exception']}"
            + (f" at {g['where']}" if g["where"] else "")
            for g in found["gaps"]
        )
        pytest.fail(
            f"the emulator answered {len(found['gaps'])} request(s) with a 5xx (a gap to "
            f"close with a patch in wrapper/mlinfra/emulator/patches/):\n{listed}",
            pytrace=False,
        )


@dataclass
class Environment:
    """One environment's two stacks in a private copy of the tree, pointed at the emulator."""

    name: str
    endpoint: str
    root: Path
    variables: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)

    def stack(self, stack: str) -> Stack:
        working_dir = self.root / "environments" / self.name / stack
        return Stack(
            stack,
            working_dir,
            env=emu.client_env(self.endpoint),
            cli_config=terraform_cli_config(state_dir()),
            backend_config=backend_config(working_dir),
        )

    def _var_files(self, stack: str) -> list[Path]:
        if stack != "service":
            return []
        path = self.root / f"{self.name}.tfvars.json"
        path.write_text(json.dumps(self.variables))
        return [path]

    def _plan(self, stack: str, destroy: bool = False) -> PlanSummary:
        planfile = self.root / f"{self.name}-{stack}.tfplan"
        return self.stack(stack).plan(planfile, self._var_files(stack), destroy=destroy)

    def plan(self, stack: str) -> PlanSummary:
        started = time.monotonic()
        summary = self._plan(stack)
        self.timings[f"re-plan {stack}"] = time.monotonic() - started
        return summary

    def apply(self, stack: str, destroy: bool = False) -> PlanSummary:
        started = time.monotonic()
        summary = self._plan(stack, destroy=destroy)
        self.stack(stack).apply(self.root / f"{self.name}-{stack}.tfplan")
        self.timings[f"{'destroy' if destroy else 'apply'} {stack}"] = time.monotonic() - started
        return summary

    def ensure_state_bucket(self) -> None:
        bucket = backend_config(self.root / "environments" / self.name / "service")["bucket"]
        emu.ensure_state_bucket(self.endpoint, bucket)


@pytest.fixture(scope="module")
def make_environment(emulator, tmp_path_factory) -> Iterator[Any]:
    """``make_environment(name, **variables)``: an Environment of this module's emulator."""
    made: list[Environment] = []

    def make(name: str, **variables: Any) -> Environment:
        root = private_tree(tmp_path_factory.mktemp(f"env-{name}"))
        environment = Environment(name, emulator.endpoint, root, variables)
        environment.ensure_state_bucket()
        made.append(environment)
        return environment

    yield make
    for environment in made:
        times = ", ".join(
            f"{step} {seconds:.0f} s" for step, seconds in environment.timings.items()
        )
        print(f"\n{environment.name}: {times}")
