"""``mlinfra bench``: load on a deployed environment's URL, from this machine.

Two phases: the guide's single-row request, then batches of ``batch_rows`` rows, each for the
same duration. The load generator is wrk (:mod:`mlinfra.wrk`) where it is on PATH, else a Python
one (httpx, one thread per connection) that reports its own CPU use, since it saturates long
before a real service does. Around each phase ``/metrics`` is read twice: the service's request
counter and its container's CPU counter give the CPU per request (one task only: with more, the
two reads may reach different tasks).

The pure parts (percentiles, the metrics text, budgets, the batch body) are tested in
tests/unit/wrapper/test_loadtest.py; tests/integration/cli/test_bench_cli.py runs it all.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from mlinfra import wrk
from mlinfra.errors import ConfigError
from mlinfra.pricing import Cost, PriceTable, cost

# The guide's request: bedrooms, bathrooms, square feet, year built.
GUIDE_FEATURES = (3, 2, 1500, 2020)
GUIDE_BODY = {"features": list(GUIDE_FEATURES)}
REPORTED_PERCENTILES = ("50", "90", "99", "99.9")
REQUEST_TIMEOUT_S = 5.0
# Seen from the python generator: at or above this many cores of client CPU, it was the limit.
CLIENT_BOUND_CORES = 0.85

Progress = Callable[[float, str], None]


def _quiet(_fraction: float, _text: str) -> None:
    pass


# ---------------------------------------------------------------------------------------------
# Pure parts
# ---------------------------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """The nearest-rank percentile ``p`` (0-100] of ascending ``sorted_values``."""
    if not sorted_values:
        raise ValueError("no values")
    if not 0 < p <= 100:
        raise ValueError(f"percentile {p} is not in (0, 100]")
    rank = math.ceil(p / 100 * len(sorted_values))
    return sorted_values[max(rank, 1) - 1]


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|m)\s*$")
_TO_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def parse_milliseconds(text: str, what: str) -> float:
    """``20ms``, ``1.5s``, ``500us``, ``2m`` -> milliseconds; a ConfigError otherwise."""
    found = _DURATION.match(text)
    if not found or float(found.group(1)) <= 0:
        raise ConfigError(
            f"{what} {text!r} is not understood.",
            "Use a positive number and a unit: 500us, 20ms, 1.5s, 2m.",
        )
    return float(found.group(1)) * _TO_MS[found.group(2)]


@dataclass(frozen=True)
class Verdict:
    ok: bool
    message: str


def budget_verdict(p99_ms: float | None, budget_ms: float | None) -> Verdict | None:
    """Whether the measured p99 is within the budget (None: no budget asked)."""
    if budget_ms is None:
        return None
    if p99_ms is None:
        return Verdict(False, f"no p99 was measured (no request answered); budget {budget_ms} ms")
    if p99_ms <= budget_ms:
        return Verdict(True, f"p99 {p99_ms:.2f} ms is within the budget of {budget_ms:g} ms")
    return Verdict(False, f"p99 {p99_ms:.2f} ms exceeds the budget of {budget_ms:g} ms")


def batch_body(rows: int) -> dict[str, Any]:
    """``rows`` plausible houses around the guide's, the same every run."""
    instances = [
        [1 + i % 5, 1 + i % 3, 600 + (i * 37) % 2900, 1950 + (i * 7) % 71] for i in range(rows)
    ]
    return {"instances": instances}


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def metric_sum(text: str, name: str, **labels: str) -> float | None:
    """The sum of the samples of ``name`` whose labels include ``labels`` in Prometheus' text
    format; None when there is none."""
    total, seen = 0.0, False
    wanted = [f'{key}="{value}"' for key, value in labels.items()]
    for line in text.splitlines():
        found = _SAMPLE.match(line)
        if not found or found.group(1) != name:
            continue
        label_text = found.group(2) or ""
        if all(item in label_text for item in wanted):
            total += float(found.group(3))
            seen = True
    return total if seen else None


PREDICT_REQUESTS = ("mlinfra_http_requests_total", {"route": "/predict"})
CONTAINER_CPU = "mlinfra_container_cpu_seconds_total"


@dataclass(frozen=True)
class ServiceCounters:
    predict_requests: float | None
    cpu_seconds: float | None


def service_counters(text: str) -> ServiceCounters:
    name, labels = PREDICT_REQUESTS
    return ServiceCounters(metric_sum(text, name, **labels), metric_sum(text, CONTAINER_CPU))


def cpu_us_per_request(before: ServiceCounters, after: ServiceCounters) -> float | None:
    """The service's CPU per /predict request between two reads of its counters."""
    if None in (before.cpu_seconds, after.cpu_seconds, before.predict_requests):
        return None
    if after.predict_requests is None:
        return None
    requests = after.predict_requests - before.predict_requests  # type: ignore[operator]
    if requests <= 0:
        return None
    return (after.cpu_seconds - before.cpu_seconds) / requests * 1e6  # type: ignore[operator]


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhaseResult:
    """One phase's load: every answered request counts in ``requests``; ``errors`` by kind
    (``http_<status>``, ``connect``, ``read``, ``write``, ``timeout``; wrk counts every status
    above 399 as ``http_4xx_5xx``)."""

    name: str
    rows_per_request: int
    generator: str
    connections: int
    seconds: float
    requests: int
    errors: dict[str, int]
    percentiles_ms: dict[str, float]
    max_ms: float | None
    cpu_us_per_request: float | None = None
    cpu_note: str | None = None
    client_cores: float | None = None
    ceiling_note: str | None = None

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def rows_per_s(self) -> float:
        return self.requests_per_s * self.rows_per_request

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def p(self, name: str) -> float | None:
        return self.percentiles_ms.get(name)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {
            "requests_per_s": round(self.requests_per_s, 1),
            "rows_per_s": round(self.rows_per_s, 1),
        }


@dataclass(frozen=True)
class Target:
    """Where the load goes: the environment's URL, the CA its certificate chains to (a
    rehearsal), its API key (never printed), and what it runs on, for the cost."""

    env: str
    url: str
    ca_file: str | None = None
    api_key: str | None = field(default=None, repr=False)
    tasks: int = 1
    instance_type: str | None = None
    task_cpu_units: int | None = None
    task_memory_mib: int | None = None

    def headers(self) -> dict[str, str]:
        base = {"Content-Type": "application/json"}
        return base | ({"X-API-Key": self.api_key} if self.api_key else {})

    def describe(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "url": self.url,
            "tasks": self.tasks,
            "instance_type": self.instance_type,
            "task_cpu_units": self.task_cpu_units,
            "task_memory_mib": self.task_memory_mib,
            "api_key_sent": self.api_key is not None,
        }


@dataclass(frozen=True)
class BenchReport:
    target: Target
    phases: tuple[PhaseResult, ...]
    cost: Cost | None
    cost_note: str | None
    budget: Verdict | None
    budget_ms: float | None

    @property
    def single(self) -> PhaseResult:
        return self.phases[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target.describe(),
            "phases": [p.to_dict() for p in self.phases],
            "cost": self.cost.to_dict() if self.cost else None,
            "cost_note": self.cost_note,
            "p99_budget_ms": self.budget_ms,
            "budget_ok": self.budget.ok if self.budget else None,
            "budget": self.budget.message if self.budget else None,
        }


# ---------------------------------------------------------------------------------------------
# Load generators
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhaseSpec:
    """One phase's load: ``rows`` per request in ``body``, for ``seconds``."""

    name: str
    body: str
    rows: int
    connections: int
    seconds: int


def _wrk_phase(target: Target, spec: PhaseSpec, progress: Progress) -> PhaseResult:
    name, body, rows, connections, seconds = (
        spec.name, spec.body, spec.rows, spec.connections, spec.seconds
    )  # fmt: skip
    # NOTE: wrk does not check certificates; the key goes in wrk's environment, not its argv.
    process = wrk.start_wrk(
        f"{target.url}/predict",
        body,
        connections=connections,
        seconds=seconds,
        api_key=target.api_key,
        local_only=False,
    )
    started = time.monotonic()
    while process.poll() is None:
        elapsed = time.monotonic() - started
        progress(min(1.0, elapsed / seconds), f"{name}: wrk, {connections} connections")
        time.sleep(0.2)
    result = wrk.finish_wrk(process, connections, seconds)
    errors = {
        "http_4xx_5xx": result.non_2xx,
        "connect": result.connect_errors,
        "read": result.read_errors,
        "write": result.write_errors,
        "timeout": result.timeouts,
    }
    return PhaseResult(
        name=name,
        rows_per_request=rows,
        generator="wrk",
        connections=connections,
        seconds=result.seconds,
        requests=result.requests,
        errors={kind: count for kind, count in errors.items() if count},
        percentiles_ms={p: us / 1000 for p, us in result.percentiles_us.items()},
        max_ms=result.max_us / 1000,
    )


def _error_kind(err: httpx.HTTPError) -> str:
    if isinstance(err, httpx.TimeoutException):
        return "timeout"
    if isinstance(err, httpx.ConnectError):
        return "connect"
    if isinstance(err, httpx.WriteError):
        return "write"
    if isinstance(err, httpx.ReadError | httpx.RemoteProtocolError):
        return "read"
    return err.__class__.__name__


def _python_phase(target: Target, spec: PhaseSpec, progress: Progress) -> PhaseResult:
    """One thread and one keep-alive connection per ``connections``; the client's own CPU use
    over the phase says whether it, not the service, was the limit."""
    name, body, rows, connections, seconds = (
        spec.name, spec.body, spec.rows, spec.connections, spec.seconds
    )  # fmt: skip
    deadline = time.monotonic() + seconds
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors: Counter[str] = Counter()
    lock = threading.Lock()
    content = body.encode()

    def drive(mine: list[float]) -> None:
        with httpx.Client(
            verify=target.ca_file or True,
            timeout=REQUEST_TIMEOUT_S,
            headers=target.headers(),
            limits=httpx.Limits(max_connections=1),
        ) as client:
            while time.monotonic() < deadline:
                sent = time.perf_counter()
                try:
                    status = client.post(f"{target.url}/predict", content=content).status_code
                except httpx.HTTPError as err:
                    with lock:
                        errors[_error_kind(err)] += 1
                    time.sleep(0.01)
                    continue
                mine.append(time.perf_counter() - sent)
                if status >= 400:
                    with lock:
                        errors[f"http_{status}"] += 1

    cpu_before, wall_before = time.process_time(), time.monotonic()
    threads = [threading.Thread(target=drive, args=(mine,), daemon=True) for mine in latencies]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        done = sum(len(mine) for mine in latencies)
        fraction = min(1.0, 1 - (deadline - time.monotonic()) / seconds)
        progress(fraction, f"{name}: python, {connections} connections, {done:,} answered")
        time.sleep(0.2)
    wall = time.monotonic() - wall_before
    cores = (time.process_time() - cpu_before) / wall if wall > 0 else 0.0
    every = sorted(value * 1000 for mine in latencies for value in mine)
    percentiles = {p: percentile(every, float(p)) for p in wrk.PERCENTILES} if every else {}
    rate = len(every) / wall if wall > 0 else 0.0
    ceiling = (
        f"the Python load generator used {cores:.2f} cores of this machine at {rate:,.0f} req/s:"
        " it was the limit, not the service (install wrk for a real figure)"
        if cores >= CLIENT_BOUND_CORES
        else f"the Python load generator used {cores:.2f} cores (under its ceiling of about one"
        " core: the GIL); its latencies include its own thread switches"
    )
    return PhaseResult(
        name=name,
        rows_per_request=rows,
        generator="python",
        connections=connections,
        seconds=wall,
        requests=len(every),
        errors=dict(errors),
        percentiles_ms=percentiles,
        max_ms=every[-1] if every else None,
        client_cores=round(cores, 3),
        ceiling_note=ceiling,
    )


# ---------------------------------------------------------------------------------------------
# A run
# ---------------------------------------------------------------------------------------------


def _get(target: Target, path: str) -> httpx.Response:
    return httpx.get(
        f"{target.url}{path}",
        headers=target.headers(),
        verify=target.ca_file or True,
        timeout=REQUEST_TIMEOUT_S,
    )


def preflight(target: Target, body: str) -> None:
    """One request before the load: a ConfigError saying what is wrong when it fails."""
    try:
        answer = httpx.post(
            f"{target.url}/predict",
            content=body.encode(),
            headers=target.headers(),
            verify=target.ca_file or True,
            timeout=REQUEST_TIMEOUT_S,
        )
    except httpx.HTTPError as err:
        raise ConfigError(
            f"{target.url}/predict does not answer ({err.__class__.__name__}: {err}).",
            f"Check the environment with `mlinfra status --env {target.env}`.",
        ) from None
    if answer.status_code == 401:
        raise ConfigError(
            f"{target.url}/predict asks for an API key and none was found.",
            "Set MLINFRA_API_KEY in the environment, or give the environment its key with"
            " `mlinfra secret set`.",
        )
    if answer.status_code != 200:
        raise ConfigError(
            f"{target.url}/predict answered {answer.status_code} to the guide's request:"
            f" {answer.text[:200]}",
            "mlinfra bench sends the guide's four features (bedrooms, bathrooms, square feet,"
            " year built): deploy the project's model, or check the service's logs.",
        )


def _counters(target: Target) -> ServiceCounters | None:
    try:
        answer = _get(target, "/metrics")
    except httpx.HTTPError:
        return None
    return service_counters(answer.text) if answer.status_code == 200 else None


def run_phase(
    target: Target,
    name: str,
    rows: int,
    *,
    connections: int,
    seconds: int,
    generator: str,
    progress: Progress = _quiet,
) -> PhaseResult:
    body = json.dumps(GUIDE_BODY if rows == 1 else batch_body(rows))
    drive = _wrk_phase if generator == "wrk" else _python_phase
    before = _counters(target) if target.tasks == 1 else None
    result = drive(target, PhaseSpec(name, body, rows, connections, seconds), progress)
    after = _counters(target) if before is not None else None
    cpu = cpu_us_per_request(before, after) if before and after else None
    if cpu is not None:
        note = "the service's container CPU over its /predict count (/metrics)"
    elif target.tasks != 1:
        note = f"not read: {target.tasks} tasks, and /metrics answers from one of them"
    else:
        note = "not readable: /metrics has no mlinfra_container_cpu_seconds_total"
    return PhaseResult(**(asdict(result) | {"cpu_us_per_request": cpu, "cpu_note": note}))


def choose_generator(requested: str) -> str:
    """``auto``: wrk when it is on PATH, else python."""
    if requested == "auto":
        return "wrk" if wrk.wrk_path() else "python"
    if requested == "wrk" and wrk.wrk_path() is None:
        raise ConfigError(
            "--generator wrk: wrk is not on PATH.",
            "Install it (Debian/Ubuntu: apt-get install wrk; macOS: brew install wrk), or use"
            " --generator python.",
        )
    return requested


def run_bench(
    target: Target,
    *,
    seconds: int,
    connections: int,
    batch_rows: int,
    generator: str,
    progress: Progress = _quiet,
) -> list[PhaseResult]:
    """The single-row phase, then (``batch_rows`` > 1) the batch phase at the same load."""
    preflight(target, json.dumps(GUIDE_BODY))
    phases = [
        run_phase(
            target,
            "single row",
            1,
            connections=connections,
            seconds=seconds,
            generator=generator,
            progress=progress,
        )
    ]
    if batch_rows > 1:
        phases.append(
            run_phase(
                target,
                f"batch of {batch_rows}",
                batch_rows,
                connections=connections,
                seconds=seconds,
                generator=generator,
                progress=progress,
            )
        )
    return phases


def cost_of(
    target: Target, phases: Sequence[PhaseResult], table: PriceTable
) -> tuple[Cost | None, str | None]:
    """The cost at the measured rates, or why there is none."""
    if target.instance_type is None:
        return (
            None,
            "the environment's instance type is not readable (no capacity provider's launch template)",
        )
    if target.task_cpu_units is None or target.task_memory_mib is None:
        return None, "the task definition has no CPU or memory size"
    single = phases[0]
    batch = phases[1] if len(phases) > 1 else None
    found = cost(
        table,
        target.instance_type,
        target.task_cpu_units,
        target.task_memory_mib,
        target.tasks,
        requests_per_s=single.requests_per_s - single.error_count / max(single.seconds, 1e-9),
        rows_per_s=batch.rows_per_s if batch and not batch.error_count else None,
    )
    if found is None:
        return None, (
            f"{target.instance_type} is not in the price table of {table.date} ({table.path}):"
            " add it there or give --prices FILE"
        )
    return found, None


def bench_report(
    target: Target, phases: Sequence[PhaseResult], table: PriceTable, budget_ms: float | None
) -> BenchReport:
    found, note = cost_of(target, phases, table)
    return BenchReport(
        target=target,
        phases=tuple(phases),
        cost=found,
        cost_note=note,
        budget=budget_verdict(phases[0].p("99"), budget_ms),
        budget_ms=budget_ms,
    )
