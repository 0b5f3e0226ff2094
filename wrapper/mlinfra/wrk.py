"""The one wrk driver of ``mlinfra bench``, the tests and the benchmarks: bounded in time, read
back from one machine-readable line that ``wrk_report.lua`` prints (no parsing of wrk's
human-formatted units). Load goes to 127.0.0.1 only unless the caller says otherwise
(``mlinfra bench`` drives an environment's own URL)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WRK = "wrk"
WRK_SCRIPT = Path(__file__).with_name("wrk_report.lua")
# A request slower than this counts as a timeout (wrk's own default is 2 s).
TIMEOUT_S = 5
PERCENTILES = ("1", "5", "10", "25", "50", "75", "90", "95", "99", "99.9", "99.99")


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run saw. ``non_2xx`` is wrk's status error count (HTTP status > 399);
    ``percentiles_us`` maps "50", "99", "99.9"... to a latency in microseconds."""

    connections: int
    seconds: float
    requests: int
    non_2xx: int
    connect_errors: int
    read_errors: int
    write_errors: int
    timeouts: int
    max_us: int
    percentiles_us: dict[str, int]

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds

    @property
    def socket_errors(self) -> int:
        return self.connect_errors + self.read_errors + self.write_errors + self.timeouts

    def latency_ms(self, percentile: str) -> float:
        return self.percentiles_us[percentile] / 1000

    def to_dict(self) -> dict[str, Any]:
        return {
            "connections": self.connections,
            "seconds": round(self.seconds, 2),
            "requests": self.requests,
            "requests_per_s": round(self.requests_per_s, 1),
            "p50_ms": self.latency_ms("50"),
            "p99_ms": self.latency_ms("99"),
            "max_ms": self.max_us / 1000,
            "non_2xx": self.non_2xx,
            "connect_errors": self.connect_errors,
            "read_errors": self.read_errors,
            "write_errors": self.write_errors,
            "timeouts": self.timeouts,
            "socket_errors": self.socket_errors,
        }


def wrk_path() -> str | None:
    """The wrk on PATH, or None."""
    return shutil.which(WRK)


def wrk_command(url: str, *, connections: int, seconds: int, threads: int = 2) -> list[str]:
    found = wrk_path()
    if found is None:
        raise RuntimeError(f"{WRK} is missing: run `./bin/task setup:test-tools` (Debian's wrk).")
    return [
        found, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", f"{TIMEOUT_S}s",
        "-s", str(WRK_SCRIPT), url,
    ]  # fmt: skip


def parse_wrk(stdout: str, connections: int) -> WrkResult:
    line = next((ln for ln in stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary line; its output was:\n{stdout[-2000:]}")
    raw = json.loads(line.removeprefix("WRK_JSON "))
    return WrkResult(
        connections=connections,
        seconds=raw["duration_us"] / 1e6,
        requests=raw["requests"],
        non_2xx=raw["status"],
        connect_errors=raw["connect"],
        read_errors=raw["read"],
        write_errors=raw["write"],
        timeouts=raw["timeout"],
        max_us=raw["max_us"],
        percentiles_us=raw["percentiles_us"],
    )


def start_wrk(
    url: str,
    body: str,
    *,
    connections: int,
    seconds: int,
    threads: int = 2,
    api_key: str | None = None,
    local_only: bool = True,
) -> subprocess.Popen[str]:
    """wrk in the background: ``POST url`` with the JSON text ``body`` (and ``X-API-Key``, passed
    in wrk's environment, never its argv). ``local_only``: refuse any URL but 127.0.0.1's."""
    if local_only and not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"load only goes to 127.0.0.1, not {url}")
    return subprocess.Popen(
        wrk_command(url, connections=connections, seconds=seconds, threads=threads),
        env={**os.environ, "WRK_BODY": body, "WRK_API_KEY": api_key or ""},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish_wrk(process: subprocess.Popen[str], connections: int, seconds: int) -> WrkResult:
    stdout, _ = process.communicate(timeout=seconds + 30)
    return parse_wrk(stdout, connections)


def run_wrk(url: str, body: str, *, connections: int, seconds: int, **options: Any) -> WrkResult:
    """One bounded wrk run of ``POST url`` with ``body`` (``options``: those of start_wrk)."""
    process = start_wrk(url, body, connections=connections, seconds=seconds, **options)
    return finish_wrk(process, connections, seconds)
