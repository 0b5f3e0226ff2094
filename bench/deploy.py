"""Deploy benchmark: `mlinfra plan --env local` against raw `terraform plan` of the same stacks,
and the first and the no-change `mlinfra deploy --env local`.

Runs on a fresh clone of the last commit (uncommitted changes would make a `-dirty` image tag
that teammates' builds on the same engine also use) with a local environment of its own (a
temporary MLINFRA_STATE_DIR and free ports for the emulator, the registry and the proxy), so a
user's environment is left alone, and destroys it at the end.

    task bench:deploy                  # or: python -m bench.deploy --plans 3

Last lines: ``plan_vs_terraform=`` (goal at most 1.15), ``deploy_first_s=``,
``deploy_nochange_s=``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.support import machine, save_results
from mlinfra.config import project_dir, state_dir

MLINFRA = str(Path(sys.executable).with_name("mlinfra"))
STACKS = ("registry", "service")


def listener_port() -> int:
    """A free port below Linux's ephemeral range (32768-60999): one from inside it can be taken
    by an outgoing connection in the minutes before the proxy binds it."""
    rng = random.Random()
    for _ in range(100):
        port = rng.randrange(20000, 32000)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit("no free port in 20000-32000 on 127.0.0.1")


def isolated_environment(scratch: Path, clone: Path) -> dict[str, str]:
    """Environment variables for a local environment of the benchmark's own, on ``clone``."""
    shared = state_dir()
    scratch.mkdir()
    for name in ("base-image", "model"):
        source = shared / name
        if source.is_dir():
            shutil.copytree(source, scratch / name)
        elif source.is_file():
            shutil.copy2(source, scratch / name)
    # The wheel and provider caches are content-addressed: sharing them only saves downloads.
    (scratch / "cache").mkdir()
    for name in ("wheels",):
        if (shared / "cache" / name).is_dir():
            (scratch / "cache" / name).symlink_to(shared / "cache" / name)
    return {
        **os.environ,
        "MLINFRA_PROJECT_DIR": str(clone),
        "MLINFRA_STATE_DIR": str(scratch),
        "MLINFRA_EMULATOR_PORT": str(listener_port()),
        "MLINFRA_REGISTRY_PORT": str(listener_port()),
        "MLINFRA_PROXY_PORT": str(listener_port()),
    }


def timed(command: list[str], env: dict[str, str], timeout: float) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        command,
        env=env,
        cwd=env["MLINFRA_PROJECT_DIR"],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    seconds = time.perf_counter() - started
    if result.returncode not in (0, 2):  # plan's --detailed-exitcode: 2 means changes
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        raise SystemExit(f"`{' '.join(command)}` failed ({result.returncode}):\n{tail}")
    return seconds


def raw_plan_seconds(env: dict[str, str]) -> float:
    """`terraform plan` of both stacks exactly as the wrapper runs it (same working dirs, data
    dirs, backend, variables, emulator), without the wrapper: the time of Terraform alone."""
    code = (
        "import json, sys; from mlinfra import config, connection;"
        "t = connection.connect(config.select_environment('local'));"
        "print(json.dumps([[str(t.stack(s).working_dir), {**t.stack(s).env},"
        " [str(p) for p in t.var_files(s)], str(t.planfile(s))] for s in sys.argv[1:]]))"
    )
    described = subprocess.run(
        [sys.executable, "-c", code, *STACKS],
        env=env,
        cwd=env["MLINFRA_PROJECT_DIR"],
        capture_output=True,
        text=True,
        check=True,
    )
    total = 0.0
    for working_dir, stack_env, var_files, planfile in json.loads(described.stdout):
        command = ["terraform", "plan", "-input=false", "-no-color", f"-out={planfile}.raw"]
        command += [f"-var-file={path}" for path in var_files]
        started = time.perf_counter()
        subprocess.run(
            command,
            cwd=working_dir,
            env={**env, **stack_env},
            capture_output=True,
            check=True,
            timeout=300,
        )
        total += time.perf_counter() - started
    return total


def profile_plan(env: dict[str, str], top: int) -> list[tuple[str, float]]:
    """Wall-clock shares of one `mlinfra plan` by function (py-spy, idle time included: most
    of a plan is waiting for terraform, and which call waits is the point)."""
    py_spy = str(Path(sys.executable).with_name("py-spy"))
    with tempfile.TemporaryDirectory(prefix="py-spy-") as folder:
        raw = Path(folder) / "plan.txt"
        command = [py_spy, "record", "--idle", "-r", "100", "-f", "raw", "-o", str(raw), "--"]
        subprocess.run(
            [*command, MLINFRA, "plan", "--env", "local"],
            env=env,
            cwd=env["MLINFRA_PROJECT_DIR"],
            capture_output=True,
            timeout=300,
        )
        counts: dict[str, int] = {}
        total = 0
        for line in raw.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            total += int(count)
            for frame in {re.sub(r":\d+\)", ")", f) for f in stack.split(";")}:
                if "mlinfra/" in frame or "import" in frame:
                    counts[frame] = counts.get(frame, 0) + int(count)
    ranked = sorted(counts.items(), key=lambda item: -item[1])[:top]
    return [(frame, count / total) for frame, count in ranked]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plans", type=int, default=3, help="alternations of the two plans")
    parser.add_argument("--profile", action="store_true", help="py-spy one `mlinfra plan`")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="bench-deploy-"))
    clone = scratch / "project"
    subprocess.run(["git", "clone", "--quiet", str(project_dir()), str(clone)], check=True)
    env = isolated_environment(scratch / "state", clone)
    results: dict = {"machine": machine()}
    try:
        results["deploy_first_s"] = timed([MLINFRA, "deploy", "--env", "local"], env, 900)
        results["deploy_nochange_s"] = timed([MLINFRA, "deploy", "--env", "local"], env, 900)
        wrapper, raw = [], []
        for _ in range(args.plans):
            wrapper.append(timed([MLINFRA, "plan", "--env", "local"], env, 300))
            raw.append(raw_plan_seconds(env))
        results["mlinfra_plan_s"], results["terraform_plan_s"] = wrapper, raw
        if args.profile:
            results["plan_profile"] = profile_plan(env, top=25)
    finally:
        subprocess.run(
            [MLINFRA, "destroy", "--env", "local", "--yes"],
            env=env,
            cwd=clone,
            capture_output=True,
            timeout=600,
        )
        stop = (
            "from mlinfra import config, emulator, registry;"
            "emulator.stop(); registry.LocalRegistry(config.state_dir() / 'registry').stop()"
        )
        subprocess.run([sys.executable, "-c", stop], env=env, timeout=60)
        shutil.rmtree(scratch, ignore_errors=True)

    results["ratios"] = {
        "plan_vs_terraform": statistics.median(wrapper) / statistics.median(raw),
        "deploy_first_s": results["deploy_first_s"],
        "deploy_nochange_s": results["deploy_nochange_s"],
    }
    path = save_results("deploy", results)
    print(f"machine: {results['machine']}; results in {path}")
    print(
        f"mlinfra plan {', '.join(f'{s:.1f}' for s in wrapper)} s;"
        f" terraform plan (both stacks) {', '.join(f'{s:.1f}' for s in raw)} s"
    )
    for frame, share in results.get("plan_profile", []):
        print(f"{100 * share:6.1f}%  {frame[:110]}")
    for key, value in results["ratios"].items():
        print(f"{key}={value:.2f}")


if __name__ == "__main__":
    main()
