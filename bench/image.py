"""Image benchmark: the serving image's size against the guide's, the rebuild after a code-only
change, and the cold start (container start to ``/ready`` 200).

    task bench:image                   # or: python -m bench.image --starts 5

Last lines: ``image_vs_seed=``, ``rebuild_code_only_s=``, ``cold_start_s=`` (median).
Goals (issue 9): at most 0.7, under 10 s, under 2 s.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.support import (
    bench_model,
    build_seed_image,
    machine,
    run_id,
    running,
    save_results,
    wait_http,
)
from mlinfra import docker_engine
from mlinfra.bootstrap import base_image
from mlinfra.config import project_dir, state_dir
from mlinfra.image import REQUIREMENT_FILES, assemble_context, wheel_cache

# The file a code-only change touches: the HTTP resources, the most edited module.
CHANGED_FILE = "mlinfra_serving/resources.py"


def build_context(context: Path, reference: str) -> float:
    """Seconds to build ``context`` as ``reference`` with the engine's layer cache."""
    started = time.perf_counter()
    docker_engine.build(
        docker_engine.client(), str(context), reference, buildargs={"BASE_IMAGE": base_image()}
    )
    return time.perf_counter() - started


def cold_start(reference: str, name: str) -> float:
    """Seconds from `docker run` to ``/ready`` 200, as ECS would start it."""
    started = time.perf_counter()
    with running(reference, name) as (_, url):
        wait_http(f"{url}/ready")
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=5, help="cold starts to time")
    args = parser.parse_args()

    rid = run_id()
    model = bench_model()
    client = docker_engine.client()
    project_ref, seed_ref = f"mlinfra-bench-{rid}/serving:a", f"mlinfra-bench-{rid}/seed:latest"
    serving = project_dir() / "serving"
    wheel_dirs = [
        wheel_cache(serving / name, state_dir() / "cache" / "wheels", print, options)
        for name, options in REQUIREMENT_FILES.items()
    ]
    results: dict = {"machine": machine()}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-", dir=state_dir() / "cache") as scratch:
            context = Path(scratch)
            assemble_context(serving, model, wheel_dirs, context)
            results["warm_build_s"] = build_context(context, project_ref)
            with (context / CHANGED_FILE).open("a") as stream:
                stream.write(f"# bench {rid}: a code-only change\n")
            results["rebuild_code_only_s"] = build_context(context, project_ref)
        results["project_bytes"] = client.images.get(project_ref).attrs["Size"]
        results["seed_bytes"] = build_seed_image(model, seed_ref)
        starts = [
            cold_start(project_ref, f"mlinfra-bench-{rid}-start{i}") for i in range(args.starts)
        ]
        results["cold_starts_s"] = starts
    finally:
        for reference in (project_ref, seed_ref):
            if client.images.list(name=reference):
                client.images.remove(reference, force=True)

    results["ratios"] = {
        "image_vs_seed": results["project_bytes"] / results["seed_bytes"],
        "rebuild_code_only_s": results["rebuild_code_only_s"],
        "cold_start_s": statistics.median(results["cold_starts_s"]),
    }
    path = save_results("image", results)
    print(f"machine: {results['machine']}; results in {path}")
    print(
        f"project image {results['project_bytes'] / 1e6:.0f} MB, guide's"
        f" {results['seed_bytes'] / 1e6:.0f} MB; build with a warm layer cache {results['warm_build_s']:.1f} s;"
        f" cold starts {', '.join(f'{s:.2f}' for s in starts)} s"
    )
    for key, value in results["ratios"].items():
        print(f"{key}={value:.2f}")


if __name__ == "__main__":
    main()
