"""Where an environment run on this machine lives: its emulator and its load balancer's ports.

The local environment keeps the ports its settings name (4566, 8080, 8443 by default). A
rehearsed environment gets free ports once, kept in ``.mlinfra/<env>-rehearsal/ports.json``,
and an emulator of its own, so rehearsals run side by side and stop one at a time.
"""

from __future__ import annotations

import contextlib
import json
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mlinfra import config, tfvars

EMULATOR_PORT_VARIABLE = "MLINFRA_EMULATOR_PORT"
PROXY_PORT_VARIABLE = "MLINFRA_PROXY_PORT"
PROXY_TLS_PORT_VARIABLE = "MLINFRA_PROXY_TLS_PORT"
DEFAULT_PROXY_PORT = 8080
DEFAULT_PROXY_TLS_PORT = 8443
PORTS_FILE = "ports.json"


@dataclass(frozen=True)
class LocalPlaces:
    emulator_port: int
    emulator_dir: Path
    proxy_port: int
    tls_port: int

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "emulator_dir": str(self.emulator_dir)}


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def places(env: config.Environment) -> LocalPlaces:
    """The emulator and proxy ports of ``env`` run on this machine."""
    from mlinfra import emulator
    from mlinfra.emulator.lifecycle import default_state_dir

    if not env.rehearsed:
        return LocalPlaces(
            config.port_setting(EMULATOR_PORT_VARIABLE, emulator.DEFAULT_PORT),
            default_state_dir(),
            config.port_setting(PROXY_PORT_VARIABLE, DEFAULT_PROXY_PORT),
            config.port_setting(PROXY_TLS_PORT_VARIABLE, DEFAULT_PROXY_TLS_PORT),
        )
    path = env.state_dir / PORTS_FILE
    try:
        kept = json.loads(path.read_text())
        ports = (int(kept["emulator"]), int(kept["http"]), int(kept["https"]))
    except (FileNotFoundError, KeyError, TypeError, ValueError):
        ports = (_free_port(), _free_port(), _free_port())
        # NOTE: chosen once; the same rehearsal keeps its URL across commands.
        tfvars.write_atomic_json(path, {"emulator": ports[0], "http": ports[1], "https": ports[2]})
    return LocalPlaces(ports[0], env.state_dir / "emulator", ports[1], ports[2])
