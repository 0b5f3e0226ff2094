"""The proxy image: this package's ``Dockerfile`` (Debian's nginx-light) on mlinfra's base image.

The Dockerfile is package data (an installed wheel carries it) and copies nothing, so it is the
whole build context: the build needs no project checkout.
"""

from __future__ import annotations

import hashlib
import io
from importlib.resources import files

import docker
from docker.errors import BuildError, ImageNotFound

from mlinfra.errors import DockerError

PROXY_REPOSITORY = "mlinfra/local-proxy"


def _dockerfile() -> bytes:
    return files("mlinfra.proxy").joinpath("Dockerfile").read_bytes()


def proxy_image_tag(base_image: str) -> str:
    """A tag that changes with the Dockerfile and the base image, so a stale proxy is rebuilt."""
    recipe = _dockerfile() + base_image.encode()
    return f"{PROXY_REPOSITORY}:{hashlib.sha256(recipe).hexdigest()[:12]}"


def ensure_proxy_image(client: docker.DockerClient, base_image: str | None = None) -> str:
    """The proxy image's tag, built once per recipe (about 5 s with Debian's mirror reachable)."""
    if base_image is None:
        from mlinfra.bootstrap import base_image as default_base_image

        base_image = default_base_image()
    tag = proxy_image_tag(base_image)
    try:
        client.images.get(tag)
        return tag
    except ImageNotFound:
        pass
    try:
        client.images.build(
            fileobj=io.BytesIO(_dockerfile()),
            tag=tag,
            buildargs={"BASE_IMAGE": base_image},
            rm=True,
        )
    except BuildError as err:
        last = next(
            (line["stream"] for line in reversed(list(err.build_log)) if "stream" in line), ""
        )
        raise DockerError(
            f"Building the proxy image {tag} on {base_image} failed: {err.msg} {last.strip()}",
            "The build runs apt-get install nginx-light: check that the Docker engine reaches "
            "deb.debian.org, then retry.",
        ) from err
    return tag
