"""The floor under the service's CPU per request: the project's image serving the model, against
the same image (same gunicorn, config, parser and workers) serving a Falcon app that does
nothing and a bare ASGI app, side by side in one run (``--rounds`` alternations, wrk with the
guide's single-row request at 16 connections).

    python -m bench.floor --seconds 8 --rounds 3      # or: task bench:floor

The last lines are each container's ``cpu_us_per_request`` (its cgroup's CPU over its requests)
and ``service_over_falcon_floor=``: what the service's own work adds to a request on this
machine, over what the server and Falcon cost it anyway. Results in bench/results/floor.json.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from contextlib import ExitStack
from pathlib import Path

from bench.serving import GUIDE_BODY
from bench.support import (
    add_load_options,
    bench_model,
    machine,
    run_id,
    running,
    save_results,
    take_turns,
    wait_http,
)
from mlinfra import docker_engine
from mlinfra.image import build_image

FLOOR_MODULE = Path(__file__).resolve().parent / "floor" / "mlinfra_floor.py"
CONFIG = "/opt/mlinfra/gunicorn.conf.py"
# name -> the ASGI app gunicorn serves (None: the image's own, the service).
APPS = {
    "service": None,
    "falcon_floor": "mlinfra_floor:falcon_app",
    "asgi_floor": "mlinfra_floor:asgi_app",
}


def floor_image(service_reference: str, reference: str) -> None:
    """The service's image with the floor apps beside the service's package."""
    client = docker_engine.client()
    with tempfile.TemporaryDirectory(prefix="mlinfra-bench-floor-") as scratch:
        shutil.copy2(FLOOR_MODULE, Path(scratch) / FLOOR_MODULE.name)
        (Path(scratch) / "Dockerfile").write_text(
            f"FROM {service_reference}\nCOPY {FLOOR_MODULE.name} /opt/mlinfra/app/\n"
        )
        docker_engine.build(
            client, scratch, reference, buildargs={}, labels={}, progress=print, what=reference
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_load_options(parser, rounds_help="alternations service/falcon floor/asgi floor")
    args = parser.parse_args()

    rid = run_id()
    client = docker_engine.client()
    service = build_image(bench_model(), f"mlinfra-bench-{rid}/serving")
    floor_ref = f"mlinfra-bench-{rid}/floor:latest"
    results: dict = {"machine": machine(), "args": vars(args)}
    try:
        floor_image(service.reference, floor_ref)
        with ExitStack() as stack:
            targets = {}
            for name, app in APPS.items():
                command = None if app is None else ["gunicorn", "--config", CONFIG, app]
                targets[name] = stack.enter_context(
                    running(floor_ref, f"mlinfra-bench-{rid}-{name}", command=command)
                )
            for _container, url in targets.values():
                wait_http(f"{url}/ready")
            runs, cpu = take_turns(targets, GUIDE_BODY, args.rounds, args.seconds, args.connections)
    finally:
        for reference in (floor_ref, service.reference):
            client.images.remove(reference, force=True)

    figures = {}
    for name in APPS:
        requests = sum(r.requests for r in runs[name])
        figures[name] = {
            "rps": requests / sum(r.seconds for r in runs[name]),
            "cpu_us_per_request": sum(cpu[name]) / requests,
            "errors": sum(r.socket_errors + r.non_2xx for r in runs[name]),
            "rounds": [r.__dict__ for r in runs[name]],
        }
    results["figures"] = figures
    ratio = figures["service"]["cpu_us_per_request"] / figures["falcon_floor"]["cpu_us_per_request"]
    results["service_over_falcon_floor"] = ratio
    path = save_results("floor", results)
    print(f"machine: {results['machine']}; results in {path}")
    for name, row in figures.items():
        print(
            f"{name:>13}: {row['rps']:8.0f} req/s  CPU {row['cpu_us_per_request']:6.1f} us/req  errors {row['errors']}"
        )
    for name, row in figures.items():
        print(f"{name}_cpu_us_per_request={row['cpu_us_per_request']:.1f}")
    print(f"service_over_falcon_floor={ratio:.2f}")


if __name__ == "__main__":
    main()
