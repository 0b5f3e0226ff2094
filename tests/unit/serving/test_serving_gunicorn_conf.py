"""serving/gunicorn.conf.py: every name is a real gunicorn setting, and the ALB/ECS timings hold."""

from __future__ import annotations

import inspect
import runpy
from pathlib import Path
from typing import Any

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger

CONF = Path(__file__).resolve().parents[3] / "serving" / "gunicorn.conf.py"
ALB_IDLE_TIMEOUT = 60
ECS_STOP_TIMEOUT = 30


def load(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    # The file sets process-wide defaults. setenv-then-delenv makes monkeypatch remember each
    # variable as it was before the test, so it also undoes what the file sets.
    for name in (
        "OMP_NUM_THREADS",
        "PROMETHEUS_MULTIPROC_DIR",
        "GUNICORN_WORKERS",
        "GUNICORN_WORKER_CONNECTIONS",
        "UV_TCP_SINGLE_ACCEPT",
        "GUNICORN_HTTP_PARSER",
    ):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONF))


def settings_in(namespace: dict[str, Any]) -> dict[str, Any]:
    return {
        name: value
        for name, value in namespace.items()
        if not name.startswith("_") and not inspect.ismodule(value) and not inspect.isclass(value)
    }


def test_every_name_is_a_gunicorn_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    known = Config().settings
    unknown = sorted(set(settings_in(load(monkeypatch))) - set(known))
    assert unknown == []


def test_timings_fit_the_alb_and_ecs(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = load(monkeypatch)
    assert conf["keepalive"] > ALB_IDLE_TIMEOUT
    assert conf["graceful_timeout"] < ECS_STOP_TIMEOUT
    assert conf["preload_app"] is True


def test_one_lightgbm_thread_and_metrics_on_tmp(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    load(monkeypatch)
    assert os.environ["OMP_NUM_THREADS"] == "1"
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/")
    # Workers share a client's connections instead of one taking them all (gunicorn.conf.py).
    assert os.environ["UV_TCP_SINGLE_ACCEPT"] == "1"


def test_workers_and_connections_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = load(monkeypatch, GUNICORN_WORKERS="3", GUNICORN_WORKER_CONNECTIONS="200")
    assert (conf["workers"], conf["worker_connections"]) == (3, 200)
    assert load(monkeypatch)["workers"] >= 1


def test_an_asyncio_worker_serves_the_asgi_app(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = load(monkeypatch)
    assert conf["worker_class"] == "asgi"
    assert conf["wsgi_app"] == "mlinfra_serving.asgi:application"
    assert "threads" not in conf, "the asgi worker ignores threads (and warns about them)"


def test_the_image_requires_the_c_parser_and_a_host_falls_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The Dockerfile's runtime stage sets GUNICORN_HTTP_PARSER=fast (its native stage builds it).
    assert load(monkeypatch)["http_parser"] == "auto"
    assert load(monkeypatch, GUNICORN_HTTP_PARSER="fast")["http_parser"] == "fast"
    dockerfile = (CONF.parent / "Dockerfile").read_text()
    assert "GUNICORN_HTTP_PARSER=fast" in dockerfile


def test_a_bad_worker_count_stops_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SystemExit, match="GUNICORN_WORKERS='two' is not a positive integer"):
        load(monkeypatch, GUNICORN_WORKERS="two")


def test_no_access_log_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = load(monkeypatch)
    cfg = Config()
    for name in ("accesslog", "logconfig_dict"):
        cfg.set(name, conf[name])
    # Not instantiated: a gunicorn Logger applies logconfig_dict to this process's logging.
    stock, ours = object.__new__(Logger), object.__new__(conf["logger_class"])
    stock.cfg = ours.cfg = cfg
    assert stock.access_log_enabled, "logconfig_dict alone turns gunicorn's access log on"
    assert not ours.access_log_enabled


def test_the_master_freezes_what_it_loaded_before_the_first_fork(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gc

    conf = load(monkeypatch)
    assert gc.get_freeze_count() == 0
    try:
        conf["when_ready"](None)
        assert gc.get_freeze_count() > 1000, "the loaded objects went to the permanent generation"
    finally:
        gc.unfreeze()
