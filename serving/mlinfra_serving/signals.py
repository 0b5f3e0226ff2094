"""The model's signals: request counts, latency and drift, written as EMF lines per model version.

Each worker keeps its own figures. The request path only appends (a status, a latency, the
request's rows and predictions); every ``flush_seconds`` (checked on the next request) the worker
bins what it gathered against the training reference, adds it to a sliding window of
``window_seconds`` and writes:

- one document with dimension ``ModelVersion``: ``Requests``, ``Status4xx``, ``Status5xx``
  (counts since the last flush), ``Latency`` (at most 100 of the flush's latencies, in ms: EMF's
  limit for an array; every one of them when fewer came), ``LatencyP99`` (the worker's p99 over
  the flush), ``Rows`` and ``PredictionPSI`` (the window's predictions against training);
- one document per feature with dimensions ``ModelVersion`` and ``Feature``: ``PSI``,
  ``OutOfRangeRate`` (share of the window's values outside the training span) and
  ``MissingRate`` (share of requests refused because the feature was missing or null).

PSI is written only once the window holds ``min_rows`` rows (fewer give a noisy PSI). A worker
with no requests writes nothing: its window keeps until traffic resumes.

PERF: the request path costs a few appends and a clock read; the binning (numpy) runs once per
flush over the rows gathered, up to ``MAX_ROWS_PER_FLUSH`` (``python -m bench.serving``:
docs/performance.md). The flush runs on the event loop, so its cost is every waiting request's
tail: 6 ms at 40,000 requests since the last flush, against 35 ms with a list of arrays.
"""

from __future__ import annotations

import math
import os
import random
import time
from array import array
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from mlinfra_serving import emf
from mlinfra_serving.config import SettingsError
from mlinfra_serving.logs import log_event, write_line
from mlinfra_serving.reference import Histogram, Reference, bin_index, psi

NAMESPACE = "mlinfra"
PREDICT_ROUTE = "/predict"


@dataclass(frozen=True)
class SignalSettings:
    """``SIGNALS_NAMESPACE``, ``SIGNALS_FLUSH_SECONDS``, ``SIGNALS_WINDOW_SECONDS``,
    ``SIGNALS_MIN_ROWS`` (``SIGNALS_FLUSH_SECONDS=0`` turns the signals off)."""

    namespace: str = NAMESPACE
    flush_seconds: float = 10.0
    window_seconds: float = 300.0
    min_rows: int = 100

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> SignalSettings:
        def number(name: str, default: float) -> float:
            raw = env.get(name, "")
            try:
                value = float(raw) if raw else default
            except ValueError:
                value = -1.0
            if value < 0:
                raise SettingsError(
                    f"{name}={raw!r} is not a number >= 0; set it to e.g. {default:g}."
                )
            return value

        return cls(
            namespace=env.get("SIGNALS_NAMESPACE") or NAMESPACE,
            flush_seconds=number("SIGNALS_FLUSH_SECONDS", cls.flush_seconds),
            window_seconds=number("SIGNALS_WINDOW_SECONDS", cls.window_seconds),
            min_rows=int(number("SIGNALS_MIN_ROWS", cls.min_rows)),
        )


@dataclass
class _Bucket:
    """One flush's binned figures."""

    at: float
    rows: int
    requests: int
    counts: list[np.ndarray]
    out_of_range: np.ndarray
    missing: np.ndarray
    prediction_counts: np.ndarray


# Rows a flush bins at most; the rest of a flush's rows are counted (Rows) but not binned.
# PERF and memory: 10 s of 1,000-row batches would otherwise hold millions of rows per worker.
MAX_ROWS_PER_FLUSH = 200_000


class _RowBuffer:
    """A flush's rows and predictions, appended in place into arrays that double when full.

    PERF (the tail): a list of one small array per request took the flush 35 ms to join at
    40,000 requests, on the event loop, so every request waiting in the worker waited that long
    too (the p99.9 of bench/serving.py); the arrays are binned where they lie.
    """

    def __init__(self, width: int, capacity: int = 1024) -> None:
        self._rows = np.empty((capacity, width), dtype=np.float64)
        self._predictions = np.empty(capacity, dtype=np.float64)
        self.count = 0
        self.seen = 0

    def append(self, rows: np.ndarray, predictions: list[float]) -> None:
        self.seen += len(rows)
        start = self.count
        end = min(start + len(rows), MAX_ROWS_PER_FLUSH)
        if end <= start:
            return
        if end > len(self._rows):
            capacity = min(max(end, 2 * len(self._rows)), MAX_ROWS_PER_FLUSH)
            rows_before, predictions_before = self.rows, self.predictions
            self._rows = np.empty((capacity, rows_before.shape[1]), dtype=np.float64)
            self._predictions = np.empty(capacity, dtype=np.float64)
            self._rows[:start], self._predictions[:start] = rows_before, predictions_before
        self._rows[start:end] = rows[: end - start]
        self._predictions[start:end] = predictions[: end - start]
        self.count = end

    @property
    def rows(self) -> np.ndarray:
        return self._rows[: self.count]

    @property
    def predictions(self) -> np.ndarray:
        return self._predictions[: self.count]


@dataclass
class _Pending:
    """What the request path appended since the last flush."""

    width: int
    requests: int = 0
    client_errors: int = 0
    server_errors: int = 0
    # PERF: a C array of doubles, which numpy reads in place at the flush (a list of 40,000
    # floats took 2 ms to convert, on the event loop).
    latencies_ms: array[float] = field(default_factory=lambda: array("d"))
    missing: list[int] = field(default_factory=list)
    predicted: _RowBuffer = field(init=False)

    def __post_init__(self) -> None:
        self.predicted = _RowBuffer(self.width)


class Signals:
    def __init__(
        self,
        reference: Reference,
        version: str,
        settings: SignalSettings,
        write: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._names = list(reference.features)
        self._histograms: list[Histogram] = list(reference.features.values())
        self._edges = [np.asarray(h.edges) for h in self._histograms]
        self._shares = [h.shares for h in self._histograms]
        self._low = np.asarray([h.low for h in self._histograms])
        self._high = np.asarray([h.high for h in self._histograms])
        self._prediction = reference.prediction
        self._version = version
        self._settings = settings
        self._write = write
        self._clock = clock
        self._window: deque[_Bucket] = deque()
        self._pending = _Pending(len(self._names))
        self._due = clock() + settings.flush_seconds

    @property
    def feature_names(self) -> list[str]:
        return self._names

    # The request path: appends only.

    def request(self, status: int, seconds: float) -> None:
        pending = self._pending
        pending.requests += 1
        if status >= 500:
            pending.server_errors += 1
        elif status >= 400:
            pending.client_errors += 1
        pending.latencies_ms.append(seconds * 1000)
        if self._clock() >= self._due:
            self.flush()

    def predicted(self, rows: np.ndarray, predictions: list[float]) -> None:
        self._pending.predicted.append(rows, predictions)

    def missing(self, feature: int) -> None:
        self._pending.missing.append(feature)

    # Once per flush.

    def flush(self) -> None:
        now = self._clock()
        self._due = now + self._settings.flush_seconds
        pending, self._pending = self._pending, _Pending(len(self._names))
        if pending.requests == 0:
            return
        self._window.append(self._bucket(pending, now))
        while self._window and self._window[0].at <= now - self._settings.window_seconds:
            self._window.popleft()
        timestamp_ms = int(time.time() * 1000)
        for doc in self.documents(pending, timestamp_ms):
            self._write(emf.line(doc))

    def _bucket(self, pending: _Pending, now: float) -> _Bucket:
        n = len(self._names)
        rows, predictions = pending.predicted.rows, pending.predicted.predictions
        counts = [
            np.bincount(bin_index(edges, rows[:, i]), minlength=len(edges) + 1)
            for i, edges in enumerate(self._edges)
        ]
        outside = ((rows < self._low) | (rows > self._high)).sum(axis=0)
        missing = np.bincount(np.asarray(pending.missing, dtype=np.int64), minlength=n)[:n]
        edges = np.asarray(self._prediction.edges)
        prediction_counts = np.bincount(bin_index(edges, predictions), minlength=len(edges) + 1)
        return _Bucket(
            now, len(rows), pending.requests, counts, outside, missing, prediction_counts
        )

    def documents(self, pending: _Pending, timestamp_ms: int) -> list[dict[str, object]]:
        """The EMF documents of one flush (``pending``) and of the window as it now is."""
        rows = sum(b.rows for b in self._window)
        requests = sum(b.requests for b in self._window)
        enough = rows >= max(1, self._settings.min_rows)
        latencies = pending.latencies_ms
        sample = latencies if len(latencies) <= emf.MAX_VALUES else random.sample(latencies, 100)
        prediction_psi = (
            psi(
                self._prediction.shares, np.sum([b.prediction_counts for b in self._window], axis=0)
            )
            if enough
            else math.nan
        )
        version = {"ModelVersion": self._version}
        feature_psi = [
            psi(self._shares[i], np.sum([b.counts[i] for b in self._window], axis=0))
            if enough
            else float("nan")
            for i in range(len(self._names))
        ]
        docs = [
            emf.document(
                self._settings.namespace,
                version,
                [
                    emf.Directive(
                        [
                            emf.Metric("Requests", pending.requests, "Count"),
                            emf.Metric("Status4xx", pending.client_errors, "Count"),
                            emf.Metric("Status5xx", pending.server_errors, "Count"),
                            emf.Metric("Latency", [round(v, 3) for v in sample], "Milliseconds"),
                            emf.Metric(
                                "LatencyP99",
                                float(np.percentile(np.frombuffer(latencies), 99, method="higher")),
                                "Milliseconds",
                            ),
                            emf.Metric("Rows", pending.predicted.seen, "Count"),
                            emf.Metric("PredictionPSI", prediction_psi),
                        ]
                    ),
                    # The drift alarm's metric: the largest feature PSI, per version and over
                    # every version (no dimension: an alarm need not know the version).
                    emf.Directive(
                        [emf.Metric("MaxFeaturePSI", max(feature_psi) if enough else math.nan)],
                        [["ModelVersion"], []],
                    ),
                ],
                timestamp_ms,
                {"window_rows": rows},
            )
        ]
        for i, name in enumerate(self._names):
            outside = sum(int(b.out_of_range[i]) for b in self._window)
            missing = sum(int(b.missing[i]) for b in self._window)
            metrics = [
                emf.Metric("PSI", feature_psi[i]),
                emf.Metric("OutOfRangeRate", 100 * outside / rows if rows else math.nan, "Percent"),
                emf.Metric("MissingRate", 100 * missing / requests, "Percent"),
            ]
            docs.append(
                emf.document(
                    self._settings.namespace,
                    {**version, "Feature": name},
                    [emf.Directive(metrics, [["ModelVersion", "Feature"], ["Feature"]])],
                    timestamp_ms,
                    {"window_rows": rows},
                )
            )
        return docs


def field_feature(field_path: str | None, names: list[str]) -> int | None:
    """The feature a refusal's ``field`` names (``features[2]``, ``instances[0][2]``,
    ``records[3].sqft_living``), or None."""
    if not field_path:
        return None
    if field_path.endswith("]"):
        start = field_path.rfind("[")
        index = field_path[start + 1 : -1]
        if index.isdigit() and int(index) < len(names):
            return int(index)
        return None
    name = field_path.rsplit(".", 1)[-1]
    return names.index(name) if name in names else None


def load(
    reference: Reference | None, version: str, env: Mapping[str, str] = os.environ
) -> Signals | None:
    """The signals of a model with ``reference``; None (said once in the log) when the model has
    no reference (an artifact trained before them) or ``SIGNALS_FLUSH_SECONDS=0``."""
    settings = SignalSettings.from_env(env)
    if settings.flush_seconds == 0:
        log_event("signals off", reason="SIGNALS_FLUSH_SECONDS=0")
        return None
    if reference is None:
        log_event(
            "signals off",
            reason="the model's metadata.json has no training reference",
            fix="retrain with mlinfra train (it records the reference) and rebuild the image",
        )
        return None
    return Signals(reference, version, settings, write_line)
