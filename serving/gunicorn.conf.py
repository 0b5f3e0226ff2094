"""gunicorn settings for an ECS task behind an ALB. Every value can be overridden by environment.

Timing (seconds): ALB idle timeout 60 < keepalive 75, so the ALB, not gunicorn, closes idle
connections (the other way round gives intermittent 502s); graceful_timeout 25 < ECS
stopTimeout 30, so on SIGTERM in-flight requests finish before ECS sends SIGKILL.
"""

import math
import os
import shutil
from pathlib import Path

# NOTE: gunicorn ships no type information (no py.typed, no stubs package).
from gunicorn.arbiter import Arbiter  # type: ignore[import-untyped]
from gunicorn.glogging import Logger  # type: ignore[import-untyped]
from gunicorn.workers.base import Worker  # type: ignore[import-untyped]

# NOTE: set before anything imports LightGBM or prometheus_client: both read these at import.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", "/tmp/mlinfra-metrics")
# uvloop's libuv accepts every pending connection at once by default, so one worker can take
# all of a client's keep-alive connections (16 of 16 in one measured run, half the req/s); one
# accept per loop turn lets the other workers take their share (9 and 7).
os.environ.setdefault("UV_TCP_SINGLE_ACCEPT", "1")


def _cpus() -> int:
    """CPUs this container may use: the cgroup v2 quota when there is one, else the affinity set."""
    available = len(os.sched_getaffinity(0))
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            return max(1, min(available, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return available


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise SystemExit(
            f"{name}={raw!r} is not a positive integer; unset it or set e.g. {default}."
        )
    return int(raw)


bind = f"0.0.0.0:{_env_int('PORT', 8080)}"
workers = _env_int("GUNICORN_WORKERS", _cpus())
# asyncio (uvloop when installed, as in the image) and one event loop per worker: no thread
# hand-off per request, which the gthread worker paid in CPU and in latency tail. Measured
# against gthread with 2 threads: about 2x the requests/s at half the CPU per request
# (docs/performance.md).
worker_class = "asgi"
# gunicorn_h1c's C parser and protocol (built in the image's native stage, which sets "fast":
# the service then refuses to start without it); "auto" elsewhere falls back to the pure-Python
# parser. Measured: 8-15% less CPU per request, the same answers (docs/performance.md).
http_parser = os.environ.get("GUNICORN_HTTP_PARSER", "auto")
# Open connections per worker (the ALB keeps a pool of them); more wait in the backlog.
worker_connections = _env_int("GUNICORN_WORKER_CONNECTIONS", 1000)
keepalive = _env_int("GUNICORN_KEEPALIVE", 75)
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 25)
timeout = _env_int("GUNICORN_TIMEOUT", 30)
backlog = 256
# The model is loaded once in the master and shared copy-on-write by the workers.
preload_app = True
wsgi_app = "mlinfra_serving.asgi:application"
# Heartbeat files on tmpfs: /dev/shm exists even with a read-only root filesystem.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# One JSON line per request comes from the app; gunicorn's access log would double it.
accesslog = None


class NoAccessLogLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger without the access log, whatever the other settings.

    PERF: gunicorn turns its access log on whenever ``logconfig_dict`` is set (below), then
    builds every request's line before its logger, which has no handler, drops it: 8% of a
    worker's busy time in py-spy (docs/performance.md).
    """

    @property
    def access_log_enabled(self) -> bool:
        return False


logger_class = NoAccessLogLogger
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
# gunicorn's own lines (boot, worker exits, signals) as JSON too, so one log query reads all.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "mlinfra_serving.logs.JsonFormatter"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"handlers": ["stderr"], "level": "WARNING"},
    "loggers": {
        "gunicorn.error": {"handlers": ["stderr"], "level": loglevel.upper(), "propagate": False},
        "gunicorn.access": {"handlers": [], "propagate": False},
    },
}
proc_name = "mlinfra-serving"
# gunicorn >= 27 opens a control socket under $HOME, which a read-only root cannot hold.
control_socket_disable = True


def on_starting(server: Arbiter) -> None:
    """A clean metrics folder per start: files of a previous run would be summed in."""
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    shutil.rmtree(directory, ignore_errors=True)
    try:
        directory.mkdir(parents=True)
    except OSError as err:
        raise SystemExit(
            f"cannot create PROMETHEUS_MULTIPROC_DIR={directory} ({err}); mount a tmpfs at /tmp"
            " (docker run --tmpfs /tmp, or an ECS volume) or point the variable at a writable path."
        ) from err


def child_exit(server: Arbiter, worker: Worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def post_fork(server: Arbiter, worker: Worker) -> None:
    from mlinfra_serving import logs

    logs.write_in_background()


def post_worker_init(worker: Worker) -> None:
    """Runs in each worker before it serves: the C parser keeps a next request whole (see
    mlinfra_serving.http1: gunicorn leaves its tail limit at 64 KiB)."""
    from mlinfra_serving import http1
    from mlinfra_serving.config import Settings

    http1.keep_whole_next_requests(Settings.from_env().max_body_bytes, worker.cfg)


def worker_exit(server: Arbiter, worker: Worker) -> None:
    """Runs in the worker as it stops: the request lines still queued are written first."""
    from mlinfra_serving import logs

    logs.flush_background()


def when_ready(server: Arbiter) -> None:
    """Runs in the master once the app is loaded (``preload_app``), before the first fork.

    PERF (the tail): every object the app loaded (numpy, LightGBM, scipy, Falcon: about half a
    million) moves to the collector's permanent generation, so a worker's full collection walks
    only what it made since, instead of pausing a request for the whole heap; the pages stay
    shared with the master too (no reference-count writes from the collector). Trials in
    docs/performance.md.
    """
    import gc

    gc.collect()
    gc.freeze()
