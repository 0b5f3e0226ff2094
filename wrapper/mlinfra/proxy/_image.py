"""The proxy image: this package's ``Dockerfile`` (Debian's nginx-light) on mlinfra's base image.

The Dockerfile is package data (an installed wheel carries it) and copies nothing, so the
package's folder is a build context as it is: the build needs no project checkout.
"""

from __future__ import annotations

import hashlib
from importlib.resources import files
from pathlib import Path

from docker import DockerClient

from mlinfra import docker_engine

PROXY_REPOSITORY = "mlinfra/local-proxy"


def _context_dir() -> Path:
    """This package's folder: the Dockerfile (package data) copies nothing, so the folder is a
    build context as it is."""
    return Path(str(files("mlinfra.proxy")))


def _dockerfile() -> bytes:
    return (_context_dir() / "Dockerfile").read_bytes()


def proxy_image_tag(base_image: str) -> str:
    """A tag that changes with the Dockerfile and the base image, so a stale proxy is rebuilt."""
    recipe = _dockerfile() + base_image.encode()
    return f"{PROXY_REPOSITORY}:{hashlib.sha256(recipe).hexdigest()[:12]}"


def ensure_proxy_image(client: DockerClient, base_image: str | None = None) -> str:
    """The proxy image's tag, built once per recipe (about 5 s with Debian's mirror reachable)."""
    if base_image is None:
        from mlinfra.bootstrap import base_image as default_base_image

        base_image = default_base_image()
    tag = proxy_image_tag(base_image)
    if docker_engine.find_image(client, tag) is None:
        docker_engine.build(
            client,
            str(_context_dir()),
            tag,
            buildargs={"BASE_IMAGE": base_image},
            what=f"the proxy image {tag} on {base_image}",
            hint="The build runs apt-get install nginx-light: check that the Docker engine "
            "reaches deb.debian.org, then retry.",
        )
    return tag
