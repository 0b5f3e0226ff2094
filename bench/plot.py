"""The serving benchmark's latency distributions as one PNG (matplotlib, no display needed).

python -m bench.plot bench/results/serving.json docs/performance-latency.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from mlinfra.latency_plot import nines

LABELS = {
    "seed": "guide (Flask, 2 sync workers)",
    "project": "mlinfra (Falcon ASGI, 2 asgi workers, lleaves)",
}


def latency_plot(results: dict, target: Path) -> None:
    """Latency against percentile for both services; the percentile axis in "nines" so that
    the tail (p99, p99.9) gets as much room as the median."""
    figure, axis = plt.subplots(figsize=(8, 4.5), dpi=110)
    for name, figures in results["single_row"].items():
        pairs = sorted((float(p), us / 1000) for p, us in figures["percentiles_us"].items())
        axis.plot(
            [nines(p) for p, _ in pairs],
            [ms for _, ms in pairs],
            marker="o",
            label=f"{LABELS.get(name, name)}: {figures['rps']:,.0f} req/s",
        )
    axis.set_yscale("log")
    ticks = (10, 50, 75, 90, 95, 99, 99.9)
    axis.set_xticks([nines(p) for p in ticks], [f"p{p:g}" for p in ticks])
    axis.set_xlabel("percentile of requests")
    axis.set_ylabel("latency (ms, log scale)")
    args, where = results["args"], results["machine"]
    axis.set_title(
        f"single-row POST /predict, wrk -c{args['connections']}, {args['rounds']}x{args['seconds']} s"
        f" each\n{where['cores']} cores, {where['cpu']}, {where['date']}",
        fontsize=9,
    )
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target)
    plt.close(figure)


if __name__ == "__main__":
    latency_plot(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))
