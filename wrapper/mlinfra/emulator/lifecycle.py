"""Start, find and stop the emulator process (one per state folder).

The running emulator is recorded in ``<state_dir>/pid`` and ``<state_dir>/port``; a second
``start`` finds it there and reuses it, so the CLI, the local runtime and the tests share one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from mlinfra.emulator.clients import boto3_session
from mlinfra.emulator.control import HEALTH_PATH
from mlinfra.errors import EmulatorError

DEFAULT_PORT = 4566
HOST = "127.0.0.1"
STATE_BUCKET = "mlinfra-local-tfstate"
START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Emulator:
    """A running emulator: where it answers and which process it is."""

    endpoint: str
    port: int
    pid: int
    state_dir: Path
    reused: bool

    @property
    def log_path(self) -> Path:
        return self.state_dir / "emulator.log"


def default_state_dir() -> Path:
    from mlinfra.config import state_dir

    return state_dir() / "emulator"


def _endpoint(port: int) -> str:
    return f"http://{HOST}:{port}"


def _answers(endpoint: str) -> bool:
    try:
        response = httpx.get(endpoint + HEALTH_PATH, timeout=5)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and response.json().get("emulator") == "mlinfra"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_emulator(pid: int, port: int) -> bool:
    """Whether ``pid`` is our emulator serving ``port`` (not a process that reused the pid)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:  # no /proc (macOS): trust an emulator that answers on the port
        return _alive(pid) and _answers(_endpoint(port))
    return b"mlinfra.emulator.server" in args and str(port).encode() in args


def _recorded(state_dir: Path) -> tuple[int, int] | None:
    """(pid, port) of the emulator recorded in ``state_dir`` when it still answers."""
    try:
        pid = int((state_dir / "pid").read_text())
        port = int((state_dir / "port").read_text())
    except (FileNotFoundError, ValueError):
        return None
    if _alive(pid) and _answers(_endpoint(port)):
        return pid, port
    return None


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex((HOST, port)) == 0


def _wait_until_answers(process: subprocess.Popen[bytes], endpoint: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
            raise EmulatorError(
                f"The AWS emulator exited with code {process.returncode} at start: {' | '.join(tail)}",
                f"Read {log_path}; check that moto[server]==5.2.5 is installed (`source scripts/bootstrap.sh`).",
            )
        if _answers(endpoint):
            return
        time.sleep(0.2)
    process.terminate()
    raise EmulatorError(
        f"The AWS emulator did not answer on {endpoint} within {START_TIMEOUT_S:.0f} s.",
        f"Read {log_path} for the reason.",
    )


def ensure_state_bucket(endpoint: str, bucket: str = STATE_BUCKET) -> None:
    """Create the S3 bucket that holds the local environment's Terraform state (idempotent)."""
    s3 = boto3_session(endpoint).client("s3")
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        s3.create_bucket(Bucket=bucket)


def start(port: int = DEFAULT_PORT, state_dir: Path | None = None) -> Emulator:
    """The emulator for ``state_dir``: the running one, or a new process on ``port``.

    Waits until it answers and creates the local Terraform state bucket. Raises
    :class:`EmulatorError` when the port is taken by something else or the process fails.
    """
    state_dir = state_dir or default_state_dir()
    state_dir.mkdir(parents=True, exist_ok=True)
    running = _recorded(state_dir)
    if running is not None:
        pid, running_port = running
        if running_port != port:
            raise EmulatorError(
                f"An emulator of {state_dir} already runs on port {running_port}, not {port}.",
                f"Use port {running_port}, or stop it first (mlinfra.emulator.stop).",
            )
        emulator = Emulator(_endpoint(port), port, pid, state_dir, reused=True)
    else:
        if _port_in_use(port):
            raise EmulatorError(
                f"Port {port} on {HOST} is already in use by another program.",
                "Stop that program or choose another port for the emulator.",
            )
        log_path = state_dir / "emulator.log"
        with log_path.open("ab") as log:
            # NOTE: a session of its own, so the emulator outlives the command that started it.
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "mlinfra.emulator.server",
                    "--host",
                    HOST,
                    "--port",
                    str(port),
                ],
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        _wait_until_answers(process, _endpoint(port), log_path)
        (state_dir / "pid").write_text(str(process.pid))
        (state_dir / "port").write_text(str(port))
        emulator = Emulator(_endpoint(port), port, process.pid, state_dir, reused=False)
    ensure_state_bucket(emulator.endpoint)
    return emulator


def stop(state_dir: Path | None = None, timeout_s: float = 10.0) -> bool:
    """Stop the emulator recorded in ``state_dir``; False when none was running.

    Its state (every emulated resource) is gone afterwards.
    """
    state_dir = state_dir or default_state_dir()
    try:
        pid = int((state_dir / "pid").read_text())
        port = int((state_dir / "port").read_text())
    except (FileNotFoundError, ValueError):
        return False
    # NOTE: identity, not a health check: a busy emulator that answers slowly must still stop.
    was_running = _alive(pid) and _is_emulator(pid, port)
    if was_running:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while _alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
            _reap(pid)
    for name in ("pid", "port"):
        (state_dir / name).unlink(missing_ok=True)
    return was_running


def _reap(pid: int) -> None:
    # The emulator may be our child (started in this process): collect it so it leaves no zombie.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
