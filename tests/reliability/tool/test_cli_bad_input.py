"""Bad input to the real `mlinfra` console script: each case is a short error that names the
fix, a non-zero exit, no traceback, and no file written or changed in the state folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from tool_support import clean_env, files_under, run_cli

from mlinfra import envlock
from mlinfra.emulator.testing import free_port
from mlinfra.registry import LocalRegistry

pytestmark = pytest.mark.integration

# A stack with nothing in it: Terraform inits and plans it offline in about a second.
MAX_ERROR_LINES = 12
EMPTY_STACK = "# No resources: the CLI's checks run before and after Terraform.\n"


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A throwaway project: environments dev and local with empty stacks, and serving/."""
    root = tmp_path / "project"
    for env in ("dev", "local"):
        for stack in ("registry", "service"):
            folder = root / "environments" / env / stack
            folder.mkdir(parents=True)
            (folder / "main.tf").write_text(EMPTY_STACK)
    (root / "serving").mkdir()
    return root


@dataclass
class Case:
    args: tuple[str, ...]
    exit_code: int
    says: tuple[str, ...]  # the error line and the fix line contain these
    settings: dict[str, str] = field(default_factory=dict)
    prepare: Callable[[Path, Path], None] = lambda _project, _state: None


def _malformed_toml(project: Path, _state: Path) -> None:
    (project / "mlinfra.toml").write_text("[environments.dev\nstate_bucket = 'x'\n")


def _malformed_image_tfvars(_project: Path, state: Path) -> None:
    (state / "dev").mkdir(parents=True)
    (state / "dev" / "image.auto.tfvars.json").write_text('{"container_image": ')


def _malformed_env_tfvars(project: Path, _state: Path) -> None:
    (project / "environments" / "dev" / "registry" / "dev.tfvars").write_text('name = "x\n')


CASES = {
    "unknown env": Case(("plan", "--env", "nope"), 2, ("Unknown environment 'nope'", "dev, local")),
    "malformed mlinfra.toml": Case(
        ("plan", "--env", "dev"), 2, ("mlinfra.toml is not valid TOML", "Fix the line it names")
    ),
    "malformed environment tfvars": Case(
        ("plan", "--env", "dev"),
        1,
        ("terraform plan failed for the registry stack", "dev.tfvars", "Fix the error"),
        {"MLINFRA_STATE_BUCKET": "unused", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"},
        _malformed_env_tfvars,
    ),
    "malformed image tfvars": Case(
        ("plan", "--env", "dev"),
        2,
        ("image.auto.tfvars.json is not a JSON object", "run `mlinfra push` again"),
        {"MLINFRA_STATE_BUCKET": "unused", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"},
        _malformed_image_tfvars,
    ),
    "missing model file": Case(
        ("train", "--from-file", "/nonexistent/model.txt"),
        2,
        ("/nonexistent/model.txt does not exist", "LightGBM model file"),
    ),
    "no docker": Case(
        ("build", "--env", "dev"),
        1,
        ("No Docker engine answers", "Start Docker"),
        {"DOCKER_HOST": "unix:///nonexistent/docker.sock"},
    ),
    "no aws credentials": Case(
        ("plan", "--env", "dev"),
        2,
        ("No AWS credentials found for environment 'dev'", "AWS_PROFILE"),
        {"MLINFRA_STATE_BUCKET": "team-state"},
    ),
}
CASES["malformed mlinfra.toml"].prepare = _malformed_toml


def _assert_short_error(result: subprocess.CompletedProcess[str], case: Case) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == case.exit_code, output
    assert "Traceback" not in output and "internal error" not in output, output
    # Progress lines (time-stamped) may come first; the error is the last block.
    lines = result.stderr.strip().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("error: ")), None)
    assert start is not None, output
    error = lines[start:]
    assert error[-1].strip().startswith("fix: "), output
    # One line and its fix; Terraform's diagnostic (file, line, reason) when Terraform refused.
    assert len(error) <= MAX_ERROR_LINES, output
    for text in case.says:
        assert text in output, output


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_a_short_error_and_writes_nothing(
    name: str, project: Path, tmp_path: Path
) -> None:
    case = CASES[name]
    state = tmp_path / "state"
    state.mkdir()
    case.prepare(project, state)
    before = files_under(state)
    env = clean_env(state, MLINFRA_PROJECT_DIR=str(project), **case.settings)

    result = run_cli(env, *case.args)

    _assert_short_error(result, case)
    written = {k: v for k, v in files_under(state).items() if before.get(k) != v}
    # Terraform's own init (plugin folder, CLI config) and the run lock are not mlinfra's state.
    written = {
        k: v
        for k, v in written.items()
        if "terraform-data" not in k and k != "terraformrc" and not k.endswith(envlock.LOCK_FILE)
    }
    assert not written, f"{name} wrote {sorted(written)}"


def test_a_wrong_registry_password_is_refused_in_one_line(project: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    port = free_port()
    registry = LocalRegistry(state / "registry", port=port)
    registry.start()
    try:
        stored = json.loads(registry.credentials_file.read_text())
        registry.credentials_file.write_text(json.dumps(stored | {"password": "not-the-password"}))
        (state / "local").mkdir(parents=True)
        last_build = {"reference": "mlinfra-local:t", "tag": "t", "image_id": "sha256:0"}
        (state / "local" / "last-build.json").write_text(json.dumps(last_build))
        env = clean_env(
            state,
            MLINFRA_PROJECT_DIR=str(project),
            MLINFRA_REGISTRY_PORT=str(port),
            MLINFRA_EMULATOR_PORT=str(free_port()),
        )
        before = files_under(state / "local")

        result = run_cli(env, "push", "--env", "local")

        case = Case(("push",), 1, ("refused the login of user", "wrong username or password"))
        _assert_short_error(result, case)
        after = {k: v for k, v in files_under(state / "local").items() if k != envlock.LOCK_FILE}
        assert after == before, "a refused push must record no image"
    finally:
        from mlinfra.emulator import stop

        stop(state / "emulator")
        registry.stop()


# Another run holding dev's lock (as a deploy in another terminal would) until stdin closes.
LOCK_HOLDER = textwrap.dedent(
    """
    import sys
    from mlinfra import config, envlock

    with envlock.exclusive(config.environment("dev"), "deploy"):
        print("held", flush=True)
        sys.stdin.read()
    """
)


@pytest.mark.parametrize("command", ["deploy", "plan", "apply", "push", "destroy", "down"])
def test_a_second_changing_run_of_one_environment_is_refused(
    command: str, project: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    env = clean_env(state, MLINFRA_PROJECT_DIR=str(project))
    with subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True,
    ) as holder:  # fmt: skip
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            before = files_under(state)

            result = run_cli(
                env,
                command,
                "--env",
                "dev",
                "--yes" if command in ("apply", "destroy", "deploy") else "--json",
            )

            case = Case(
                (command,),
                1,
                ("Environment 'dev' is busy", f"pid {holder.pid}", "Wait for that run"),
            )
            _assert_short_error(result, case)
            assert files_under(state) == before
        finally:
            holder.kill()


# A writer interrupted between writing the temporary file and renaming it over the old one:
# it signals that it got there, then sleeps until the test's SIGINT arrives.
INTERRUPTED_WRITER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from mlinfra import tfvars

    real_fsync = os.fsync

    def fsync_then_wait(fd):
        real_fsync(fd)
        print("written", flush=True)
        time.sleep(60)

    tfvars.os.fsync = fsync_then_wait
    tfvars.write_image_tfvars(Path(sys.argv[1]), "127.0.0.1:5000/mlinfra-local:new")
    """
)


def test_an_interrupted_tfvars_write_leaves_the_old_file_intact(tmp_path: Path) -> None:
    from mlinfra import tfvars

    tfvars.write_image_tfvars(tmp_path, "127.0.0.1:5000/mlinfra-local:old")
    old = tfvars.image_tfvars_path(tmp_path).read_bytes()
    with subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED_WRITER, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as writer:
        assert writer.stdout is not None and writer.stdout.readline() == "written\n"
        assert len(list(tmp_path.glob(".image.auto.tfvars.json.*"))) == 1, "no temporary file"
        os.kill(writer.pid, signal.SIGINT)
        _, stderr = writer.communicate(timeout=30)

    assert writer.returncode != 0 and "KeyboardInterrupt" in stderr
    assert tfvars.image_tfvars_path(tmp_path).read_bytes() == old
    assert tfvars.read_image_tfvars(tmp_path) == "127.0.0.1:5000/mlinfra-local:old"
    assert not list(tmp_path.glob(".image.auto.tfvars.json.*")), "the temporary file was left"
