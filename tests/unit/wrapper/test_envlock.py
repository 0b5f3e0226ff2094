"""mlinfra.envlock: one changing run per environment; the lock goes with its holder."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlinfra import config, envlock
from mlinfra.errors import EnvironmentBusyError

# Another process holding dev's lock until its stdin closes.
HOLDER = textwrap.dedent(
    """
    import sys
    from mlinfra import config, envlock

    with envlock.exclusive(config.environment("dev"), "deploy"):
        print("held", flush=True)
        sys.stdin.read()
    """
)


def test_a_second_run_is_refused_with_the_holder_named(project: Path) -> None:
    dev = config.environment("dev")
    with (
        envlock.exclusive(dev, "deploy"),
        pytest.raises(EnvironmentBusyError) as err,
        envlock.exclusive(dev, "plan"),
    ):
        pass
    assert "Environment 'dev' is busy: `mlinfra deploy --env dev`" in err.value.message
    assert "Wait for that run to finish" in (err.value.hint or "")
    # Released: the next run gets it.
    with envlock.exclusive(dev, "plan"):
        pass


def test_environments_lock_separately(project: Path) -> None:
    with (
        envlock.exclusive(config.environment("dev"), "deploy"),
        envlock.exclusive(config.environment("prod"), "deploy"),
    ):
        pass


def test_the_lock_goes_with_a_killed_holder(project: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with (
            pytest.raises(EnvironmentBusyError, match=f"pid {holder.pid}"),
            envlock.exclusive(config.environment("dev"), "apply"),
        ):
            pass
        holder.kill()
        holder.wait(timeout=10)
        with envlock.exclusive(config.environment("dev"), "apply"):
            pass
    finally:
        holder.kill()
        holder.wait(timeout=10)
