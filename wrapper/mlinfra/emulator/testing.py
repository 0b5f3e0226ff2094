"""Test helpers: an emulator per test session or module, on a random free port.

In a test module (or a conftest.py you own)::

    from mlinfra.emulator.testing import emulator_fixture

    emulator = emulator_fixture(scope="module")    # a pytest fixture named "emulator"

    def test_something(emulator):                    # an mlinfra.emulator.Emulator
        ecs = boto3_session(emulator.endpoint).client("ecs")

Each fixture starts its own emulator process (own state folder, own port) and stops it at the
end of its scope, so parallel runs never share state. :func:`in_process` serves moto in a
thread instead, with only the patches a unit test names.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import pytest

from mlinfra.emulator import patches
from mlinfra.emulator.lifecycle import HOST, Emulator, start, stop


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def emulator_fixture(scope: str = "session", name: str = "emulator") -> Any:
    """A pytest fixture (``scope``, called ``name``) yielding a started emulator process."""

    @pytest.fixture(scope=scope, name=name)  # type: ignore[call-overload, untyped-decorator]
    def _emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
        state_dir = tmp_path_factory.mktemp("emulator")
        emulator = start(port=free_port(), state_dir=state_dir)
        try:
            yield emulator
        finally:
            stop(state_dir)

    return _emulator


@contextmanager
def in_process(*applied: ModuleType) -> Iterator[str]:
    """Serve moto with only the ``applied`` patches in a thread; yields the endpoint.

    For unit tests of one patch: with none named, moto runs as released, so a test can show
    the gap the patch closes.
    """
    from mlinfra.emulator.server import make_emulator_server

    with patches.applied(*applied):
        server = make_emulator_server(HOST, 0)  # the OS picks a free port
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://{HOST}:{server.server_port}"
        finally:
            server.shutdown()
            thread.join()
