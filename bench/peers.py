"""Peers benchmark: the project's service against the servers a user would pick instead for the
same model, MLServer with its LightGBM runtime and BentoML, side by side on this machine.

Every server serves the same model file (the project's default, ``bench_model``) with 2 workers,
all run at once on 127.0.0.1 with the whole machine, and wrk loads one, then the next, in turns
(``--rounds``; the order rotates each round), at the same connections for the same time:

- mlinfra: the project's image, run as bench/serving.py runs it (host network, loopback),
  ``GUNICORN_WORKERS=2``; ``POST /predict {"features": [3, 2, 1500, 2020]}``.
- mlinfra (LightGBM backend): the same image with ``MODEL_BACKEND=lightgbm``, so the serving
  stacks can be compared apart from the compiled model (``--no-lightgbm-twin`` skips it).
- MLServer 1.7.1 with ``mlserver_lightgbm.LightGBMModel``, ``parallel_workers: 2``; the V2
  inference protocol, ``POST /v2/models/house-prices/infer`` with an FP32 tensor of shape [1, 4].
- BentoML 1.4.40, ``bench/peers/bentoml_service.py`` (``lightgbm.Booster`` on the model file,
  ``workers=2``, async APIs), ``bentoml serve``;
  ``POST /predict {"features": [3, 2, 1500, 2020]}``.

Each peer runs from a venv of its own, installed once from its pins (bench/peers/<name>.txt)
under .mlinfra/bench/peers/; every peer runs with ``OMP_NUM_THREADS=1``, as the project's image
does. Before any load, each server's answer to the single row and to the 1,000-row batch must be
a 200 whose predictions equal the project's own within 1e-6 (a server that answers errors fast
does not win). Then 1,000-row batches to each, in turns as well. A run in which one of a
server's two accepting workers did more than 80% of the work (it took every connection, as
BentoML's did in most runs here) is run again on new connections, up to
``--unbalanced-retries`` times; the discarded runs stay in the results.

    task bench:peers                 # or: python -m bench.peers --seconds 10 --rounds 2

The last lines are the ratios, each mlinfra over the peer: ``mlinfra_vs_<peer>_throughput=``
and ``..._batch_throughput=`` (higher is better for mlinfra), ``..._p99=`` and
``..._cpu_per_request=`` (lower is better for mlinfra). Results land in bench/results/peers.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import venv
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.serving import BATCH_ROWS, GUIDE_BODY, batch_rows, summarize
from bench.support import (
    add_load_options,
    bench_model,
    free_port,
    machine,
    run_id,
    running,
    save_results,
    wait_http,
)
from mlinfra import docker_engine
from mlinfra.config import state_dir
from mlinfra.image import build_image
from mlinfra.model import ModelArtifact
from mlinfra.wrk import WrkResult, run_wrk
from tests.support.serving import GUIDE_FEATURES

PEERS_DIR = Path(__file__).resolve().parent / "peers"
ROOT = Path(__file__).resolve().parents[1]
WORKERS = 2
# Predictions must equal the project's to this (absolute, in the model's unit: USD).
TOLERANCE = 1e-6
MODEL_NAME = "house-prices"
PROJECT = "mlinfra"
PROJECT_LIGHTGBM = "mlinfra_lightgbm"
PEERS = ("mlserver", "bentoml")
# The distributions whose versions the results record, per peer venv.
PEER_DISTRIBUTIONS = {
    "mlserver": ("mlserver", "mlserver-lightgbm", "lightgbm", "uvloop", "numpy"),
    "bentoml": ("bentoml", "lightgbm", "numpy"),
}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# A worker that did more than this share of its server's CPU in a round took (nearly) every
# connection: BentoML's two workers did so in 3 of 18 runs here (docs/performance.md).
UNBALANCED_SHARE = 0.8


# Pure logic (tests/unit/bench/test_bench_peers.py)


def pinned_version(requirements: str, distribution: str) -> str:
    """The exact version ``distribution`` is pinned to (``name==version``) in ``requirements``."""
    wanted = re.sub(r"[-_.]+", "-", distribution).lower()
    for line in requirements.splitlines():
        name, sep, version = line.split("#", 1)[0].strip().partition("==")
        if sep and re.sub(r"[-_.]+", "-", name).lower() == wanted:
            return version.strip()
    raise ValueError(f"{distribution} is not pinned (name==version) in the requirements")


def v2_request(rows: Sequence[Sequence[float]]) -> dict[str, Any]:
    """The V2 inference protocol's request for ``rows``: one FP32 tensor, row-major."""
    return {
        "inputs": [
            {
                "name": "predict",
                "shape": [len(rows), len(rows[0])],
                "datatype": "FP32",
                "data": [value for row in rows for value in row],
            }
        ]
    }


def project_predictions(answer: Any) -> list[float]:
    """``{"prediction": x}`` or ``{"predictions": [...]}`` (the project's and BentoML's)."""
    if "prediction" in answer:
        return [float(answer["prediction"])]
    return [float(value) for value in answer["predictions"]]


def v2_predictions(answer: Any) -> list[float]:
    """The first output tensor's data of a V2 inference answer."""
    return [float(value) for value in answer["outputs"][0]["data"]]


def mismatch(seen: list[float], expected: list[float]) -> str | None:
    """Why ``seen`` is not ``expected`` (count, or the first value off by more than TOLERANCE)."""
    if len(seen) != len(expected):
        return f"{len(seen)} predictions, expected {len(expected)}"
    for index, (got, want) in enumerate(zip(seen, expected, strict=True)):
        if not abs(got - want) <= TOLERANCE:
            return f"row {index}: {got!r}, expected {want!r} (tolerance {TOLERANCE:g})"
    return None


def parse_stat(text: str) -> tuple[int, str, int, int]:
    """pid, name, parent pid and CPU ticks (user + system) of one /proc/<pid>/stat line."""
    # The name sits in parentheses and may hold spaces and parentheses itself.
    head, _, rest = text.rpartition(")")
    pid, _, name = head.partition(" (")
    fields = rest.split()
    # Fields after the name, from 0: state, ppid, ... utime at 11, stime at 12.
    return int(pid), name, int(fields[1]), int(fields[11]) + int(fields[12])


def descendants(parents: Mapping[int, int], root: int) -> set[int]:
    """``root`` and every process under it, from a map of pid to parent pid."""
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return found


def cpu_split(
    before: Mapping[int, tuple[str, float]], after: Mapping[int, tuple[str, float]]
) -> dict[str, float]:
    """CPU microseconds each process of a tree used between two readings (new ones from 0),
    keyed ``name:pid``, busiest first."""
    used = {
        f"{name}:{pid}": cpu - before.get(pid, (name, 0.0))[1] for pid, (name, cpu) in after.items()
    }
    return dict(sorted(used.items(), key=lambda item: -item[1]))


def unbalanced(split: Mapping[str, float], share: float = UNBALANCED_SHARE) -> bool:
    """Whether one process of a tree did more than ``share`` of its work in a round (with two
    workers that each accept connections: one of them took every connection)."""
    total = sum(split.values())
    return total > 0 and max(split.values()) > share * total


def ratios(
    single: Mapping[str, Mapping[str, float]],
    batch: Mapping[str, Mapping[str, float]],
    ours: str = PROJECT,
) -> dict[str, float]:
    """``ours`` over each peer: throughput and batch rows/s (higher is better for ``ours``), p99
    and CPU per request (lower is better for ``ours``); keys ``<ours>_vs_<peer>_<figure>``."""
    mine = single[ours]
    found: dict[str, float] = {}
    for peer in PEERS:
        if peer not in single:
            continue
        theirs = single[peer]
        found[f"{ours}_vs_{peer}_throughput"] = mine["rps"] / theirs["rps"]
        found[f"{ours}_vs_{peer}_p99"] = mine["p99_ms"] / theirs["p99_ms"]
        found[f"{ours}_vs_{peer}_cpu_per_request"] = (
            mine["cpu_us_per_request"] / theirs["cpu_us_per_request"]
        )
        if ours in batch and peer in batch:
            found[f"{ours}_vs_{peer}_batch_throughput"] = (
                batch[ours]["rows_per_s"] / batch[peer]["rows_per_s"]
            )
    return found


def rotated(names: list[str], round_index: int) -> list[str]:
    """The order of round ``round_index``: each server goes first in turn."""
    shift = round_index % len(names)
    return names[shift:] + names[:shift]


# The processes


def process_tree_cpu(root: int) -> dict[int, tuple[str, float]]:
    """Name and CPU microseconds so far of ``root`` and every process under it (from /proc)."""
    stats: dict[int, tuple[str, int, int]] = {}
    for path in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, name, parent, ticks = parse_stat(path.read_text())
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        stats[pid] = (name, parent, ticks)
    tree = descendants({pid: parent for pid, (_, parent, _) in stats.items()}, root)
    return {pid: (stats[pid][0], stats[pid][2] * 1e6 / CLOCK_TICKS) for pid in tree if pid in stats}


def _start_time(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19]
    except (OSError, IndexError):
        return None


def stop_tree(process: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGTERM to the process this benchmark started, then SIGKILL to whatever of its tree is
    left after ``grace`` seconds.

    NOTE: by pid, not process group: BentoML's arbiter puts each worker in a session of its own.
    Each pid is checked against its start time first, so a reused pid is never signalled.
    """
    tree = {pid: _start_time(pid) for pid in process_tree_cpu(process.pid)}
    process.terminate()
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    for pid, started in tree.items():
        if started is not None and _start_time(pid) == started:
            os.kill(pid, signal.SIGKILL)
    process.wait(timeout=10)


@contextmanager
def serving_process(
    command: list[str], log: Path, cwd: Path, env: Mapping[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """``command`` in the background, its output in ``log``, stopped (with its tree) on exit."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=cwd, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            yield process
        finally:
            stop_tree(process)


def peer_venv(name: str) -> Path:
    """The venv of peer ``name`` from bench/peers/<name>.txt, installed once and reused:
    .mlinfra/bench/peers/<name>-<version>-<hash of the pins>/ (a changed pin is a new venv)."""
    requirements = PEERS_DIR / f"{name}.txt"
    text = requirements.read_text()
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    path = state_dir() / "bench" / "peers" / f"{name}-{pinned_version(text, name)}-{digest}"
    done = path / ".complete"
    if done.exists():
        return path
    print(f"installing {name} into {path} (once)", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    log = path / "pip.log"
    with log.open("wb") as out:
        installed = subprocess.run(
            [str(path / "bin" / "python"), "-m", "pip", "install", "-r", str(requirements)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    if installed.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-15:]
        raise SystemExit(
            f"pip could not install {requirements} into {path} (log: {log}):\n" + "\n".join(tail)
        )
    done.write_text(digest + "\n")
    return path


def distribution_versions(python: Path, distributions: tuple[str, ...]) -> dict[str, str]:
    """The installed versions of ``distributions`` and the version of ``python`` itself."""
    script = (
        "import importlib.metadata as m, json, platform, sys;"
        "print(json.dumps({**{d: m.version(d) for d in sys.argv[1:]},"
        " 'python': platform.python_version()}))"
    )
    answer = subprocess.run(
        [str(python), "-c", script, *distributions], capture_output=True, text=True, check=True
    )
    versions: dict[str, str] = json.loads(answer.stdout)
    return versions


def project_versions(container_id: str) -> dict[str, str]:
    """The serving image's own versions (its venv's python, not the host's)."""
    script = (
        "import importlib.metadata as m, json, platform;"
        "print(json.dumps({**{d: m.version(d) for d in ('falcon', 'gunicorn', 'lightgbm',"
        " 'uvloop', 'numpy')}, 'python': platform.python_version()}))"
    )
    container = docker_engine.client().containers.get(container_id)
    code, output = container.exec_run(["python3", "-c", script])
    # Not streamed: one bytes value.
    text = output.decode() if isinstance(output, bytes) else b"".join(output).decode()
    if code != 0:
        raise RuntimeError(f"could not read the image's versions: {text[-500:]}")
    versions: dict[str, str] = json.loads(text)
    return versions


def mlinfra_commit() -> str:
    """HEAD, with ``-dirty`` when the work tree has uncommitted changes to tracked files."""
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=ROOT).returncode != 0
    return head + ("-dirty" if dirty else "")


# The servers


@dataclass(frozen=True)
class Server:
    """One server under load: where its single-row and batch requests go, with which bodies,
    how its answers read, and the root of its process tree (for CPU). ``shared_accept``: its
    workers each accept connections (not MLServer, whose one HTTP process hands rows to them)."""

    name: str
    single_url: str
    single_body: str
    batch_url: str
    batch_body: str
    predictions: Callable[[Any], list[float]]
    root_pid: int
    shared_accept: bool = True


def start_mlserver(
    stack: ExitStack, model: ModelArtifact, rows: list[list[float]], scratch: Path, log: Path
) -> Server:
    python = peer_venv("mlserver") / "bin" / "python"
    root = scratch / "mlserver"
    (root / MODEL_NAME).mkdir(parents=True)
    http, grpc, metrics = free_port(), free_port(), free_port()
    settings = {
        "host": "127.0.0.1",
        "http_port": http,
        "grpc_port": grpc,
        "metrics_port": metrics,
        "parallel_workers": WORKERS,
    }
    (root / "settings.json").write_text(json.dumps(settings))
    model_settings = {
        "name": MODEL_NAME,
        "implementation": "mlserver_lightgbm.LightGBMModel",
        "parameters": {"uri": str(model.dir / "model.txt"), "version": "v1"},
    }
    (root / MODEL_NAME / "model-settings.json").write_text(json.dumps(model_settings))
    process = stack.enter_context(
        serving_process(
            [str(python.with_name("mlserver")), "start", str(root)],
            log,
            # NOTE: MLServer keeps its metrics' files in the working directory (.metrics/).
            cwd=root,
            env={"OMP_NUM_THREADS": "1"},
        )
    )
    base = f"http://127.0.0.1:{http}"
    wait_http(f"{base}/v2/models/{MODEL_NAME}/ready", timeout=120)
    url = f"{base}/v2/models/{MODEL_NAME}/infer"
    return Server(
        "mlserver",
        url,
        json.dumps(v2_request([GUIDE_FEATURES])),
        url,
        json.dumps(v2_request(rows)),
        v2_predictions,
        process.pid,
        shared_accept=False,
    )


def start_bentoml(
    stack: ExitStack, model: ModelArtifact, rows: list[list[float]], scratch: Path, log: Path
) -> Server:
    python = peer_venv("bentoml") / "bin" / "python"
    port = free_port()
    command = [
        str(python.with_name("bentoml")), "serve", "bentoml_service:HousePrices",
        "--host", "127.0.0.1", "--port", str(port), "--working-dir", str(PEERS_DIR),
    ]  # fmt: skip
    process = stack.enter_context(
        serving_process(
            command,
            log,
            cwd=scratch,
            env={
                "PEERS_MODEL_FILE": str(model.dir / "model.txt"),
                "PEERS_WORKERS": str(WORKERS),
                "OMP_NUM_THREADS": "1",
                "BENTOML_HOME": str(scratch / "bentoml-home"),
                "BENTOML_DO_NOT_TRACK": "true",
                "PYTHONDONTWRITEBYTECODE": "1",
            },
        )
    )
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/readyz", timeout=120)
    return Server(
        "bentoml",
        f"{base}/predict",
        GUIDE_BODY,
        f"{base}/predict_batch",
        json.dumps({"instances": rows}),
        project_predictions,
        process.pid,
    )


def start_project(
    stack: ExitStack, reference: str, label: str, rows: list[list[float]], rid: str, backend: str
) -> Server:
    """The project's image as bench/serving.py runs it, with 2 workers and MODEL_BACKEND
    ``backend`` (``auto``: as shipped, the compiled model); SystemExit when its /metadata
    names another backend."""
    container, base = stack.enter_context(
        running(
            reference,
            f"mlinfra-bench-{rid}-{label}",
            GUNICORN_WORKERS=str(WORKERS),
            MODEL_BACKEND=backend,
        )
    )
    wait_http(f"{base}/ready")
    serving = httpx.get(f"{base}/metadata", timeout=5).json().get("backend")
    expected = "lleaves" if backend == "auto" else backend
    if serving != expected:
        raise SystemExit(f"{label} serves with backend {serving!r}, not {expected!r}")
    container.reload()
    url = f"{base}/predict"
    return Server(
        label,
        url,
        GUIDE_BODY,
        url,
        json.dumps({"instances": rows}),
        project_predictions,
        int(container.attrs["State"]["Pid"]),
    )


def answers(server: Server, url: str, body: str) -> list[float]:
    """The predictions of one request, or SystemExit naming the server and what it answered."""
    response = httpx.post(
        url, content=body, headers={"Content-Type": "application/json"}, timeout=30
    )
    if response.status_code != 200:
        raise SystemExit(
            f"{server.name} answered {response.status_code} at {url}: {response.text[:500]}"
        )
    try:
        return server.predictions(response.json())
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise SystemExit(
            f"{server.name} answered no numeric predictions at {url} ({error!r}): {response.text[:500]}"
        ) from error


def correctness_gate(servers: list[Server]) -> dict[str, list[float]]:
    """Every server's single-row and batch predictions, each equal to the project's within
    TOLERANCE; else SystemExit naming the server and the first row that differs."""
    reference = servers[0]
    expected = {
        "single": answers(reference, reference.single_url, reference.single_body),
        "batch": answers(reference, reference.batch_url, reference.batch_body),
    }
    for server in servers[1:]:
        for kind, url, body in (
            ("single", server.single_url, server.single_body),
            ("batch", server.batch_url, server.batch_body),
        ):
            wrong = mismatch(answers(server, url, body), expected[kind])
            if wrong:
                raise SystemExit(
                    f"{server.name} predicts otherwise than {reference.name} ({kind}): {wrong}"
                )
    return {"single": expected["single"], "batch_first_rows": expected["batch"][:3]}


def measure_once(
    server: Server, url: str, body: str, seconds: int, connections: int
) -> tuple[WrkResult, dict[str, float]]:
    """One wrk run after a 1 s warm-up (new connections each time), and its CPU split."""
    run_wrk(url, body, seconds=1, connections=connections)
    before = process_tree_cpu(server.root_pid)
    result = run_wrk(url, body, seconds=seconds, connections=connections)
    return result, cpu_split(before, process_tree_cpu(server.root_pid))


def load_in_turns(
    servers: list[Server],
    *,
    batch: bool,
    seconds: int,
    connections: int,
    rounds: int,
    retries: int,
) -> dict[str, dict[str, Any]]:
    """wrk at each server in turns, ``rounds`` times (order rotating); per server, the figures
    of bench/serving.py's ``summarize`` and the CPU split of its process tree per round.

    A run in which one of two accepting workers did the work of both (``unbalanced``) is run
    again, up to ``retries`` times, on fresh connections; the discarded runs are kept in
    ``unbalanced_attempts``. The same rule holds for every server: it gives each its best draw.
    """
    runs: dict[str, list[WrkResult]] = {s.name: [] for s in servers}
    splits: dict[str, list[dict[str, float]]] = {s.name: [] for s in servers}
    discarded: dict[str, list[dict[str, Any]]] = {s.name: [] for s in servers}
    by_name = {s.name: s for s in servers}
    for index in range(rounds):
        for name in rotated(list(by_name), index):
            server = by_name[name]
            url, body = (
                (server.batch_url, server.batch_body)
                if batch
                else (server.single_url, server.single_body)
            )
            for attempt in range(retries + 1):
                result, split = measure_once(server, url, body, seconds, connections)
                if attempt == retries or not (server.shared_accept and unbalanced(split)):
                    break
                discarded[name].append(
                    {"round": index, "rps": result.requests_per_s, "cpu_split_us": split}
                )
            runs[name].append(result)
            splits[name].append(split)
    figures: dict[str, dict[str, Any]] = {}
    for name, server in by_name.items():
        cpu = [sum(split.values()) for split in splits[name]]
        figures[name] = summarize(runs[name], cpu) | {
            "cpu_split_us": splits[name],
            "unbalanced_attempts": discarded[name],
            "unbalanced_rounds": [
                index
                for index, split in enumerate(splits[name])
                if server.shared_accept and unbalanced(split)
            ],
        }
        if batch:
            figures[name]["rows_per_s"] = figures[name]["rps"] * BATCH_ROWS
    return figures


def busiest_shares(split: Mapping[str, float], top: int = 3) -> str:
    """``61/37/2%``: the busiest processes' shares of a tree's CPU in one round."""
    total = sum(split.values()) or 1.0
    return "/".join(f"{100 * used / total:.0f}" for used in list(split.values())[:top]) + "%"


def report(figures: Mapping[str, Mapping[str, Any]], title: str, batch: bool) -> None:
    print(title)
    for name, row in figures.items():
        rate = f"{row['rows_per_s']:10,.0f} rows/s" if batch else f"{row['rps']:8.0f} req/s"
        shares = ", ".join(busiest_shares(split) for split in row["cpu_split_us"])
        print(
            f"{name:>17}: {rate}  p50 {row['p50_ms']:7.2f} ms  p99 {row['p99_ms']:7.2f} ms"
            f"  p99.9 {row['p999_ms']:7.2f} ms  CPU {row['cpu_us_per_request']:6.0f} us/req"
            f"  errors {row['errors']}  busiest processes {shares}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add_load_options(parser, rounds_help="turns at every server (the order rotates)")
    parser.add_argument(
        "--no-lightgbm-twin",
        action="store_true",
        help="skip the project's image with MODEL_BACKEND=lightgbm (stock LightGBM, as the peers)",
    )
    parser.add_argument(
        "--unbalanced-retries",
        type=int,
        default=3,
        help="runs again, on new connections, a run in which one worker took every connection",
    )
    args = parser.parse_args()

    rid = run_id()
    model = bench_model()
    results: dict[str, Any] = {
        "machine": machine() | {"load_average_before": list(os.getloadavg())},
        "args": vars(args),
        "model": model.metadata.get("model_version"),
        "workers": WORKERS,
    }
    # The venvs first: an install is not part of any measurement.
    venvs = {name: peer_venv(name) for name in PEERS}
    project = build_image(model, f"mlinfra-bench-{rid}/serving")
    rows = batch_rows(model).tolist()
    try:
        with ExitStack() as stack:
            scratch = Path(
                stack.enter_context(
                    tempfile.TemporaryDirectory(prefix="peers-", dir=state_dir() / "cache")
                )
            )
            servers = [start_project(stack, project.reference, PROJECT, rows, rid, "auto")]
            if not args.no_lightgbm_twin:
                servers.append(
                    start_project(stack, project.reference, PROJECT_LIGHTGBM, rows, rid, "lightgbm")
                )
            # Kept after the run: what a peer said when it failed or went slow.
            logs = state_dir() / "bench" / "peers" / "logs"
            logs.mkdir(parents=True, exist_ok=True)
            print(f"peer logs: {logs}/{rid}-*.log", flush=True)
            servers.append(
                start_mlserver(stack, model, rows, scratch, logs / f"{rid}-mlserver.log")
            )
            servers.append(start_bentoml(stack, model, rows, scratch, logs / f"{rid}-bentoml.log"))
            results["reference_predictions"] = correctness_gate(servers)
            results["versions"] = {
                PROJECT: {"commit": mlinfra_commit()}
                | project_versions(f"mlinfra-bench-{rid}-{PROJECT}"),
                **{
                    name: distribution_versions(
                        venvs[name] / "bin" / "python", PEER_DISTRIBUTIONS[name]
                    )
                    for name in PEERS
                },
            }
            for kind, seconds, connections in (
                ("single_row", args.seconds, args.connections),
                ("batch", args.batch_seconds, args.batch_connections),
            ):
                results[kind] = load_in_turns(
                    servers,
                    batch=kind == "batch",
                    seconds=seconds,
                    connections=connections,
                    rounds=args.rounds,
                    retries=args.unbalanced_retries,
                )
    finally:
        docker_engine.client().images.remove(project.reference, force=True)
    results["machine"]["load_average_after"] = list(os.getloadavg())
    results["ratios"] = ratios(results["single_row"], results["batch"])
    if PROJECT_LIGHTGBM in results["single_row"]:
        results["ratios_lightgbm_backend"] = ratios(
            results["single_row"], results["batch"], PROJECT_LIGHTGBM
        )
    errors = {
        f"{kind}:{name}": row["errors"]
        for kind in ("single_row", "batch")
        for name, row in results[kind].items()
        if row["errors"]
    }
    path = save_results("peers", results)

    print(f"machine: {results['machine']}; results in {path}")
    print(f"versions: {json.dumps(results['versions'])}")
    report(results["single_row"], f"single row, {args.connections} connections:", batch=False)
    report(
        results["batch"],
        f"batch of {BATCH_ROWS}, {args.batch_connections} connections:",
        batch=True,
    )
    retried = {
        f"{kind}:{name}": len(row["unbalanced_attempts"])
        for kind in ("single_row", "batch")
        for name, row in results[kind].items()
        if row["unbalanced_attempts"]
    }
    if retried:
        print(f"runs discarded and run again (one worker took every connection): {retried}")
    unbalanced_runs = {
        f"{kind}:{name}": row["unbalanced_rounds"]
        for kind in ("single_row", "batch")
        for name, row in results[kind].items()
        if row["unbalanced_rounds"]
    }
    if unbalanced_runs:
        print(
            f"WARNING: one worker did more than {UNBALANCED_SHARE:.0%} of the work in rounds"
            f" {unbalanced_runs} (it took every connection): that server's figures there are"
            " of one worker, not two",
            file=sys.stderr,
        )
    if errors:
        print(
            f"WARNING: errors under load, the ratios flatter whoever had them: {errors}",
            file=sys.stderr,
        )
    print(
        "ratios are mlinfra / peer: throughput higher is better for mlinfra, p99 and cpu lower"
        " is better; mlinfra_lightgbm is the same image with MODEL_BACKEND=lightgbm"
    )
    for key, value in [
        *results.get("ratios_lightgbm_backend", {}).items(),
        *results["ratios"].items(),
    ]:
        print(f"{key}={value:.2f}")


if __name__ == "__main__":
    main()
