"""The one wrk driver of the tests and the benchmarks: load on 127.0.0.1 only, bounded in
time, read back from one machine-readable line that ``wrk_report.lua`` prints (no parsing of
wrk's human-formatted units)."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WRK = "/usr/bin/wrk"
WRK_SCRIPT = Path(__file__).with_name("wrk_report.lua")
# A request slower than this counts as a timeout (wrk's own default is 2 s).
TIMEOUT_S = 5
PERCENTILES = ("1", "5", "10", "25", "50", "75", "90", "95", "99", "99.9")


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


def wrk_command(url: str, *, connections: int, seconds: int, threads: int = 2) -> list[str]:
    if not Path(WRK).exists():
        raise RuntimeError(f"{WRK} is missing: run `./bin/task setup:test-tools` (Debian's wrk).")
    return [
        WRK, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", f"{TIMEOUT_S}s",
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
) -> subprocess.Popen[str]:
    """wrk in the background: ``POST url`` with the JSON text ``body`` (and ``X-API-Key``)."""
    if not url.startswith("http://127.0.0.1:"):
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
