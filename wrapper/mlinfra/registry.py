"""Container registries: the local one (Debian's distribution registry with htpasswd auth),
ECR logins through boto3, and pushes with per-layer progress and a confirmed digest.

The local registry keeps its data, config, credentials, log and pidfile under
``.mlinfra/registry/``; it outlives one command (like a service) and is reused when it answers.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from mlinfra import docker_engine
from mlinfra.config import port_setting
from mlinfra.errors import DockerError, RegistryError, ToolMissingError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
PORT_ENV = "MLINFRA_REGISTRY_PORT"
USERNAME = "mlinfra"
_START_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Credentials:
    """What ``docker login`` needs for one registry."""

    server: str
    username: str
    password: str

    def auth_config(self) -> dict[str, str]:
        return {"username": self.username, "password": self.password, "serveraddress": self.server}


# ---------------------------------------------------------------------------------------------
# The local registry
# ---------------------------------------------------------------------------------------------


class LocalRegistry:
    """Debian's ``docker-registry serve`` on 127.0.0.1, with htpasswd (bcrypt) auth.

    Args:
        root: its folder (``.mlinfra/registry``): data, config.yml, htpasswd, credentials, pidfile.
        port: TCP port on 127.0.0.1 (``$MLINFRA_REGISTRY_PORT`` or 5000 by default).
    """

    def __init__(self, root: Path, port: int | None = None) -> None:
        self.root = root
        self.port = port if port is not None else port_setting(PORT_ENV, DEFAULT_PORT)
        self.pidfile = root / "registry.pid"
        self.config_file = root / "config.yml"
        self.htpasswd_file = root / "htpasswd"
        self.credentials_file = root / "credentials.json"
        self.log_file = root / "registry.log"

    @property
    def address(self) -> str:
        return f"{DEFAULT_HOST}:{self.port}"

    # -- credentials and config -------------------------------------------------------------

    def credentials(self) -> Credentials:
        """The registry's credentials, made on first use (random password, bcrypt htpasswd)."""
        if not self.credentials_file.exists():
            self._make_credentials()
        stored = json.loads(self.credentials_file.read_text())
        return Credentials(self.address, stored["username"], stored["password"])

    def _make_credentials(self) -> None:
        htpasswd = shutil.which("htpasswd")
        if htpasswd is None:
            raise ToolMissingError(
                "htpasswd is not installed (needed for the local registry's password file).",
                "Install it: apt-get install apache2-utils (or run scripts/bootstrap.sh).",
            )
        self.root.mkdir(parents=True, exist_ok=True)
        password = secrets.token_urlsafe(24)
        # -i reads the password from stdin, so it never shows in the process list.
        subprocess.run(
            [htpasswd, "-B", "-i", "-c", str(self.htpasswd_file), USERNAME],
            input=password.encode(),
            check=True,
            capture_output=True,
        )
        self.credentials_file.touch(mode=0o600)
        self.credentials_file.write_text(json.dumps({"username": USERNAME, "password": password}))

    def _write_config(self) -> None:
        config = {
            "version": 0.1,
            "log": {"level": "warn"},
            "storage": {
                "filesystem": {"rootdirectory": str(self.root / "data")},
                "delete": {"enabled": True},
            },
            "http": {"addr": self.address, "secret": secrets.token_hex(16)},
            "auth": {"htpasswd": {"realm": "mlinfra-registry", "path": str(self.htpasswd_file)}},
        }
        # NOTE: JSON is valid YAML, so no YAML library is needed for the registry's config.
        self.config_file.write_text(json.dumps(config, indent=2))

    # -- process ----------------------------------------------------------------------------

    def _pid(self) -> int | None:
        """The pid in the pidfile, if that process is still our registry."""
        try:
            pid = int(self.pidfile.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (FileNotFoundError, ValueError):
            return None
        # A recycled pid belongs to another program: never signal it.
        return pid if str(self.config_file).encode() in cmdline else None

    def answers(self) -> bool:
        """True when a registry asking for auth answers on the address (401 on /v2/)."""
        try:
            response = httpx.get(f"http://{self.address}/v2/", timeout=2)
        except httpx.HTTPError:
            return False
        return response.status_code == 401 and "Docker-Distribution-Api-Version" in (
            response.headers
        )

    def start(self) -> bool:
        """Start the registry, or reuse the one already running; True if it was started now."""
        if self._pid() is not None and self.answers():
            return False
        binary = shutil.which("docker-registry")
        if binary is None:
            raise ToolMissingError(
                "docker-registry is not installed (the local environment's registry).",
                "Install it: apt-get install docker-registry (or run scripts/bootstrap.sh).",
            )
        if self.answers() or _port_in_use(self.port):
            raise RegistryError(
                f"Port {self.port} on {DEFAULT_HOST} is taken by another program, "
                "so the local registry cannot start.",
                f"Stop that program, or choose another port with {PORT_ENV}=<port>.",
            )
        self.credentials()
        self._write_config()
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(
                [binary, "serve", str(self.config_file)],
                stdout=log,
                stderr=log,
                start_new_session=True,  # it outlives this command, as a service would
            )
        self.pidfile.write_text(str(process.pid))
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            if self.answers():
                return True
            time.sleep(0.2)
        self.stop()
        tail = self.log_file.read_text(errors="replace").strip().splitlines()[-1:]
        raise RegistryError(
            f"The local registry did not answer on {self.address} within {_START_TIMEOUT_S:.0f} s"
            + (f": {tail[0]}" if tail else "."),
            f"Read {self.log_file} for the reason.",
        )

    def stop(self) -> bool:
        """Stop the registry this folder started; True if one was running."""
        pid = self._pid()
        if pid is None:
            self.pidfile.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        if not _wait_gone(pid, timeout=10):
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, timeout=5)
        self.pidfile.unlink(missing_ok=True)
        return True


def _port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((DEFAULT_HOST, port)) == 0


def _wait_gone(pid: int, timeout: float) -> bool:
    """Wait for ``pid`` to exit; True if it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # When the registry is this process's child (started in this run), reap it, or it
        # would stay a zombie for as long as this process lives.
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.1)
    return False


# ---------------------------------------------------------------------------------------------
# ECR
# ---------------------------------------------------------------------------------------------


def ecr_credentials(repository_url: str, ecr: Any) -> Credentials:
    """Docker credentials for the ECR registry of ``repository_url`` (a 12-hour token), from
    GetAuthorizationToken of the boto3 ECR client ``ecr``."""
    from botocore.exceptions import BotoCoreError, ClientError

    server = repository_url.split("/", 1)[0]
    try:
        data = ecr.get_authorization_token()["authorizationData"][0]
    except (BotoCoreError, ClientError) as err:
        raise RegistryError(
            f"Could not get an ECR login token for {server}: {err}",
            "Check your AWS credentials (`aws sts get-caller-identity`) and region.",
        ) from err
    username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    return Credentials(server, username, password)


# ---------------------------------------------------------------------------------------------
# Login and push
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerProgress:
    """One push event for one layer: ``status`` is Docker's (Preparing, Pushing, Pushed...)."""

    layer: str
    status: str
    current: int | None = None
    total: int | None = None


@dataclass(frozen=True)
class PushResult:
    image: str  # repository:tag as pushed
    digest: str  # sha256:..., confirmed by the registry
    size: int | None
    release: str | None = None  # the release-<n> tag the image carries (add_release_tag)


def login(credentials: Credentials) -> None:
    """``docker login``; a refused login is a one-line RegistryError."""
    from docker.errors import APIError

    try:
        docker_engine.client().login(
            username=credentials.username,
            password=credentials.password,
            registry=credentials.server,
            reauth=True,
        )
    except APIError as err:
        reason = "wrong username or password" if "401" in str(err) else err.explanation
        raise RegistryError(
            f"The registry {credentials.server} refused the login of user "
            f"{credentials.username!r}: {reason}.",
            "Check the registry credentials (local: .mlinfra/registry/credentials.json; "
            "ECR: your AWS credentials).",
        ) from err


def push(
    local_image: str,
    repository: str,
    tag: str,
    credentials: Credentials,
    on_progress: Callable[[LayerProgress], None] = lambda _: None,
) -> PushResult:
    """Tag ``local_image`` as ``repository:tag``, push it, and confirm the registry's digest."""
    from docker.errors import APIError, ImageNotFound

    client = docker_engine.client()
    login(credentials)
    try:
        client.images.get(local_image).tag(repository, tag)
    except ImageNotFound as err:
        raise DockerError(
            f"No local image {local_image!r} to push.", "Run `mlinfra build --env ENV` first."
        ) from err
    pushed: dict[str, Any] = {}
    try:
        events = client.api.push(
            repository, tag, stream=True, decode=True, auth_config=credentials.auth_config()
        )
        for event in events:
            if "error" in event:
                raise RegistryError(
                    f"Pushing {repository}:{tag} failed: {event['error']}",
                    "Check that the registry is up and the login is valid (`mlinfra doctor`).",
                )
            if "aux" in event:
                pushed = event["aux"]
            elif "id" in event and "status" in event:
                detail = event.get("progressDetail") or {}
                on_progress(
                    LayerProgress(
                        event["id"], event["status"], detail.get("current"), detail.get("total")
                    )
                )
    except APIError as err:
        raise RegistryError(f"Pushing {repository}:{tag} failed: {err.explanation}") from err
    digest = pushed.get("Digest")
    if not digest:
        raise RegistryError(
            f"The push of {repository}:{tag} ended without a digest from the registry.",
            "Push again; if it persists, read the registry's log.",
        )
    confirmed = client.images.get_registry_data(
        f"{repository}:{tag}", auth_config=credentials.auth_config()
    ).id
    if confirmed != digest:
        raise RegistryError(
            f"The registry serves {repository}:{tag} as {confirmed}, not the pushed {digest}.",
            "Another push of the same tag raced this one; push again with a new tag.",
        )
    return PushResult(f"{repository}:{tag}", digest, pushed.get("Size"))


# ---------------------------------------------------------------------------------------------
# Release tags: release-<n> on every image pushed for a deploy, kept by the ECR lifecycle rule
# ---------------------------------------------------------------------------------------------

RELEASE_PREFIX = "release-"
_RELEASE = re.compile(rf"^{RELEASE_PREFIX}(\d+)$")
_MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    )
)


def release_number(tag: str, prefix: str = RELEASE_PREFIX) -> int | None:
    """``k`` of a ``<prefix><k>`` tag (another model's ``release-<name>-<k>`` is not one)."""
    pattern = _RELEASE if prefix == RELEASE_PREFIX else re.compile(rf"^{re.escape(prefix)}(\d+)$")
    found = pattern.match(tag)
    return int(found.group(1)) if found else None


def next_release(tags: Mapping[str, str], prefix: str = RELEASE_PREFIX) -> int:
    """1 + the highest ``<prefix><k>`` among ``tags`` (1 when there is none)."""
    numbers = (release_number(tag, prefix) for tag in tags)
    return 1 + max((n for n in numbers if n is not None), default=0)


def is_release_tag(tag: str) -> bool:
    """A release tag of any model of the repository (``release-<k>``, ``release-<name>-<k>``)."""
    return tag.startswith(RELEASE_PREFIX) and tag.rsplit("-", 1)[-1].isdigit()


def local_release_tags(address: str, name: str, credentials: Credentials) -> dict[str, str]:
    """The ``release-<k>`` tags of ``name`` in a distribution registry, with their digests
    (``/v2/<name>/tags/list``, then a HEAD of each release manifest)."""
    base = f"http://{address}/v2/{name}"
    auth = (credentials.username, credentials.password)
    try:
        with httpx.Client(auth=auth, timeout=30) as http:
            listed = http.get(f"{base}/tags/list")
            if listed.status_code == 404:  # no push to this name yet
                return {}
            listed.raise_for_status()
            tags = [t for t in listed.json().get("tags") or [] if is_release_tag(t)]
            found = {}
            for tag in tags:
                head = http.head(f"{base}/manifests/{tag}", headers={"Accept": _MANIFEST_TYPES})
                head.raise_for_status()
                found[tag] = head.headers.get("Docker-Content-Digest", "")
            return found
    except httpx.HTTPError as err:
        raise RegistryError(
            f"The registry {address} did not list the tags of {name}: {err}.",
            "Check that it runs (`mlinfra doctor`) and push again.",
        ) from err


def ecr_release_tags(ecr: Any, name: str) -> dict[str, str]:
    """The ``release-<k>`` tags of ECR repository ``name`` with their digests (ListImages)."""
    pages = ecr.get_paginator("list_images").paginate(
        repositoryName=name, filter={"tagStatus": "TAGGED"}
    )
    return {
        image["imageTag"]: image["imageDigest"]
        for page in pages
        for image in page.get("imageIds", [])
        if is_release_tag(image.get("imageTag", ""))
    }


def add_release_tag(
    pushed: PushResult, credentials: Credentials, existing: Mapping[str, str]
) -> PushResult:
    """Give the image just pushed the tag ``release-<n>`` (n = 1 + the highest present in
    ``existing``, tag -> digest), unless one of those tags already names its digest.

    The push of a tag ECR already holds fails when the repository's tags are immutable: a
    concurrent deploy took that number first, and the error says so.
    """
    from docker.errors import APIError

    already = sorted(
        (t for t, digest in existing.items() if digest == pushed.digest),
        key=lambda t: release_number(t) or 0,
    )
    if already:
        return PushResult(pushed.image, pushed.digest, pushed.size, already[-1])
    repository, _tag = pushed.image.rsplit(":", 1)
    release = f"{RELEASE_PREFIX}{next_release(existing)}"
    client = docker_engine.client()
    client.images.get(pushed.image).tag(repository, release)
    try:
        events = client.api.push(
            repository, release, stream=True, decode=True, auth_config=credentials.auth_config()
        )
        errors = [event["error"] for event in events if "error" in event]
    except APIError as err:
        errors = [str(err.explanation)]
    finally:
        docker_engine.remove_image_quietly(client, f"{repository}:{release}")  # the local alias
    if errors:
        immutable = any("immutable" in e or "cannot be overwritten" in e for e in errors)
        raise RegistryError(
            f"Tagging {pushed.image} as {release} failed: "
            + (
                f"another push took {release} first (the repository's tags are immutable)."
                if immutable
                else errors[0]
            ),
            "Push again: the next push takes the next free release number.",
        )
    return PushResult(pushed.image, pushed.digest, pushed.size, release)


# ---------------------------------------------------------------------------------------------
# Images by digest: is it there, another tag for it, a copy into another repository (rollback
# and promote work on digests; they never build or push from the Docker engine)
# ---------------------------------------------------------------------------------------------


def _local_client(credentials: Credentials) -> httpx.Client:
    return httpx.Client(auth=(credentials.username, credentials.password), timeout=60)


def _registry_failed(address: str, what: str, err: Exception) -> RegistryError:
    return RegistryError(
        f"The registry {address} failed to {what}: {err}.",
        "Check that it runs (`mlinfra doctor`) and try again.",
    )


def local_manifest(
    address: str, name: str, reference: str, credentials: Credentials
) -> tuple[bytes, str] | None:
    """The manifest of ``name:reference`` (a tag or digest) as stored, and its media type; None
    when the registry does not hold it."""
    try:
        with _local_client(credentials) as http:
            got = http.get(
                f"http://{address}/v2/{name}/manifests/{reference}",
                headers={"Accept": _MANIFEST_TYPES},
            )
    except httpx.HTTPError as err:
        raise _registry_failed(address, f"read {name}@{reference}", err) from err
    if got.status_code == 404:
        return None
    if got.status_code >= 400:
        raise _registry_failed(address, f"read {name}@{reference}", Exception(got.text[:200]))
    return got.content, got.headers.get("Content-Type", "")


def local_put_manifest(
    address: str, name: str, tag: str, manifest: tuple[bytes, str], credentials: Credentials
) -> str:
    """Store ``manifest`` (bytes, media type) as ``name:tag``; the digest the registry gives it."""
    body, media_type = manifest
    try:
        with _local_client(credentials) as http:
            put = http.put(
                f"http://{address}/v2/{name}/manifests/{tag}",
                content=body,
                headers={"Content-Type": media_type},
            )
            put.raise_for_status()
    except httpx.HTTPError as err:
        raise _registry_failed(address, f"tag {name}:{tag}", err) from err
    return str(put.headers.get("Docker-Content-Digest", ""))


def _blob_digests(manifest: dict[str, Any]) -> list[str]:
    blobs = [manifest["config"]["digest"]] if "config" in manifest else []
    return blobs + [layer["digest"] for layer in manifest.get("layers", [])]


def local_copy(
    address: str, source: str, target: str, digest: str, tag: str, credentials: Credentials
) -> str:
    """Copy ``source@digest`` into repository ``target`` of the same registry as ``target:tag``
    (each blob mounted across repositories, then the manifest stored byte for byte, so the
    digest stays); the digest in ``target``."""
    manifest = local_manifest(address, source, digest, credentials)
    if manifest is None:
        raise RegistryError(
            f"The registry {address} holds no {source}@{digest}.",
            "Pick a release whose image is still in the registry (`mlinfra releases`).",
        )
    parsed = json.loads(manifest[0])
    children = [m["digest"] for m in parsed.get("manifests", [])]  # an index: copy each image
    try:
        with _local_client(credentials) as http:
            for child in children:
                local_copy(address, source, target, child, child, credentials)
            for blob in _blob_digests(parsed):
                mounted = http.post(
                    f"http://{address}/v2/{target}/blobs/uploads/",
                    params={"mount": blob, "from": source},
                )
                if mounted.status_code != 201:
                    raise RegistryError(
                        f"The registry {address} did not mount blob {blob} from {source} into "
                        f"{target} (HTTP {mounted.status_code}).",
                        "Check the registry's log; blob mounts need one storage for both.",
                    )
    except httpx.HTTPError as err:
        raise _registry_failed(address, f"copy {source}@{digest} to {target}", err) from err
    if tag == digest:  # a child of an index: stored by digest only
        return local_put_manifest(address, target, digest, manifest, credentials)
    return local_put_manifest(address, target, tag, manifest, credentials)


def ecr_has_image(ecr: Any, name: str, digest: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        found = ecr.batch_get_image(repositoryName=name, imageIds=[{"imageDigest": digest}])
    except ClientError as err:
        raise RegistryError(f"ECR did not answer for {name}@{digest}: {err}") from err
    return bool(found.get("images"))


def ecr_tag(ecr: Any, name: str, digest: str, tag: str) -> None:
    """Give the image ``name@digest`` the tag ``tag`` (its manifest put again under the tag)."""
    from botocore.exceptions import ClientError

    images = ecr.batch_get_image(repositoryName=name, imageIds=[{"imageDigest": digest}])["images"]
    if not images:
        raise RegistryError(f"ECR repository {name} holds no image {digest}.")
    try:
        ecr.put_image(
            repositoryName=name,
            imageManifest=images[0]["imageManifest"],
            imageManifestMediaType=images[0].get("imageManifestMediaType", ""),
            imageTag=tag,
            imageDigest=digest,
        )
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "ImageAlreadyExistsException":
            return  # that tag names this digest already
        raise RegistryError(
            f"Tagging {name}@{digest} as {tag} failed: {err}",
            "A tag of an immutable repository names one image for good: take another number.",
        ) from err


def copy_with_engine(
    source: str, source_credentials: Credentials, target: str, tag: str, credentials: Credentials
) -> str:
    """Copy ``source`` (``repository@digest``) to ``target:tag`` in another registry through the
    Docker engine (pull by digest, push); the registry's digest, checked against the source's."""
    from docker.errors import APIError

    client = docker_engine.client()
    repository, digest = source.split("@", 1)
    try:
        login(source_credentials)
        image = client.images.pull(
            repository, tag=digest, auth_config=source_credentials.auth_config()
        )
        image.tag(target, tag)
    except APIError as err:
        raise RegistryError(f"Pulling {source} failed: {err.explanation}") from err
    pushed = push(f"{target}:{tag}", target, tag, credentials)
    if pushed.digest != digest:
        raise RegistryError(
            f"{target}:{tag} has digest {pushed.digest}, not {digest} of {source}.",
            "The registries stored different manifests; copy with a registry tool that keeps "
            "bytes (crane copy), then deploy by digest.",
        )
    return digest
