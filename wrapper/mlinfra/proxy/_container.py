"""The local load balancer's container: nginx on the host network, reconfigured in place.

The configuration is copied into the container (``put_archive``) rather than bind-mounted, so the
proxy works with a remote or VM-backed engine (Docker Desktop) whose file system is not ours.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from docker import DockerClient
from docker.errors import APIError, NotFound
from docker.models.containers import Container

from mlinfra import docker_engine
from mlinfra.config import port_setting
from mlinfra.errors import DockerError
from mlinfra.proxy._image import ensure_proxy_image
from mlinfra.proxy._nginx import (
    DEFAULT_POOL,
    TLS_DIR,
    Pool,
    Redirect,
    Route,
    Upstream,
    read_pools,
    read_routes,
    render_nginx_conf,
)
from mlinfra.proxy._tls import LeafCertificate

PORT_ENV = "MLINFRA_PROXY_PORT"
TLS_PORT_ENV = "MLINFRA_PROXY_TLS_PORT"
DEFAULT_TLS_PORT = 8443
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
CONF_PATH = "/etc/nginx/nginx.conf"
# A copy of the configuration nginx's workers serve, written once a reload has finished: the
# written nginx.conf runs ahead of them until then (and stays ahead if the reload failed).
LIVE_PATH = "/etc/nginx/mlinfra-live.conf"
LABEL_ENV = "mlinfra.env"
LABEL_ROLE = "mlinfra.role"
LABEL_LISTEN = "mlinfra.proxy-listen"
# The HTTPS listener's address ("" without one), the HTTP port's redirect ("301 HTTPS 8443"),
# the served certificate's digest and the CA that signed it: the configuration's other inputs.
LABEL_TLS_LISTEN = "mlinfra.proxy-tls-listen"
LABEL_REDIRECT = "mlinfra.proxy-redirect"
LABEL_CERT = "mlinfra.proxy-cert"
LABEL_CA_FILE = "mlinfra.proxy-ca-file"
RELOAD_TIMEOUT_S = 10.0


def default_port() -> int:
    """``$MLINFRA_PROXY_PORT``, else 8080: a setting, so a test can run beside a user's proxy."""
    return port_setting(PORT_ENV, DEFAULT_PORT)


def default_tls_port() -> int:
    """``$MLINFRA_PROXY_TLS_PORT``, else 8443: where an HTTPS listener is served locally."""
    return port_setting(TLS_PORT_ENV, DEFAULT_TLS_PORT)


def _archive(files: dict[str, bytes], mode: int = 0o644) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for folder in sorted({name.rpartition("/")[0] for name in files} - {""}):
            directory = tarfile.TarInfo(folder)
            directory.type, directory.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(directory)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _conf_archive(text: str, path: str = CONF_PATH) -> bytes:
    return _archive({path.rsplit("/", 1)[1]: text.encode()})


def _redirect_label(redirect: Redirect | None) -> str:
    return f"{redirect.status} {redirect.protocol} {redirect.port}" if redirect else ""


def _redirect_of(label: str) -> Redirect | None:
    words = label.split()
    return Redirect(int(words[0]), words[1], int(words[2])) if len(words) == 3 else None


@dataclass(frozen=True)
class ProxyView:
    """A running proxy as read back from Docker: its URLs, the CA of its HTTPS one, upstreams."""

    url: str
    https_url: str | None
    ca_file: str | None
    upstreams: list[Upstream]


def _read_conf(container: Container, path: str = CONF_PATH) -> str | None:
    try:
        stream, _ = container.get_archive(path)
    except NotFound:
        return None
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.extractfile(tar.getmembers()[0])
        return member.read().decode() if member else None


def _read_live(container: Container) -> str | None:
    """The configuration the workers serve (a proxy started before the live copy existed has
    only its nginx.conf)."""
    return _read_conf(container, LIVE_PATH) or _read_conf(container)


def _text(output: bytes | Iterator[bytes]) -> str:
    """exec_run's output (bytes: it is not run with stream=True)."""
    data = output if isinstance(output, bytes) else b"".join(output)
    return data.decode(errors="replace")


def _worker_pids(container: Container) -> dict[int, str]:
    """nginx worker processes by PID, with their title (old ones say "is shutting down"); none
    while the container is not running (an nginx that cannot listen exits, and the restart
    policy restarts it)."""
    script = 'for d in /proc/[0-9]*; do printf "%s %s\\n" "${d#/proc/}" "$(tr "\\0" " " < $d/cmdline)"; done'
    answer = docker_engine.exec_output(container, ["sh", "-c", script])
    if answer is None:
        return {}
    _, output = answer
    workers = {}
    for line in output.splitlines():
        pid, _, title = line.partition(" ")
        if title.startswith("nginx: worker process"):
            workers[int(pid)] = title.strip()
    return workers


class LocalProxy:
    """The ALB of the local environment: one nginx container per environment.

    Args:
        env: the environment name; the container is ``mlinfra-<env>-proxy``.
        host, port: where the proxy listens on this machine (default 127.0.0.1 and
            ``$MLINFRA_PROXY_PORT`` or 8080).
        tls_port: where it serves HTTPS when the environment's ALB has an HTTPS listener
            (default ``$MLINFRA_PROXY_TLS_PORT`` or 8443).
        client: a Docker client (default: ``mlinfra.docker_engine.client()``).
    """

    def __init__(
        self,
        env: str,
        *,
        host: str = DEFAULT_HOST,
        port: int | None = None,
        tls_port: int | None = None,
        client: DockerClient | None = None,
    ) -> None:
        self.env = env
        self.host = host
        self.port = port if port is not None else default_port()
        self.tls_port = tls_port if tls_port is not None else default_tls_port()
        self.client = client or docker_engine.client()
        self.name = f"mlinfra-{env}-proxy"

    @classmethod
    def running_in(
        cls, env: str, *, client: DockerClient | None = None
    ) -> tuple[str | None, list[Upstream]]:
        """The URL and upstreams of the proxy running for ``env``, whatever its port; (None, [])
        when none runs."""
        view = cls.view_of(env, client=client)
        return (view.url, view.upstreams) if view else (None, [])

    @classmethod
    def view_of(cls, env: str, *, client: DockerClient | None = None) -> ProxyView | None:
        """The proxy running for ``env``, whatever its ports; None when none runs."""
        proxy = cls(env, client=client)
        container = proxy._find()
        if container is None or container.status != "running":
            return None
        labels = container.labels
        tls = labels.get(LABEL_TLS_LISTEN, "")
        return ProxyView(
            url=f"http://{labels.get(LABEL_LISTEN, proxy._listen)}",
            https_url=f"https://{tls}" if tls else None,
            ca_file=labels.get(LABEL_CA_FILE) or None,
            upstreams=proxy.upstreams(),
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def _listen(self) -> str:
        return f"{self.host}:{self.port}"

    def _find(self) -> Container | None:
        return docker_engine.find_container(self.client, self.name)

    def ensure_running(
        self, *, certificate: LeafCertificate | None = None, redirect: Redirect | None = None
    ) -> None:
        """Start the proxy unless it already runs with the same listeners (keeps its upstreams).

        With ``certificate``, it serves HTTPS on ``tls_port`` too; with ``redirect``, its HTTP
        port answers that redirect (the ALB's HTTP listener action) instead of forwarding.
        """
        cert_pem = certificate.cert_file.read_bytes() if certificate else b""
        key_pem = certificate.key_file.read_bytes() if certificate else b""
        labels = {
            LABEL_ENV: self.env,
            LABEL_ROLE: "proxy",
            LABEL_LISTEN: self._listen,
            LABEL_TLS_LISTEN: f"{self.host}:{self.tls_port}" if certificate else "",
            LABEL_REDIRECT: _redirect_label(redirect),
            LABEL_CERT: hashlib.sha256(cert_pem + key_pem).hexdigest()[:16] if certificate else "",
            LABEL_CA_FILE: str(certificate.ca_file) if certificate else "",
        }
        container = self._find()
        if container is not None:
            same = all(container.labels.get(k, "") == v for k, v in labels.items())
            if container.status == "running" and same:
                return
            running = container.status == "running"
            keep, keep_routes = (self.pools(), self.routes()) if running else (None, [])
            container.remove(force=True)
        else:
            keep, keep_routes = None, []
        image = ensure_proxy_image(self.client)
        try:
            # NOTE: host networking, because the targets are the host ports Docker published on
            # 127.0.0.1 (what the target group records), and the URL must be the host's.
            container = self.client.containers.create(
                image,
                name=self.name,
                network_mode="host",
                labels=labels,
                restart_policy=docker_engine.RESTART_UNLESS_STOPPED,
            )
            if certificate:
                # NOTE: the key is readable by nginx's master only (it runs as root).
                container.put_archive(
                    str(Path(TLS_DIR).parent),
                    _archive({"tls/cert.pem": cert_pem, "tls/key.pem": key_pem}, mode=0o600),
                )
            text = self._render(keep or [], labels, keep_routes)
            container.put_archive("/etc/nginx", _conf_archive(text))
            container.put_archive("/etc/nginx", _conf_archive(text, LIVE_PATH))
            container.start()
        except APIError as err:
            raise DockerError(
                f"Could not start the proxy container {self.name}: {err.explanation}",
                "Check `docker info`; remove a leftover container with `docker rm -f "
                f"{self.name}`.",
            ) from err
        self._wait_serving(container)

    def _wait_serving(self, container: Container) -> None:
        deadline = time.monotonic() + RELOAD_TIMEOUT_S
        while time.monotonic() < deadline:
            container.reload()
            if container.status != "running":
                break
            if _worker_pids(container):
                return
            time.sleep(0.1)
        logs = container.logs(tail=5).decode(errors="replace").strip()
        container.remove(force=True)
        raise DockerError(
            f"The proxy {self.name} did not start listening on {self._listen}: {logs}",
            f"If the port is taken, free it or set {PORT_ENV} to another port.",
        )

    def _render(
        self, pools: Sequence[Pool], labels: dict[str, str], routes: Sequence[Route] = ()
    ) -> str:
        """The configuration for ``pools`` with the listeners the container was made with (one
        pool named "service": the listener forwards to one group, as it always had)."""
        host, _, port = labels.get(LABEL_LISTEN, self._listen).rpartition(":")
        tls = labels.get(LABEL_TLS_LISTEN, "")
        single = len(pools) == 1 and pools[0].name == DEFAULT_POOL
        return render_nginx_conf(
            pools[0].upstreams if single else (),
            pools=None if single or not pools else pools,
            host=host,
            port=int(port),
            tls_port=int(tls.rpartition(":")[2]) if tls else None,
            redirect=_redirect_of(labels.get(LABEL_REDIRECT, "")),
            routes=routes,
        )

    def set_upstreams(
        self,
        upstreams: Sequence[Upstream],
        *,
        pool: str = DEFAULT_POOL,
        weights: Mapping[str, int] | None = None,
        routes: Sequence[Route] | None = None,
    ) -> bool:
        """Point ``pool`` (one target group) at ``upstreams`` with a graceful reload; False when
        nothing changed.

        ``weights`` (the listener's, by pool) replaces the pools' shares and drops any pool it
        does not name and no route reaches; without it the other pools keep theirs. ``routes``
        (the listener's rules) replaces the routes; without it they stay as they were. Returns once new workers serve
        the new list and the old ones only finish their requests, so a caller may start draining
        a target it just removed.
        """
        container = self._find()
        if container is None or container.status != "running":
            raise DockerError(
                f"The proxy {self.name} is not running.",
                "Call LocalProxy.ensure_running() first (mlinfra deploy --env local does).",
            )
        written = _read_conf(container) or ""
        pools = {p.name: p for p in read_pools(written)}
        kept_routes = read_routes(written) if routes is None else list(routes)
        # A pool only a rule reaches takes no share of the default action.
        routed = {route.pool for route in kept_routes}
        share = 1 if pool not in routed or (weights and pool in weights) else 0
        pools[pool] = Pool(pool, pools[pool].weight if pool in pools else share, tuple(upstreams))
        if weights is not None:
            names = [*weights, *sorted(routed - set(weights))]
            pools = {
                name: Pool(
                    name, weights.get(name, 0), pools[name].upstreams if name in pools else ()
                )
                for name in names
            }
        text = self._render(list(pools.values()), container.labels, kept_routes)
        # Against what is served, not what was written: a reload that was interrupted or timed
        # out left nginx.conf ahead of the workers, and this call finishes it.
        if _read_live(container) == text:
            return False
        before = _worker_pids(container)
        container.put_archive("/etc/nginx", _conf_archive(text))
        answer = docker_engine.exec_output(container, ["nginx", "-t", "-q"])
        if answer is None:
            raise DockerError(
                f"The proxy {self.name} stopped while its configuration was being changed.",
                f"Read `docker logs {self.name}`, then run the command again.",
            )
        code, output = answer
        if code != 0:
            raise DockerError(
                f"nginx rejected the configuration for {upstreams}: {output.strip()}",
                "This is a bug in mlinfra.proxy; please report it with this message.",
            )
        container.exec_run(["nginx", "-s", "reload"])
        self._wait_reloaded(container, set(before))
        container.put_archive("/etc/nginx", _conf_archive(text, LIVE_PATH))
        return True

    def _wait_reloaded(self, container: Container, old_workers: set[int]) -> None:
        deadline = time.monotonic() + RELOAD_TIMEOUT_S
        while time.monotonic() < deadline:
            workers = _worker_pids(container)
            fresh = [pid for pid in workers if pid not in old_workers]
            # A retired worker is gone or titled "... is shutting down" and accepts no request.
            still_accepting = [
                pid for pid in old_workers if pid in workers and "shutting down" not in workers[pid]
            ]
            if fresh and not still_accepting:
                return
            time.sleep(0.05)
        raise DockerError(
            f"The proxy {self.name} did not reload within {RELOAD_TIMEOUT_S:.0f} s.",
            f"Read `docker logs {self.name}`.",
        )

    def upstreams(self) -> list[Upstream]:
        """The targets the running proxy forwards to, in every pool (read back from its
        configuration)."""
        return [u for pool in self.pools() for u in pool.upstreams]

    def pools(self) -> list[Pool]:
        """The target groups the running proxy splits requests over, with their weights (as its
        workers serve them: a target appears once requests can reach it)."""
        container = self._find()
        text = _read_live(container) if container is not None else None
        return read_pools(text or "")

    def routes(self) -> list[Route]:
        """The listener rules the running proxy follows (as its workers serve them)."""
        container = self._find()
        text = _read_live(container) if container is not None else None
        return read_routes(text or "")

    def stop(self) -> bool:
        """Remove the proxy container; False when there was none."""
        container = self._find()
        if container is None:
            return False
        container.remove(force=True)
        return True
