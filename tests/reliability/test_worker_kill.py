"""A gunicorn worker killed with SIGKILL under load: the master replaces it, and the only
requests lost are the ones on that worker's connections at that instant."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from mlinfra.wrk import finish_wrk, start_wrk
from tests.support.reliability import ServiceFactory, wait_for_workers
from tests.support.serving import GUIDE_BODY

pytestmark = pytest.mark.integration

CONNECTIONS = 64
SECONDS = 8

# Runs inside the container (same uid as the workers): picks a worker (a child of gunicorn,
# which is PID 1), counts its established TCP connections, each carrying at most one request
# (wrk does not pipeline), then kills it with SIGKILL.
KILL_ONE_WORKER = r"""
import json, os, signal

def parent(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(ln.split()[1]) for ln in status if ln.startswith("PPid:"))
    except OSError:
        return None

workers = sorted(int(p) for p in os.listdir("/proc") if p.isdigit() and parent(p) == 1)
victim = workers[0]
links = (os.readlink(f"/proc/{victim}/fd/{fd}") for fd in os.listdir(f"/proc/{victim}/fd"))
inodes = {link[8:-1] for link in links if link.startswith("socket:[")}
established = 0
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    with open(table) as rows:
        for row in list(rows)[1:]:
            cols = row.split()
            established += cols[3] == "01" and cols[9] in inodes
os.kill(victim, signal.SIGKILL)
print(json.dumps({"victim": victim, "workers": workers, "in_flight": established}))
"""


def test_a_killed_worker_is_replaced_and_loses_only_its_in_flight_requests(
    start: ServiceFactory,
) -> None:
    container, url = start("kill", GUNICORN_WORKERS="2")
    wait_for_workers(container, 2)
    wrk = start_wrk(
        f"{url}/predict", json.dumps(GUIDE_BODY), connections=CONNECTIONS, seconds=SECONDS
    )
    time.sleep(3)
    killed = container.exec(["python3", "-c", KILL_ONE_WORKER])
    assert killed.exit_code == 0, killed.output.decode()
    kill = json.loads(killed.output)
    result = finish_wrk(wrk, CONNECTIONS, SECONDS)
    print(f"\nkill: {kill}\nload: {result.to_dict()}")

    booted = wait_for_workers(container, 3)
    assert len(kill["workers"]) == 2
    # One more boot than at start: the replacement, with a pid of its own.
    assert len(booted) == 3 and kill["victim"] in booted[:2] and booted[2] not in booted[:2]
    assert result.non_2xx == 0
    assert result.socket_errors <= kill["in_flight"]
    assert kill["in_flight"] > 0, "the killed worker held no connection: nothing was tested"
    # The service kept serving after the kill (about 5 of the 8 seconds).
    assert result.requests_per_s > 100
    assert httpx.get(f"{url}/ready").status_code == 200
