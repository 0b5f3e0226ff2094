"""Make this machine ready for mlinfra: a Docker engine, the Terraform provider mirror, a base image.

Run by ``scripts/bootstrap.sh`` (so by both README commands) and by ``mlinfra doctor --fix``.
Every step checks first and does nothing when its result is already there, so a second run
costs about a second.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from mlinfra import docker_engine
from mlinfra.config import state_dir as default_state_dir
from mlinfra.errors import MlinfraError, ToolMissingError
from mlinfra.terraform import require_terraform, terraform_cli_config

# ---------------------------------------------------------------------------------------------
# Docker engine
# ---------------------------------------------------------------------------------------------

DEBIAN_PACKAGES = {
    # binary -> Debian package that provides it
    "dockerd": "docker.io",
    "debootstrap": "debootstrap",
    "docker-registry": "docker-registry",
    "htpasswd": "apache2-utils",
    "wrk": "wrk",
}
# What the tests and benchmarks need beyond the main job: wrk drives the load tests and
# bench:serving (Debian's wrk: Lua scripting, a latency histogram, loopback only).
TEST_TOOLS = ["wrk"]


def _is_debian_root() -> bool:
    return (
        Path("/etc/debian_version").exists()
        and os.geteuid() == 0
        and shutil.which("apt-get") is not None
    )


def ensure_debian_packages(binaries: list[str], say: Callable[[str], None]) -> None:
    """Install the Debian packages behind ``binaries`` that are missing (Debian as root only)."""
    missing = [
        DEBIAN_PACKAGES[b]
        for b in binaries
        if shutil.which(b) is None and not Path(f"/usr/sbin/{b}").exists()
    ]
    if not missing:
        return
    if not _is_debian_root():
        raise ToolMissingError(
            f"Missing programs: {', '.join(binaries)}.",
            f"Install the packages {' '.join(missing)} (or your system's equivalent).",
        )
    say(f"installing Debian packages: {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lists = Path("/var/lib/apt/lists")
    if not any(lists.glob("*Packages*")):
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def ensure_docker_engine(state_dir: Path, say: Callable[[str], None]) -> None:
    """A Docker engine that answers: the running one, or Debian's docker.io started here."""
    if docker_engine.answers():
        return
    if not _is_debian_root():
        raise ToolMissingError(
            "No Docker engine answers (docker.from_env().ping() failed).",
            "Start Docker (Docker Desktop, or `sudo systemctl start docker`) and check `docker info`.",
        )
    ensure_debian_packages(["dockerd"], say)
    say("starting dockerd")
    log = (state_dir / "dockerd.log").open("ab")
    # NOTE: no systemd here; a detached dockerd outlives this command, as a service would.
    # Without the userland proxy, published ports are kernel NAT rules, not a docker-proxy
    # process copying every byte (the local load balancer reaches tasks on their bridge
    # addresses anyway, so an engine started elsewhere costs nothing on the URL's data path).
    subprocess.Popen(
        ["dockerd", "--userland-proxy=false"], stdout=log, stderr=log, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if docker_engine.answers():
            return
        time.sleep(0.5)
    raise ToolMissingError(
        "dockerd was started but did not answer within 60 s.",
        f"Read {state_dir / 'dockerd.log'} for the reason.",
    )


# ---------------------------------------------------------------------------------------------
# Base image
# ---------------------------------------------------------------------------------------------

BASE_IMAGE_ENV = "MLINFRA_BASE_IMAGE"
BASE_IMAGE_RECORD = "base-image"
OFFICIAL_BASE_IMAGE = "python:3.11-slim-bookworm"
LOCAL_BASE_REPOSITORY = "mlinfra/python-base"
# Debian 12 minbase with the same Python (3.11) as the official slim image; libgomp1 for LightGBM.
DEBOOTSTRAP_ARGS = (
    "--variant=minbase",
    "--include=python3,python3-venv,libgomp1,ca-certificates",
    "bookworm",
)
BASE_IMAGE_CHANGES = (
    "ENV LANG=C.UTF-8",
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    'CMD ["python3"]',
)


def local_base_image_tag() -> str:
    """Tag of the locally made base image: a hash of its recipe, so a new recipe makes a new image."""
    recipe = "\n".join((*DEBOOTSTRAP_ARGS, *BASE_IMAGE_CHANGES, platform.machine()))
    return f"{LOCAL_BASE_REPOSITORY}:{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"


def _image_exists(name: str) -> bool:
    return docker_engine.find_image(docker_engine.client(), name) is not None


def _can_pull(name: str) -> bool:
    from docker.errors import APIError

    try:
        docker_engine.client().images.pull(name)
        return True
    except APIError:
        return False


def build_local_base_image(tag: str, say: Callable[[str], None]) -> None:
    """debootstrap a Debian 12 minbase with Python 3.11 and import it as ``tag`` (about 70 s)."""
    ensure_debian_packages(["debootstrap"], say)
    say(f"building base image {tag} with debootstrap (about a minute, once per recipe)")
    with tempfile.TemporaryDirectory(prefix="mlinfra-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        subprocess.run(
            ["debootstrap", *DEBOOTSTRAP_ARGS, str(rootfs)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        # PERF: apt's lists and caches are 40 MB nobody in the image reads.
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for child in (rootfs / leftover).glob("*"):
                if child.is_file():
                    child.unlink()
        archive = Path(tmp) / "rootfs.tar"
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(archive), "."], check=True)
        repository, _, version = tag.partition(":")
        docker_engine.client().api.import_image_from_file(
            str(archive), repository=repository, tag=version, changes=list(BASE_IMAGE_CHANGES)
        )


def ensure_base_image(state_dir: Path, say: Callable[[str], None]) -> str:
    """The Python base image the serving image builds on; recorded in ``.mlinfra/base-image``.

    ``$MLINFRA_BASE_IMAGE`` wins; else the official slim image when it can be pulled; else one
    made here with debootstrap (machines that reach no container registry).
    """
    record = state_dir / BASE_IMAGE_RECORD
    chosen = os.environ.get(BASE_IMAGE_ENV, "").strip()
    if not chosen:
        local_tag = local_base_image_tag()
        if _image_exists(local_tag) or _image_exists(OFFICIAL_BASE_IMAGE):
            chosen = local_tag if _image_exists(local_tag) else OFFICIAL_BASE_IMAGE
        elif _can_pull(OFFICIAL_BASE_IMAGE):
            chosen = OFFICIAL_BASE_IMAGE
        else:
            build_local_base_image(local_tag, say)
            chosen = local_tag
    if not record.exists() or record.read_text().strip() != chosen:
        record.write_text(chosen + "\n")
    return chosen


def base_image(state_dir: Path | None = None) -> str:
    """The base image every mlinfra image builds on (the serving image, the local proxy).

    ``$MLINFRA_BASE_IMAGE``, else the one the set-up recorded in ``<state_dir>/base-image``
    (no engine call), else what :func:`ensure_base_image` chooses now, and records.
    """
    chosen = os.environ.get(BASE_IMAGE_ENV, "").strip()
    state_dir = state_dir or default_state_dir()
    record = state_dir / BASE_IMAGE_RECORD
    if not chosen and record.is_file():
        chosen = record.read_text().strip()
    return chosen or ensure_base_image(state_dir, say=lambda _line: None)


# ---------------------------------------------------------------------------------------------
# All of it
# ---------------------------------------------------------------------------------------------


def run(state_dir: Path, say: Callable[[str], None]) -> None:
    require_terraform()
    terraform_cli_config(state_dir)
    ensure_docker_engine(state_dir, say)
    ensure_base_image(state_dir, say)
    if _is_debian_root():
        # The local environment's registry (with htpasswd auth); installed now so that the first
        # deploy does not stop to install it.
        ensure_debian_packages(["docker-registry", "htpasswd"], say)


def main(argv: list[str] | None = None) -> int:
    """``python -m mlinfra.bootstrap [--test-tools]``: the set-up, or the tests' tools only."""

    def say(line: str) -> None:
        print(f"mlinfra setup: {line}", file=sys.stderr, flush=True)

    test_tools = "--test-tools" in (sys.argv[1:] if argv is None else argv)
    try:
        if test_tools:
            ensure_debian_packages(TEST_TOOLS, say)
        else:
            run(default_state_dir(), say)
    except MlinfraError as err:
        print(f"mlinfra setup: {err.message}", file=sys.stderr)
        if err.hint:
            print(f"  fix: {err.hint}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as err:
        detail = (
            (err.stderr or b"").decode(errors="replace").strip().splitlines()[-1:]
            if err.stderr
            else []
        )
        print(
            f"mlinfra setup: {' '.join(map(str, err.cmd))} failed (exit {err.returncode}) {' '.join(detail)}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
