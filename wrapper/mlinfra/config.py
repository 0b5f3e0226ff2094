"""Settings: the project checkout, mlinfra's state folder, the environments and their
``mlinfra.toml`` table, the region, and the ports of the local processes.

Everything generated (tfvars, saved plans, emulator and registry data, caches) goes under
``<project>/.mlinfra/`` which is git-ignored, so a build never turns the tree ``-dirty``.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from mlinfra.errors import ConfigError

PROJECT_DIR_ENV = "MLINFRA_PROJECT_DIR"
STATE_DIR_ENV = "MLINFRA_STATE_DIR"
STATE_DIR_NAME = ".mlinfra"
# Environments whose changes are confirmed (and whose images must come from a clean tree).
PROTECTED_ENVIRONMENTS = ("staging", "prod")
ENV_VARIABLE = "MLINFRA_ENV"
PROJECT_CONFIG = "mlinfra.toml"
_SETTINGS = ("state_bucket", "region")
DEFAULT_REGION = "us-east-1"


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


def select_environment(name: str | None) -> Environment:
    """``--env``, else ``$MLINFRA_ENV``; a ConfigError listing the valid names otherwise."""
    chosen = name or os.environ.get(ENV_VARIABLE)
    if not chosen:
        raise ConfigError(
            "No environment given.",
            f"Pass --env with one of: {', '.join(environment_names())} (or set {ENV_VARIABLE}).",
        )
    return environment(chosen)


def port_setting(variable: str, default: int) -> int:
    """The TCP port ``$<variable>`` names (the registry's, the proxy's, the emulator's), else
    ``default``; a ConfigError for anything that is not a port."""
    value = os.environ.get(variable, "").strip() or str(default)
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ConfigError(
            f"{variable}={value!r} is not a TCP port.", f"Set {variable} to a number 1-65535."
        )
    return int(value)


def environment_settings(env: Environment) -> dict[str, str]:
    """The optional ``[environments.<name>]`` table of ``<project>/mlinfra.toml``."""
    path = project_dir() / PROJECT_CONFIG
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path} is not valid TOML: {err}.", "Fix the line it names.") from err
    section = data.get("environments", {}).get(env.name, {})
    unknown = sorted(set(section) - set(_SETTINGS))
    if unknown:
        raise ConfigError(
            f"{path} sets unknown keys {unknown} for environment {env.name!r}.",
            f"Use only {', '.join(_SETTINGS)} under [environments.{env.name}].",
        )
    return {key: str(value) for key, value in section.items()}


def aws_region(settings: dict[str, str]) -> str:
    """``$AWS_REGION``, else ``$AWS_DEFAULT_REGION``, else the environment's ``region`` setting,
    else us-east-1: one region for the provider, the backend and boto3."""
    return (
        os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or settings.get("region")
        or DEFAULT_REGION
    )
