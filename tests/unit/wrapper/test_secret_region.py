"""`mlinfra secret set` reads the key from stdin or a hidden prompt (never argv), and every stack
gets one region: in its generated tfvars and in the backend configuration."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlinfra import api_key, builds, config, connection, plans, tfvars
from mlinfra.cli import app

runner = CliRunner()
MLINFRA = str(Path(sys.executable).parent / "mlinfra")


def test_the_minimum_key_length_is_the_apps() -> None:
    from mlinfra_serving.auth import MIN_KEY_LENGTH

    assert api_key.MIN_API_KEY_LENGTH == MIN_KEY_LENGTH


def test_a_short_key_on_stdin_fails_before_anything_is_reached(project: Path) -> None:
    # dev has no state bucket: reaching AWS would fail with another message.
    result = runner.invoke(app, ["secret", "set", "--env", "dev"], input="short-key\n")
    assert result.exit_code == 2, result.output
    assert "The API key is 9 characters long; it needs at least 16." in result.output
    assert "short-key" not in result.output


def test_no_argument_takes_the_key(project: Path) -> None:
    result = runner.invoke(app, ["secret", "set", "--env", "dev", "a-key-of-enough-length"])
    assert result.exit_code == 2
    assert "unexpected extra argument" in result.output.lower()


def _read_until(fd: int, needle: bytes, seen: bytearray, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while needle not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"{needle!r} never came; saw {bytes(seen)!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                chunk = b""
            assert chunk, f"{needle!r} never came; saw {bytes(seen)!r}"
            seen += chunk


def _echo_off(fd: int, timeout_s: float = 20) -> None:
    """Wait until the child turned the terminal's echo off (getpass does, after its prompt)."""
    deadline = time.monotonic() + timeout_s
    while termios.tcgetattr(fd)[3] & termios.ECHO:
        assert time.monotonic() < deadline, "the terminal's echo stayed on"
        time.sleep(0.05)


def test_on_a_terminal_the_key_is_asked_twice_and_not_echoed(project: Path) -> None:
    key = "typed-but-short"  # 15 characters: the command stops at the length check
    # A child with the terminal as its controlling one, as in a shell (getpass opens /dev/tty).
    pid, controller = pty.fork()
    if pid == 0:
        os.execv(MLINFRA, [MLINFRA, "secret", "set", "--env", "dev"])
    seen = bytearray()
    try:
        for prompt in (b"API key:", b"Repeat for confirmation:"):
            _read_until(controller, prompt, seen)
            _echo_off(controller)
            os.write(controller, key.encode() + b"\n")
        _read_until(controller, b"needs at least 16", seen)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 2
    finally:
        try:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(controller)
    assert key.encode() not in seen


def _dev_target(monkeypatch: pytest.MonkeyPatch, region: str) -> connection.Connection:
    monkeypatch.setenv("AWS_REGION", region)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "unit-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "unit-test")
    monkeypatch.setenv("MLINFRA_STATE_BUCKET", "team-state")
    return connection.connect(config.select_environment("dev"))


def test_the_resolved_region_reaches_the_tfvars_and_the_backend(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _dev_target(monkeypatch, "eu-west-1")
    # A backend.hcl naming another region: the resolved one wins (one region everywhere).
    (project / "environments/dev/registry/backend.hcl").write_text('region = "us-east-1"\n')
    for name in ("registry", "service"):
        stack = target.stack(name)
        assert stack.backend_config["region"] == "eu-west-1"
        generated = tfvars.stack_tfvars_path(target.env.state_dir, name)
        assert generated in target.var_files(name)
    written = plans.write_stack_tfvars(target, "registry")
    assert json.loads(written.read_text()) == {"region": "eu-west-1"}
    # Destroying needs no secret lookup: the service gets the region alone.
    written = plans.write_stack_tfvars(target, "service", for_destroy=True)
    assert json.loads(written.read_text()) == {"region": "eu-west-1"}


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_staging_and_prod_ask_before_changes(env: str) -> None:
    from mlinfra import config

    assert config.Environment(env, Path("/nowhere")).asks_before_changes
    assert not config.Environment("dev", Path("/nowhere")).asks_before_changes


def _dirty_checkout(project: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(project), *args], check=True, capture_output=True)

    git("init", "-q")
    git("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "--allow-empty", "-m", "x")
    (project / "uncommitted.txt").write_text("a change\n")


def test_a_dirty_build_is_refused_for_prod(project: Path) -> None:
    _dirty_checkout(project)
    refused = runner.invoke(app, ["build", "--env", "prod"])
    assert refused.exit_code == 2, refused.output
    assert "comes from a tree with uncommitted changes (-dirty)" in refused.output
    assert "pass --allow-dirty" in refused.output


def test_a_dirty_image_is_refused_for_a_prod_push_unless_allowed(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLINFRA_STATE_BUCKET", raising=False)
    state = config.select_environment("prod").state_dir
    tfvars.write_atomic_json(
        state / builds.LAST_BUILD,
        {"reference": "mlinfra-prod:1a2b3c4-dirty-52771509", "tag": "1a2b3c4-dirty-52771509"},
    )
    refused = runner.invoke(app, ["push", "--env", "prod"])
    assert refused.exit_code == 2, refused.output
    assert "The image mlinfra-prod:1a2b3c4-dirty-52771509 comes from a tree" in refused.output
    assert "--allow-dirty" in refused.output
    # Allowed, the push goes on to the next step (here: prod has no state bucket configured).
    allowed = runner.invoke(app, ["push", "--env", "prod", "--allow-dirty"])
    assert "No Terraform state bucket for environment 'prod'" in allowed.output
    # dev takes it as it is.
    tfvars.write_atomic_json(
        config.select_environment("dev").state_dir / builds.LAST_BUILD,
        {"reference": "mlinfra-dev:1a2b3c4-dirty-52771509", "tag": "1a2b3c4-dirty-52771509"},
    )
    dev = runner.invoke(app, ["push", "--env", "dev"])
    assert "No Terraform state bucket for environment 'dev'" in dev.output
