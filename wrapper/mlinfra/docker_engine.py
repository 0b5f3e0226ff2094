"""The Docker engine: the one place that makes a Docker client, and the adapter for the SDK.

Every part of mlinfra (and the tests and benchmarks) gets its client from :func:`client`; the
SDK's ways of saying "not there" and "failed" become ``None`` or an
:class:`~mlinfra.errors.MlinfraError` with a hint here, once:

- no engine answers: :class:`~mlinfra.errors.ToolMissingError` (:func:`client`), or False
  (:func:`answers`, for the set-up that starts one);
- an image or container that does not exist: ``None`` (:func:`find_image`,
  :func:`find_container`);
- an exec into a container that is not running (a restart policy may be restarting it between
  a status read and the exec): ``None`` (:func:`exec_output`);
- a build: the engine reports a failed step in-band, as a message of the build's stream, not as
  an HTTP error; :func:`build` turns either into a :class:`~mlinfra.errors.DockerError` that ends
  with the build log's last lines.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any

import docker
from docker import DockerClient
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.models.containers import Container
from docker.models.images import Image

from mlinfra.errors import DockerError, ToolMissingError

# PERF: one read of the engine's answer may take this long: a build step, the push of a 550 MB
# image or the import of a base image stream for minutes (docker-py's default is 60 s).
TIMEOUT_S = 600
# The set-up asks "does an engine answer?" before starting one; no answer must come back fast.
PROBE_TIMEOUT_S = 5
LOG_TAIL_LINES = 20
# NOTE: types-docker's restart policy names only "always" and "on-failure"; the engine also takes
# "unless-stopped" (a container someone stopped stays stopped when the engine restarts).
RESTART_UNLESS_STOPPED: Any = {"Name": "unless-stopped"}
NO_ENGINE_HINT = "Start Docker and check `docker info` (scripts/bootstrap.sh starts one on Debian)."


def client(*, timeout: int = TIMEOUT_S) -> DockerClient:
    """A client of the engine ``$DOCKER_HOST`` names (else the local socket), checked by a ping.

    Raises:
        ToolMissingError: no engine answers.
    """
    try:
        engine = docker.from_env(timeout=timeout)
        engine.ping()
    except DockerException as err:
        raise ToolMissingError(
            f"No Docker engine answers ({err.__class__.__name__}).", NO_ENGINE_HINT
        ) from err
    return engine


def answers(timeout: int = PROBE_TIMEOUT_S) -> bool:
    """True when an engine answers a ping within ``timeout`` seconds."""
    try:
        client(timeout=timeout)
        return True
    except Exception:  # any failure means "no engine we can use"
        return False


def find_image(engine: DockerClient, reference: str) -> Image | None:
    """The local image ``reference`` (a tag or an id), or None."""
    try:
        return engine.images.get(reference)
    except ImageNotFound:
        return None


def find_container(engine: DockerClient, name: str) -> Container | None:
    """The container ``name`` (running or not), or None."""
    try:
        return engine.containers.get(name)
    except NotFound:
        return None


def image_id(image: Image) -> str:
    """The image's id (``sha256:...``): docker-py types it optional, the engine always sends it."""
    return str(image.attrs["Id"])


def exec_output(container: Container, command: list[str]) -> tuple[int, str] | None:
    """Run ``command`` in the running ``container``; its exit code and output (stdout and
    stderr, decoded), or None when the container is not running by the time the exec starts."""
    try:
        result = container.exec_run(command)
    except APIError as err:
        # NOTE: the engine answers 409 Conflict to an exec into a container that is restarting
        # or stopped; a status read just before cannot rule that out.
        if err.status_code == HTTPStatus.CONFLICT:
            return None
        raise
    output = result.output if isinstance(result.output, bytes) else b"".join(result.output)
    return result.exit_code or 0, output.decode(errors="replace")


def remove_image_quietly(engine: DockerClient, reference: str) -> None:
    """Remove an image (a tag or an id) if the engine lets us; one a container still uses, or
    one already gone, stays as it is."""
    with contextlib.suppress(APIError):
        engine.images.remove(reference)


def _stream_build(
    lines: Iterable[dict[str, Any]], progress: Callable[[str], None], what: str, hint: str
) -> str | None:
    """Forward the engine's build messages; return the image id or raise with the log's tail."""
    tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
    image_id = None
    for message in lines:
        # NOTE: the engine reports a failed step in-band as {"error": ...}, not as an HTTP error.
        if "error" in message:
            tail.append(str(message["error"]).rstrip())
            raise DockerError(f"docker build of {what} failed:\n" + "\n".join(tail), hint)
        text = str(message.get("stream", "")).rstrip()
        if text:
            tail.append(text)
            progress(text)
        aux = message.get("aux")
        if isinstance(aux, dict) and "ID" in aux:
            image_id = aux["ID"]
    return image_id


def build(
    engine: DockerClient,
    context: str,
    tag: str,
    *,
    buildargs: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    progress: Callable[[str], None] = lambda _line: None,
    what: str | None = None,
    hint: str = "Fix the failing step named in the last lines above, then build again.",
) -> Image:
    """Build the folder ``context`` as ``tag``, forwarding each line of the build's log to
    ``progress``; the image built.

    Raises:
        DockerError: the engine refused the build, or a step failed (the message ends with the
            log's last lines; ``what`` names the build in it, ``hint`` says what to do).
    """
    what = what or tag
    try:
        stream = engine.api.build(
            path=context,
            tag=tag,
            buildargs=dict(buildargs or {}),
            labels=dict(labels or {}),
            rm=True,
            forcerm=True,
            decode=True,
        )
        _stream_build(stream, progress, what, hint)
    except APIError as err:
        raise DockerError(f"docker build of {what} was refused: {err.explanation}") from err
    return engine.images.get(tag)
