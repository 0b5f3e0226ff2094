"""The one seam between AWS and the local environment.

Public interface::

    runtime = runtime_for(env, stacks, say)   # AwsRuntime, or LocalRuntime for ``local``
    runtime.session(), runtime.registry_login(...), runtime.run_service(...), runtime.down(say)

Everything that differs between an environment on AWS and the embedded one (the emulator, the
local registry, the local ECS agent and ALB) is a method of :class:`Runtime`; no other module
asks which environment it has.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlinfra import config
from mlinfra.runtime._aws import STATE_BUCKET_VARIABLE, AwsRuntime
from mlinfra.runtime._base import Reach, Runtime, Say
from mlinfra.runtime._local import LocalRuntime
from mlinfra.runtime._places import (
    EMULATOR_PORT_VARIABLE,
    PROXY_PORT_VARIABLE,
    PROXY_TLS_PORT_VARIABLE,
    LocalPlaces,
    places,
)
from mlinfra.runtime._rehearsal import state_buckets

__all__ = [
    "EMULATOR_PORT_VARIABLE",
    "PROXY_PORT_VARIABLE",
    "PROXY_TLS_PORT_VARIABLE",
    "STATE_BUCKET_VARIABLE",
    "AwsRuntime",
    "LocalPlaces",
    "LocalRuntime",
    "Reach",
    "Runtime",
    "places",
    "runtime_for",
    "state_buckets",
]


def _quiet(_line: str) -> None:
    pass


def runtime_for(
    env: config.Environment,
    stacks: Sequence[str] = (),
    say: Say = _quiet,
    *,
    offline: bool = False,
) -> Runtime:
    """The runtime of ``env``: for ``local`` or a rehearsal, its emulator (started, or reused)
    and Docker; else AWS.

    ``offline``: a runtime only to stop things with (``down``): it starts nothing and resolves
    no state bucket.
    """
    if env.is_local or env.rehearsed:
        if offline:
            return LocalRuntime(env, endpoint=None)
        return LocalRuntime.start(env, stacks, say)
    if offline:
        return AwsRuntime(env, config.aws_region(config.environment_settings(env)), None)
    return AwsRuntime.resolve(env, stacks)
