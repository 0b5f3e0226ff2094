"""Live HTTP probes of the service through its public URL (``/health``, ``/ready``)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import httpx

PROBE_PATHS = ("/health", "/ready")
PROBE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Probe:
    """One GET through the URL: ``ok`` only for HTTP 200."""

    path: str
    ok: bool
    status: int | None
    latency_ms: float | None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def probe(
    base_url: str, path: str, timeout_s: float = PROBE_TIMEOUT_S, ca_file: str | None = None
) -> Probe:
    """GET ``base_url + path`` once and time it; a connection failure is a failed probe.
    ``ca_file``: the CA to trust beside the system's (a rehearsal's local one)."""
    started = time.perf_counter()
    verify: str | bool = ca_file or True
    try:
        response = httpx.get(base_url.rstrip("/") + path, timeout=timeout_s, verify=verify)
    except httpx.HTTPError as err:
        return Probe(path, False, None, None, f"{err.__class__.__name__}: {err}")
    latency_ms = round((time.perf_counter() - started) * 1000, 1)
    return Probe(path, response.status_code == 200, response.status_code, latency_ms)


def probe_all(
    base_url: str, paths: tuple[str, ...] = PROBE_PATHS, ca_file: str | None = None
) -> list[Probe]:
    return [probe(base_url, path, ca_file=ca_file) for path in paths]
