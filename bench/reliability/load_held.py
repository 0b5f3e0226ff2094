"""Load held on loopback: wrk at 64 connections for 60 s against the serving image.

A figure, not a test: prints req/s, p50/p99 and every error count as JSON. The pass/fail
version (10 s) is tests/reliability/test_load.py. Run from the project root:

    source scripts/bootstrap.sh && python -m bench.reliability.load_held [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import uuid
from pathlib import Path

from testcontainers.core.container import DockerContainer

from mlinfra import docker_engine
from mlinfra.image import build_image
from mlinfra.model import ensure_model
from mlinfra.wrk import run_wrk
from tests.support.reliability import booted_workers, start_service
from tests.support.serving import GUIDE_BODY


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", default="2", help="GUNICORN_WORKERS (one per core here)")
    parser.add_argument("--mem-limit", default="512m", help="container memory limit")
    args = parser.parse_args()

    run = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory() as scratch:
        image = build_image(ensure_model(Path(scratch) / "model"), f"mlinfra-bench-{run}/serving")
    started: list[DockerContainer] = []
    try:
        container, url = start_service(
            image,
            f"mlinfra-bench-{run}-load",
            started,
            mem_limit=args.mem_limit,
            GUNICORN_WORKERS=args.workers,
        )
        result = run_wrk(
            f"{url}/predict",
            json.dumps(GUIDE_BODY),
            connections=args.connections,
            seconds=args.seconds,
        )
        stats = container.get_wrapped_container().stats(stream=False, one_shot=True)
        memory = stats["memory_stats"]
        report = {
            **result.to_dict(),
            "image": image.reference,
            "workers": args.workers,
            "worker_boots": len(booted_workers(container)),
            "memory_peak_mib": round(memory.get("max_usage", memory.get("usage", 0)) / 2**20),
            "mem_limit": args.mem_limit,
        }
        print(json.dumps(report, indent=2))
    finally:
        for container in started:
            container.stop()
        docker_engine.client().images.remove(image.reference)


if __name__ == "__main__":
    main()
