"""Load held on loopback: no non-2xx, no socket errors (the 60 s figure is bench/reliability)."""

from __future__ import annotations

import json

import pytest

from mlinfra.wrk import run_wrk
from tests.support.reliability import ServiceFactory, booted_workers, wait_for_workers
from tests.support.serving import GUIDE_BODY

pytestmark = pytest.mark.integration

CONNECTIONS = 64
SECONDS = 10


def test_64_connections_for_10_s_lose_nothing(start: ServiceFactory) -> None:
    container, url = start("load", GUNICORN_WORKERS="2")
    workers = wait_for_workers(container, 2)
    result = run_wrk(
        f"{url}/predict", json.dumps(GUIDE_BODY), connections=CONNECTIONS, seconds=SECONDS
    )
    print(f"\nload: {result.to_dict()}")
    assert result.non_2xx == 0
    assert result.socket_errors == 0
    # A floor far below the measured rate, so a stalled service cannot pass on zero errors.
    assert result.requests_per_s > 200
    assert booted_workers(container) == workers
