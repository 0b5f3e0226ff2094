"""The local AWS: moto server with mlinfra's compatibility patches, as a process of its own.

Public interface (docs/team-contract.md)::

    emulator = start(port=4566, state_dir=None)   # reuses a running one
    env = client_env(emulator.endpoint)          # for terraform / subprocesses
    session = boto3_session(emulator.endpoint)
    set_service_counts(emulator.endpoint, cluster, service, running, pending)
    read_gaps(emulator.endpoint, since=0)       # the 5xx moto answered (each a gap to close)
    stop(state_dir=None)

Callers import from here. Two submodules are public too: ``mlinfra.emulator.testing`` (pytest
fixtures and an in-process server; it imports pytest, so it is not re-exported) and
``mlinfra.emulator.patches`` (each patch, named in a test that applies only it).
"""

from mlinfra.emulator.clients import (
    REGION,
    boto3_session,
    client_env,
    read_gaps,
    set_service_counts,
)
from mlinfra.emulator.lifecycle import (
    DEFAULT_PORT,
    STATE_BUCKET,
    Emulator,
    ensure_state_bucket,
    start,
    stop,
)

__all__ = [
    "DEFAULT_PORT",
    "REGION",
    "STATE_BUCKET",
    "Emulator",
    "boto3_session",
    "client_env",
    "ensure_state_bucket",
    "read_gaps",
    "set_service_counts",
    "start",
    "stop",
]
