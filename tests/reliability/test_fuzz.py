"""Schemathesis against the container's own /openapi.json: every check, API key enforced."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.reliability import (
    ServiceFactory,
    booted_workers,
    request_log,
    wait_for_request_log,
    wait_for_workers,
)

pytestmark = pytest.mark.integration

ST = Path(sys.executable).with_name("st")
CONFIG = Path(__file__).with_name("schemathesis.toml")
API_KEY = "fuzz-key-of-the-reliability-suite"
# Test cases per operation: /predict takes most of them; the probes have no inputs to vary.
MAX_EXAMPLES = 900
MIN_REQUESTS = 1000


def test_fuzzing_finds_no_5xx_no_dropped_connection_no_worker_restart(
    start: ServiceFactory, tmp_path: Path
) -> None:
    container, url = start("fuzz", GUNICORN_WORKERS="2", API_KEY=API_KEY)
    workers_at_start = wait_for_workers(container, 2)
    before = len(request_log(container))
    command = [
        str(ST), "--no-color", "--config-file", str(CONFIG), "run", f"{url}/openapi.json",
        "--checks", "all", "--max-examples", str(MAX_EXAMPLES), "--workers", "2",
        "--header", f"X-API-Key: {API_KEY}",
        # A dropped connection must fail the run, not be retried away.
        "--request-retries", "0", "--request-timeout", "5", "--output-truncate", "true",
    ]  # fmt: skip
    # cwd: schemathesis and hypothesis keep their caches in the working directory.
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    report = "\n".join(run.stdout.splitlines()[-40:])
    print(f"\n{report}")

    assert run.returncode == 0, report
    logged = wait_for_request_log(container, before + MIN_REQUESTS)
    statuses = [line["status"] for line in logged[before:]]
    assert len(statuses) >= MIN_REQUESTS, f"only {len(statuses)} requests reached the service"
    assert [s for s in statuses if s >= 500] == []
    assert booted_workers(container) == workers_at_start
    assert len(workers_at_start) == 2
