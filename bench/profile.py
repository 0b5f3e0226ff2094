"""Where a serving worker's time goes under load: py-spy samples every gunicorn worker of the
project's image while wrk drives `POST /predict`, and the shares per function are printed.

    python -m bench.profile                 # single-row requests, 16 connections
    python -m bench.profile --batch         # 1,000-row requests, 4 connections
    python -m bench.profile --image REF     # an image built elsewhere (kept afterwards)

py-spy samples wall-clock stacks of threads that are not idle: a thread in a system call
(a socket or pipe write) or waiting for a CPU counts, one blocked in a poll or a queue does not.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.serving import GUIDE_BODY, batch_rows
from bench.support import bench_model, run_id, running, wait_http
from mlinfra import docker_engine
from mlinfra.image import build_image
from mlinfra.wrk import run_wrk

PY_SPY = str(Path(sys.executable).with_name("py-spy"))
# Leaf frames of a thread waiting for work, not doing it. py-spy cannot tell idle threads of a
# container (other pid namespace), so they are dropped here by their leaf frame.
IDLE_LEAVES = ("select (selectors.py", "wait (threading.py", "get (queue.py", "_worker (concurrent")
LINE_NUMBER = re.compile(r":\d+\)")
LOGS = Path(__file__).resolve().parents[1] / "serving" / "mlinfra_serving" / "logs.py"


def _writer_waits() -> set[str]:
    """The log writer's leaf frames while it sleeps or waits for a line (C calls show as the
    Python line that made them)."""
    lines = LOGS.read_text().splitlines()
    waiting = ("self._queue.get()", "time.sleep(BATCH_SECONDS)")
    return {
        f"BackgroundStdoutHandler._write_batches (mlinfra_serving/logs.py:{number})"
        for number, text in enumerate(lines, start=1)
        if any(call in text for call in waiting)
    }


def sample(pids: list[str], seconds: int, folder: Path) -> list[Path]:
    outputs = [folder / f"{pid}.txt" for pid in pids]
    recorders = []
    for pid, out in zip(pids, outputs, strict=True):
        command = [PY_SPY, "record", "-p", pid, "-d", str(seconds), "-r", "200"]
        command += ["--nonblocking", "-f", "raw", "-o", str(out)]
        recorders.append(
            subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )
    for recorder in recorders:
        recorder.wait(timeout=seconds + 30)
    return outputs


def shares(raw_files: list[Path]) -> tuple[collections.Counter, collections.Counter, int]:
    """Samples per function (inclusive and self), without line numbers; idle stacks dropped."""
    inclusive: collections.Counter = collections.Counter()
    own: collections.Counter = collections.Counter()
    total = 0
    writer_waits = _writer_waits()
    for path in raw_files:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            leaf = stack.split(";")[-1]
            if any(idle in leaf for idle in IDLE_LEAVES) or leaf in writer_waits:
                continue
            frames = [LINE_NUMBER.sub(")", frame) for frame in stack.split(";")]
            total += int(count)
            for frame in set(frames):
                inclusive[frame] += int(count)
            own[frames[-1]] += int(count)
    return inclusive, own, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", action="store_true", help="1,000-row requests")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--image", help="profile this image (a trial build) instead of building the project's"
    )
    args = parser.parse_args()

    rid = run_id()
    model = bench_model()
    reference = args.image or build_image(model, f"mlinfra-bench-{rid}/serving").reference
    body = json.dumps({"instances": batch_rows(model).tolist()}) if args.batch else GUIDE_BODY
    connections = 4 if args.batch else 16
    try:
        with (
            running(reference, f"mlinfra-bench-{rid}-profile") as (container, url),
            tempfile.TemporaryDirectory(prefix="py-spy-") as folder,
        ):
            wait_http(f"{url}/ready")
            time.sleep(1)  # /ready answers once the first worker is up; let the others start
            pids = [row[1] for row in container.top()["Processes"]]
            workers = sorted(pids, key=int)[1:]  # the first is gunicorn's master
            load = threading.Thread(
                target=run_wrk,
                args=(f"{url}/predict", body),
                kwargs={"seconds": args.seconds + 4, "connections": connections},
            )
            load.start()
            time.sleep(2)
            inclusive, own, total = shares(sample(workers, args.seconds, Path(folder)))
            load.join()
    finally:
        if not args.image:
            docker_engine.client().images.remove(reference, force=True)

    print(
        f"{total} busy samples over {len(workers)} workers ({'batch' if args.batch else 'single row'})"
    )
    print("inclusive  function")
    for frame, count in inclusive.most_common(args.top):
        if not frame.startswith(("Thread.", "_bootstrap", "<module>", "Arbiter.", "run (")):
            print(f"{100 * count / total:8.1f}%  {frame[:110]}")
    print("self       function")
    for frame, count in own.most_common(12):
        print(f"{100 * count / total:8.1f}%  {frame[:110]}")


if __name__ == "__main__":
    main()
