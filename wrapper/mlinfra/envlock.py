"""One changing mlinfra run per environment (and state folder) at a time.

Terraform locks each stack's state, but a deploy is more than one Terraform run: two deploys of
one environment at once would interleave their plans, pushes and local containers. The lock is
an advisory ``flock`` on a file in the environment's state folder, so the kernel releases it
when its process ends, however it ends: a crashed run never leaves the environment locked.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from mlinfra.config import Environment
from mlinfra.errors import EnvironmentBusyError

LOCK_FILE = "run.lock"


@contextmanager
def exclusive(env: Environment, command: str) -> Iterator[None]:
    """Hold ``env``'s run lock for the block, or raise EnvironmentBusyError naming the holder."""
    path = env.state_dir / LOCK_FILE
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another mlinfra run"
            raise EnvironmentBusyError(
                f"Environment {env.name!r} is busy: {holder} holds it.",
                "Wait for that run to finish (the lock goes with its process, even if it "
                "crashes), then run this command again.",
            ) from None
        handle.seek(0)
        handle.truncate()
        started = time.strftime("%H:%M:%S")
        handle.write(f"`mlinfra {command} {env.flags}` (pid {os.getpid()}, since {started})")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
