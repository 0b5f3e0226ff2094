"""Runs the Terraform and checkov checks of every module, in parallel, once per session.

Each check is a short sequence of commands (init, validate, test...) run in one folder; the
sequences of all modules go to a thread pool, so the tests only wait for their own result.
Two cores are enough for three workers: most of a terraform run is waiting on its provider.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

PROJECT = Path(__file__).resolve().parents[3]
MODULES_DIR = PROJECT / "terraform" / "modules"
# The aws provider mocks every module's tests load (mock_provider "aws" { source = ... }).
MOCKS_DIR = PROJECT / "terraform" / "testing" / "mocks"
ENVIRONMENTS_DIR = PROJECT / "environments"
# A loaded 2-core CI machine took 300 s for alb's runs; the test's own timeout is 900 s.
COMMAND_TIMEOUT_S = 840


def _load_script(name: str) -> ModuleType:
    """Import scripts/<name>.py, which is a script, not part of an installed package."""
    spec = importlib.util.spec_from_file_location(name, PROJECT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


module_docs = _load_script("module_docs")


@dataclass(frozen=True)
class Result:
    """One finished command."""

    args: tuple[str, ...]
    cwd: Path
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def report(self) -> str:
        return f"$ {' '.join(self.args)}  (in {self.cwd}, exit {self.returncode}, {self.seconds:.1f} s)\n{self.output}"


@dataclass(frozen=True)
class Step:
    args: tuple[str, ...]
    cwd: Path
    env: tuple[tuple[str, str], ...] = ()  # added to the pool's environment for this step


def module_dirs() -> list[Path]:
    """Every module under terraform/modules/ (a folder holding variables.tf)."""
    return sorted(p for p in MODULES_DIR.iterdir() if (p / "variables.tf").is_file())


def example_dirs(module: Path) -> list[Path]:
    return sorted(p for p in (module / "examples").glob("*") if any(p.glob("*.tf")))


def checkov_roots() -> list[Path]:
    """The root modules checkov judges: every module's examples, the project's own (examples/),
    and every environment's stacks.

    NOTE: one scan per root. checkov names a module's resources by address only
    (module.alb.aws_lb.this), so one scan of several roots that each call a module "alb" reports
    one of them and hides the others' findings. Stacks and modules are judged through the roots
    that call them, with the values those roots pass: that is where a setting is turned off and
    where its skip belongs (a skip in a stack would hide the finding in every environment).
    """
    environments = sorted(p for p in ENVIRONMENTS_DIR.glob("*/*") if any(p.glob("*.tf")))
    examples = sorted(p for p in (PROJECT / "examples").glob("*") if any(p.glob("*.tf")))
    return [e for m in module_dirs() for e in example_dirs(m)] + examples + environments


def run(step: Step, env: dict[str, str]) -> Result:
    start = time.monotonic()
    try:
        done = subprocess.run(
            step.args,
            cwd=step.cwd,
            env={**env, **dict(step.env)},
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
        code, stdout, stderr = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as err:
        code, stdout, stderr = -1, str(err.stdout or ""), f"timed out after {COMMAND_TIMEOUT_S} s"
    return Result(step.args, step.cwd, code, stdout, stderr, time.monotonic() - start)


def run_steps(steps: Sequence[Step], env: dict[str, str]) -> list[Result]:
    """Run steps in order, stopping at the first failure (later steps need the earlier ones)."""
    results: list[Result] = []
    for step in steps:
        results.append(run(step, env))
        if not results[-1].ok:
            break
    return results


def failure(results: Sequence[Result], expected_steps: int) -> str | None:
    """None when all expected steps ran and passed; else the report of the one that failed."""
    if len(results) == expected_steps and all(r.ok for r in results):
        return None
    return results[-1].report()


def init(folder: Path) -> Step:
    # NOTE: .terraform stays in the folder (git-ignored) so that a second run only re-checks it.
    return Step(("terraform", "init", "-backend=false", "-input=false", "-no-color"), folder)


def validate(folder: Path) -> Step:
    return Step(("terraform", "validate", "-no-color"), folder)


def plan(folder: Path, env: dict[str, str]) -> Step:
    # -input=false: a required variable with no value fails the plan instead of prompting.
    return Step(
        ("terraform", "plan", "-input=false", "-lock=false", "-no-color"),
        folder,
        tuple(env.items()),
    )


def terraform_test(folder: Path) -> Step:
    return Step(("terraform", "test", "-no-color"), folder)


def fmt_check(folder: Path) -> Step:
    return Step(("terraform", "fmt", "-check", "-recursive", "-diff", "-no-color"), folder)


def checkov_scan(folder: Path) -> Step:
    # Settings (framework, offline) come from the project's .checkov.yaml; JSON lists the skips too.
    return Step(("checkov", "-d", str(folder), "-o", "json"), PROJECT)


def checkov_reports(result: Result) -> list[dict[str, Any]]:
    """checkov's JSON report(s): one object per framework, or a list of them."""
    parsed = json.loads(result.stdout)
    return parsed if isinstance(parsed, list) else [parsed]


class Jobs:
    """A thread pool of step sequences, keyed by name."""

    def __init__(self, env: dict[str, str], workers: int | None = None) -> None:
        self._env = env
        self._pool = ThreadPoolExecutor(max_workers=workers or min(3, (os.cpu_count() or 1) + 1))
        self._jobs: dict[str, Future[list[Result]]] = {}

    def submit(self, key: str, steps: Sequence[Step]) -> None:
        self._jobs[key] = self._pool.submit(run_steps, steps, self._env)

    def results(self, key: str) -> list[Result]:
        return self._jobs[key].result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
