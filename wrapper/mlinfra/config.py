"""Where things live: the project checkout, mlinfra's state folder, the environments.

Everything generated (tfvars, saved plans, emulator and registry data, caches) goes under
``<project>/.mlinfra/`` which is git-ignored, so a build never turns the tree ``-dirty``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from mlinfra.errors import ConfigError

PROJECT_DIR_ENV = "MLINFRA_PROJECT_DIR"
STATE_DIR_ENV = "MLINFRA_STATE_DIR"
STATE_DIR_NAME = ".mlinfra"
# Environments whose changes are confirmed (and whose images must come from a clean tree).
PROTECTED_ENVIRONMENTS = ("staging", "prod")


def _looks_like_project(path: Path) -> bool:
    return (path / "environments").is_dir() and (path / "serving").is_dir()


@cache
def project_dir() -> Path:
    """The mlinfra project: ``$MLINFRA_PROJECT_DIR``, else the nearest parent of the working
    directory holding ``environments/`` and ``serving/``, else this source checkout."""
    explicit = os.environ.get(PROJECT_DIR_ENV)
    if explicit:
        path = Path(explicit).resolve()
        if not _looks_like_project(path):
            raise ConfigError(
                f"{PROJECT_DIR_ENV}={explicit} holds no environments/ and serving/ folders.",
                f"Point {PROJECT_DIR_ENV} at an mlinfra checkout, or unset it.",
            )
        return path
    cwd = Path.cwd().resolve()
    for candidate in (cwd, *cwd.parents):
        if _looks_like_project(candidate):
            return candidate
    checkout = Path(__file__).resolve().parents[2]
    if _looks_like_project(checkout):
        return checkout
    raise ConfigError(
        f"No mlinfra project found from {cwd}.",
        f"Run mlinfra inside a checkout (it has environments/ and serving/), or set {PROJECT_DIR_ENV}.",
    )


def state_dir() -> Path:
    """``$MLINFRA_STATE_DIR``, else ``<project>/.mlinfra``; created on first use.

    Tests point the setting at a temporary folder to run an environment "from nothing" beside a
    user's own local environment.
    """
    explicit = os.environ.get(STATE_DIR_ENV)
    path = Path(explicit).resolve() if explicit else project_dir() / STATE_DIR_NAME
    path.mkdir(parents=True, exist_ok=True)
    return path


def environments_dir() -> Path:
    return project_dir() / "environments"


def environment_names() -> list[str]:
    """Every folder of ``environments/`` that holds Terraform stacks."""
    root = environments_dir()
    return sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.glob("*/*.tf")))


@dataclass(frozen=True)
class Environment:
    """One deployable environment: ``environments/<name>/`` with a registry and a service stack."""

    name: str
    path: Path

    @property
    def is_local(self) -> bool:
        """The embedded environment runs on the emulator, the local registry and Docker."""
        return self.name == "local"

    @property
    def asks_before_changes(self) -> bool:
        """Commands that change staging or prod ask first (``--yes`` skips the question)."""
        return self.name in PROTECTED_ENVIRONMENTS

    @property
    def runtime_name(self) -> str:
        """The name the local runtime labels this environment's containers with.

        The environment's name for the default state folder; with ``$MLINFRA_STATE_DIR`` set (a
        test's own local environment, say) a suffix from that folder, so two local environments
        on one Docker engine never stop each other's containers.
        """
        return runtime_name(self.name, state_dir() if os.environ.get(STATE_DIR_ENV) else None)

    @property
    def state_dir(self) -> Path:
        path = state_dir() / self.name
        path.mkdir(parents=True, exist_ok=True)
        return path


def runtime_name(env: str, own_state_dir: Path | None) -> str:
    """``env``, or ``env-<hash of own_state_dir>`` for an environment with a state folder of its own."""
    if own_state_dir is None:
        return env
    return f"{env}-{hashlib.sha256(str(own_state_dir.resolve()).encode()).hexdigest()[:8]}"


def environment(name: str) -> Environment:
    """The environment called ``name``, or a ConfigError listing the valid ones."""
    names = environment_names()
    if name not in names:
        raise ConfigError(
            f"Unknown environment {name!r}.",
            f"Use one of: {', '.join(names)} (folders of {environments_dir()}).",
        )
    return Environment(name=name, path=environments_dir() / name)
