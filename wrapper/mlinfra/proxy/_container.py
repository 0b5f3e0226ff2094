"""The local load balancer's container: nginx on the host network, reconfigured in place.

The configuration is copied into the container (``put_archive``) rather than bind-mounted, so the
proxy works with a remote or VM-backed engine (Docker Desktop) whose file system is not ours.
"""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Sequence

from docker import DockerClient
from docker.errors import APIError, NotFound
from docker.models.containers import Container

from mlinfra import docker_engine
from mlinfra.config import port_setting
from mlinfra.errors import DockerError
from mlinfra.proxy._image import ensure_proxy_image
from mlinfra.proxy._nginx import Upstream, render_nginx_conf

PORT_ENV = "MLINFRA_PROXY_PORT"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
CONF_PATH = "/etc/nginx/nginx.conf"
LABEL_ENV = "mlinfra.env"
LABEL_ROLE = "mlinfra.role"
LABEL_LISTEN = "mlinfra.proxy-listen"
RELOAD_TIMEOUT_S = 10.0


def default_port() -> int:
    """``$MLINFRA_PROXY_PORT``, else 8080: a setting, so a test can run beside a user's proxy."""
    return port_setting(PORT_ENV, DEFAULT_PORT)


def _conf_archive(text: str) -> bytes:
    data = text.encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(CONF_PATH.rsplit("/", 1)[1])
        info.size = len(data)
        info.mtime = int(time.time())
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _read_conf(container: Container) -> str | None:
    try:
        stream, _ = container.get_archive(CONF_PATH)
    except NotFound:
        return None
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.extractfile(tar.getmembers()[0])
        return member.read().decode() if member else None


def _worker_pids(container: Container) -> dict[int, str]:
    """nginx worker processes by PID, with their title (old ones say "is shutting down")."""
    script = 'for d in /proc/[0-9]*; do printf "%s %s\\n" "${d#/proc/}" "$(tr "\\0" " " < $d/cmdline)"; done'
    _, output = docker_engine.exec_output(container, ["sh", "-c", script])
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
        client: a Docker client (default: ``mlinfra.docker_engine.client()``).
    """

    def __init__(
        self,
        env: str,
        *,
        host: str = DEFAULT_HOST,
        port: int | None = None,
        client: DockerClient | None = None,
    ) -> None:
        self.env = env
        self.host = host
        self.port = port if port is not None else default_port()
        self.client = client or docker_engine.client()
        self.name = f"mlinfra-{env}-proxy"

    @classmethod
    def running_in(
        cls, env: str, *, client: DockerClient | None = None
    ) -> tuple[str | None, list[Upstream]]:
        """The URL and upstreams of the proxy running for ``env``, whatever its port; (None, [])
        when none runs."""
        proxy = cls(env, client=client)
        container = proxy._find()
        if container is None or container.status != "running":
            return None, []
        return f"http://{container.labels.get(LABEL_LISTEN, proxy._listen)}", proxy.upstreams()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def _listen(self) -> str:
        return f"{self.host}:{self.port}"

    def _find(self) -> Container | None:
        return docker_engine.find_container(self.client, self.name)

    def ensure_running(self) -> None:
        """Start the proxy unless it already runs on the same address (keeps its upstreams)."""
        container = self._find()
        if container is not None:
            if container.status == "running" and container.labels.get(LABEL_LISTEN) == self._listen:
                return
            container.remove(force=True)
        image = ensure_proxy_image(self.client)
        try:
            # NOTE: host networking, because the targets are the host ports Docker published on
            # 127.0.0.1 (what the target group records), and the URL must be the host's.
            container = self.client.containers.create(
                image,
                name=self.name,
                network_mode="host",
                labels={LABEL_ENV: self.env, LABEL_ROLE: "proxy", LABEL_LISTEN: self._listen},
                restart_policy=docker_engine.RESTART_UNLESS_STOPPED,
            )
            container.put_archive("/etc/nginx", _conf_archive(self._render([])))
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

    def _render(self, upstreams: Sequence[Upstream]) -> str:
        return render_nginx_conf(upstreams, host=self.host, port=self.port)

    def set_upstreams(self, upstreams: Sequence[Upstream]) -> bool:
        """Point the proxy at ``upstreams`` with a graceful reload; False when nothing changed.

        Returns once new workers serve the new list and the old ones only finish their requests,
        so a caller may start draining a target it just removed.
        """
        container = self._find()
        if container is None or container.status != "running":
            raise DockerError(
                f"The proxy {self.name} is not running.",
                "Call LocalProxy.ensure_running() first (mlinfra deploy --env local does).",
            )
        text = self._render(upstreams)
        if _read_conf(container) == text:
            return False
        before = _worker_pids(container)
        container.put_archive("/etc/nginx", _conf_archive(text))
        code, output = docker_engine.exec_output(container, ["nginx", "-t", "-q"])
        if code != 0:
            raise DockerError(
                f"nginx rejected the configuration for {upstreams}: {output.strip()}",
                "This is a bug in mlinfra.proxy; please report it with this message.",
            )
        container.exec_run(["nginx", "-s", "reload"])
        self._wait_reloaded(container, set(before))
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
        """The targets the running proxy forwards to (read back from its configuration)."""
        container = self._find()
        text = _read_conf(container) if container is not None else None
        found = []
        for line in (text or "").splitlines():
            words = line.split()
            if len(words) >= 2 and words[0] == "server" and ":" in words[1]:
                host, _, port = words[1].rpartition(":")
                found.append(Upstream(host, int(port)))
        return found

    def stop(self) -> bool:
        """Remove the proxy container; False when there was none."""
        container = self._find()
        if container is None:
            return False
        container.remove(force=True)
        return True
