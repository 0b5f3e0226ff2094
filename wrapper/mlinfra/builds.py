"""The record of an environment's last image build, and which builds may go to it.

``.mlinfra/<env>/last-build.json`` links ``build`` to a later ``push``; staging and prod take
only images of a commit (a ``-dirty`` tag cannot be traced back to its code).
"""

from __future__ import annotations

import json
from typing import Any

from mlinfra import config, tfvars
from mlinfra.errors import ConfigError

LAST_BUILD = "last-build.json"
DIRTY_MARK = "-dirty-"


def refuse_dirty(env: config.Environment, dirty: bool, what: str, allow_dirty: bool) -> None:
    """A ConfigError for a ``-dirty`` image bound for staging or prod, unless ``allow_dirty``."""
    if dirty and env.asks_before_changes and not allow_dirty:
        raise ConfigError(
            f"{what} comes from a tree with uncommitted changes (-dirty); {env.name} takes only "
            "images built from a commit.",
            "Commit (or stash) the changes and build again, or pass --allow-dirty.",
        )


def record(env: config.Environment, built: Any) -> None:
    tfvars.write_atomic_json(
        env.state_dir / LAST_BUILD,
        {"reference": built.reference, "tag": built.tag, "image_id": built.image_id},
    )


def last_build(env: config.Environment) -> dict[str, str]:
    path = env.state_dir / LAST_BUILD
    if not path.exists():
        raise ConfigError(
            f"No image was built for environment {env.name!r} yet.",
            f"Run `mlinfra build --env {env.name}` first.",
        )
    recorded: dict[str, str] = json.loads(path.read_text())
    return recorded


def check_pushable(env: config.Environment, allow_dirty: bool = False) -> dict[str, str]:
    """The last build, when it may go to ``env``'s registry."""
    built = last_build(env)
    refuse_dirty(env, DIRTY_MARK in built["tag"], f"The image {built['reference']}", allow_dirty)
    return built
