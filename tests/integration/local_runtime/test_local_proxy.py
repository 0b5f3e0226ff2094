"""The local load balancer against real nginx: round robin, retries, reloads, a taken port, and
the model service's own answer to an oversized body."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import docker
import httpx
import pytest
from docker.models.containers import Container
from local_runtime_support import free_port

from mlinfra.errors import DockerError
from mlinfra.model import ensure_model
from mlinfra.proxy import LocalProxy, Upstream

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
RELOADS = 20


class _Named(BaseHTTPRequestHandler):
    """Answers every request with the port it listens on."""

    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = str(self.server.server_address[1]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def backends() -> Iterator[list[Upstream]]:
    """Two HTTP servers on the host's loopback, as two tasks' published ports."""
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _Named) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield [Upstream("127.0.0.1", s.server_address[1]) for s in servers]
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def proxy(docker_client: docker.DockerClient) -> Iterator[LocalProxy]:
    proxy = LocalProxy(f"lrt{secrets.token_hex(3)}", port=free_port(), client=docker_client)
    proxy.ensure_running()
    yield proxy
    proxy.stop()


def _answers(url: str, n: int, method: str = "GET") -> Counter[str]:
    with httpx.Client(timeout=5) as client:
        return Counter(client.request(method, url, content=b"{}").text for _ in range(n))


def test_requests_are_spread_over_the_upstreams_and_follow_a_reload(
    proxy: LocalProxy, backends: list[Upstream]
) -> None:
    assert httpx.get(proxy.url).status_code == 503

    assert proxy.set_upstreams(backends) is True
    assert sorted(proxy.upstreams()) == sorted(backends)
    assert _answers(proxy.url, 10) == Counter({str(b.port): 5 for b in backends})

    assert proxy.set_upstreams(backends[:1]) is True
    assert _answers(proxy.url, 4) == Counter({str(backends[0].port): 4})
    assert proxy.set_upstreams(backends[:1]) is False  # unchanged: no reload


def test_the_listener_weights_split_requests_between_two_groups_and_drop_an_unnamed_one(
    proxy: LocalProxy, backends: list[Upstream]
) -> None:
    stable, canary = backends
    proxy.set_upstreams([stable])  # as before a canary: one group, the default pool
    weights = {"tg-stable": 75, "tg-canary": 25}
    proxy.set_upstreams([stable], pool="tg-stable", weights=weights)
    # The canary's group is named before its task serves: its share answers 503, as an ALB's.
    assert Counter(httpx.get(proxy.url).status_code for _ in range(40))[503] > 0
    proxy.set_upstreams([canary], pool="tg-canary")

    answers = _answers(proxy.url, 800)

    assert sorted(p.name for p in proxy.pools()) == ["tg-canary", "tg-stable"]
    assert sum(answers.values()) == 800 and set(answers) == {str(stable.port), str(canary.port)}
    assert 0.20 <= answers[str(canary.port)] / 800 <= 0.30  # 25% +- 5%
    proxy.set_upstreams([stable], pool="tg-stable", weights={"tg-stable": 1})
    assert _answers(proxy.url, 20) == Counter({str(stable.port): 20})
    assert [p.name for p in proxy.pools()] == ["tg-stable"]


def test_a_refused_connection_is_retried_on_the_next_target(
    proxy: LocalProxy, backends: list[Upstream]
) -> None:
    closed = Upstream("127.0.0.1", free_port())  # nothing listens there
    proxy.set_upstreams([closed, backends[0]])

    answers = _answers(proxy.url, 6) + _answers(proxy.url, 6, method="POST")

    assert answers == Counter({str(backends[0].port): 12})


def test_reloads_under_a_request_stream_drop_no_request(
    proxy: LocalProxy, backends: list[Upstream]
) -> None:
    outcomes: Counter[str] = Counter()
    stop = threading.Event()

    def stream() -> None:
        with httpx.Client(timeout=5) as client:
            while not stop.is_set():
                try:
                    outcomes[str(client.get(proxy.url).status_code)] += 1
                except httpx.HTTPError as err:
                    outcomes[type(err).__name__] += 1

    threads = [threading.Thread(target=stream) for _ in range(2)]
    proxy.set_upstreams(backends)
    for thread in threads:
        thread.start()
    try:
        for i in range(RELOADS):
            proxy.set_upstreams(backends[: 1 + i % 2])
    finally:
        stop.set()
        for thread in threads:
            thread.join()

    assert set(outcomes) == {"200"}, outcomes


def test_a_taken_port_is_reported_with_the_setting_to_change(
    docker_client: docker.DockerClient,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proxy = LocalProxy(f"lrt{secrets.token_hex(3)}", port=port, client=docker_client)
        with pytest.raises(DockerError, match=f"127.0.0.1:{port}") as raised:
            proxy.ensure_running()
    assert "MLINFRA_PROXY_PORT" in (raised.value.hint or "")
    assert proxy.stop() is False  # the failed container was removed


SERVING_DIR = Path(__file__).resolve().parents[3] / "serving"


@pytest.fixture(scope="module")
def model_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    """The model service itself (serving/ under gunicorn, as in the image) on a host port."""
    model = tmp_path_factory.mktemp("proxy-model")
    ensure_model(model)
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(SERVING_DIR),
        "MODEL_DIR": str(model),
        "MODEL_BACKEND": "lightgbm",
        "GUNICORN_WORKERS": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path_factory.mktemp("proxy-metrics")),
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [str(gunicorn), "--config", str(SERVING_DIR / "gunicorn.conf.py")]
    process = subprocess.Popen(
        [*command, "--bind", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("the model service did not become ready within 30 s")
        yield Upstream("127.0.0.1", port)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _chunks(size: int, chunk: int = 64 << 10) -> Iterator[bytes]:
    yield b'{"features": ['
    for _ in range(size // chunk):
        yield b" " * chunk
    yield b"]}"


# The service's limit is 1 MiB (MAX_BODY_BYTES); nginx's own default was 1 MiB too and it
# answered its HTML 413 page. An ALB passes the body on: the service's JSON 413 must arrive.
@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b'{"features": [' + b" " * (3 << 19) + b"]}", id="1.5-MiB"),
        pytest.param(b'{"features": [' + b" " * (6 << 20) + b"]}", id="6-MiB"),
        pytest.param(_chunks, id="4-MiB-chunked"),
    ],
)
def test_an_oversized_body_gets_the_service_s_json_413(
    proxy: LocalProxy, model_service: Upstream, content: bytes | Callable[[int], Iterator[bytes]]
) -> None:
    proxy.set_upstreams([model_service])
    body = content if isinstance(content, bytes) else content(4 << 20)
    response = httpx.post(
        f"{proxy.url}/predict",
        content=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413, response.text[:200]
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"] == "body_too_large"
    # Under the limit, through the same proxy, the guide's request still answers.
    guide = httpx.post(f"{proxy.url}/predict", json={"features": [3, 2, 1500, 2020]})
    assert guide.status_code == 200 and guide.json()["status"] == "success"


def test_an_interrupted_reload_lists_nothing_new_and_the_next_call_finishes_it(
    proxy: LocalProxy, backends: list[Upstream], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy.set_upstreams(backends[:1])
    real_exec_run = Container.exec_run

    def interrupted(self: Container, cmd: list[str], *args: object, **kwargs: object) -> object:
        if cmd == ["nginx", "-s", "reload"]:
            raise KeyboardInterrupt  # as a Ctrl-C after the new nginx.conf was written
        return real_exec_run(self, cmd, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(Container, "exec_run", interrupted)
        with pytest.raises(KeyboardInterrupt):
            proxy.set_upstreams(backends)

    # What the workers serve, not what was written: the second target takes no request yet.
    assert proxy.upstreams() == backends[:1]
    assert _answers(proxy.url, 4) == Counter({str(backends[0].port): 4})
    assert proxy.set_upstreams(backends) is True
    assert sorted(proxy.upstreams()) == sorted(backends)
    assert _answers(proxy.url, 10) == Counter({str(b.port): 5 for b in backends})
