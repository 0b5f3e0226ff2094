"""``mlinfra bench --plot FILE``: each phase's latency against percentile, the percentile axis
in "nines" so the tail (p99, p99.9) gets as much room as the median. matplotlib is the optional
extra ``mlinfra[plot]``; without it, one line says how to install it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from mlinfra.errors import ConfigError

if TYPE_CHECKING:
    from mlinfra.loadtest import BenchReport

INSTALL_HINT = "pip install 'mlinfra[plot]' (matplotlib)"


def nines(percentile: float) -> float:
    """p90 -> 1, p99 -> 2, p99.9 -> 3."""
    return -math.log10(1 - percentile / 100)


def require_matplotlib() -> None:
    """A ConfigError with the install line when matplotlib is missing (checked before a run)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:
        raise ConfigError(
            "--plot needs matplotlib, which is not installed.", INSTALL_HINT
        ) from None


def latency_plot(report: BenchReport, target: Path) -> Path:
    require_matplotlib()
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 4.5), dpi=110)
    for phase in report.phases:
        pairs = sorted((float(p), ms) for p, ms in phase.percentiles_ms.items() if float(p) < 100)
        axis.plot(
            [nines(p) for p, _ in pairs],
            [ms for _, ms in pairs],
            marker="o",
            label=f"{phase.name}: {phase.requests_per_s:,.0f} req/s, {phase.rows_per_s:,.0f} rows/s",
        )
    axis.set_yscale("log")
    ticks = [p for p in (10, 50, 75, 90, 95, 99, 99.9, 99.99)]
    axis.set_xticks([nines(p) for p in ticks], [f"p{p:g}" for p in ticks])
    axis.set_xlabel("percentile of requests")
    axis.set_ylabel("latency (ms, log scale)")
    if report.budget_ms is not None:
        axis.axhline(report.budget_ms, color="red", linestyle="--", label="p99 budget")
    single = report.single
    axis.set_title(
        f"mlinfra bench --env {report.target.env}: POST /predict, {single.generator},"
        f" {single.connections} connections, {single.seconds:.0f} s a phase",
        fontsize=9,
    )
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target)
    plt.close(figure)
    return target
