"""Build the serving image with the Docker SDK. The only module that knows the SDK's build quirks.

The build context is assembled in a scratch folder: ``serving/`` (Dockerfile, gunicorn config,
the app package's runtime modules as ``mlinfra_serving/``, its build-stage-only modules as
``build/``), the model artifact as ``model/``, and ``wheels/`` from a host-side cache
(``.mlinfra/cache/wheels/<hash of requirements.txt>``) filled by ``pip download`` on the host,
where pip trusts the network's CA. The image's tag is ``<git short sha>[-dirty]-<model sha8>``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from mlinfra import docker_engine
from mlinfra.bootstrap import base_image
from mlinfra.config import project_dir, state_dir
from mlinfra.errors import ConfigError, DockerError
from mlinfra_serving.artifact import METADATA_FILE, ModelArtifact

# The Python of both base images; the wheels are downloaded for it.
IMAGE_PYTHON = "3.11"
SERVING_FILES = (
    "Dockerfile",
    ".dockerignore",
    "requirements.txt",
    "requirements-compile.txt",
    "requirements-native.txt",
    "gunicorn.conf.py",
)
# pip download's options: wheels for the image's Python (any host can fetch them), or sources
# that the image's native stage builds for its own libc and CPU (no Linux wheel is published).
WHEELS = ("--only-binary=:all:", "--python-version", IMAGE_PYTHON)
SOURCES = ("--no-binary=:all:", "--no-deps")
# What each requirements file of serving/ is fetched as: the final image's wheels, the compile
# stage's, the native stage's sources and the wheels those build with (setuptools, wheel).
REQUIREMENT_FILES = {
    "requirements.txt": WHEELS,
    "requirements-compile.txt": WHEELS,
    "requirements-native.txt": SOURCES,
    "requirements-native-build.txt": WHEELS,
}
# What a cache folder holds and the context's wheels/ receives: wheels and source archives.
DISTRIBUTIONS = ("*.whl", "*.tar.gz")
APP_PACKAGE = "mlinfra_serving"
# Modules of the app package only a build stage runs (the compile stage's lleaves step). The
# context holds them in build/, apart from mlinfra_serving/, which the runtime stage copies
# whole: so the final image carries exactly the modules the service runs.
BUILD_ONLY_MODULES = ("compile.py",)
BUILD_DIR = "build"
MODEL_FILES = ("model.txt", "metadata.json")
LABEL_MODEL_SHA = "io.mlinfra.model.sha256"
LABEL_MODEL_VERSION = "io.mlinfra.model.version"
LABEL_CONTEXT = "io.mlinfra.context.sha256"
LOG_TAIL_LINES = 20

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BuiltImage:
    repository: str
    tag: str
    image_id: str
    size: int
    reused: bool = False

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.tag}"


# ---------------------------------------------------------------------------------------------
# Tag and labels
# ---------------------------------------------------------------------------------------------


def image_tag(git_sha: str, dirty: bool, model_sha256: str) -> str:
    """``<git short sha>[-dirty]-<model sha8>``, e.g. ``1a2b3c4-dirty-52771509``."""
    if len(model_sha256) < 8:
        raise ConfigError(
            f"Model sha256 {model_sha256!r} is too short.", "Retrain with `mlinfra train`."
        )
    return f"{git_sha[:7]}{'-dirty' if dirty else ''}-{model_sha256[:8]}"


@dataclass(frozen=True)
class GitRevision:
    sha: str
    dirty: bool
    source: str

    @property
    def short(self) -> str:
        return self.sha[:7]


def _git(project: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(project), *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise ConfigError(
            f"`git {' '.join(args)}` failed in {project}: {result.stderr.strip() or result.returncode}.",
            "Build from a git checkout with at least one commit (the image tag names the commit).",
        )
    return result.stdout.strip()


def git_revision(project: Path) -> GitRevision:
    """The checked-out commit, whether the tree has uncommitted changes, and the source URL."""
    sha = _git(project, "rev-parse", "HEAD")
    dirty = bool(_git(project, "status", "--porcelain"))
    try:
        source = public_source(_git(project, "config", "--get", "remote.origin.url"))
    except ConfigError:
        source = project.resolve().as_uri()
    return GitRevision(sha, dirty, source)


def public_source(remote: str) -> str:
    """A git remote URL fit for an image label, which anyone who pulls the image reads: no
    user or token (``https://user:token@host/repo.git``), no query or fragment (where some
    hosts take tokens too). scp-like remotes (``git@host:org/repo.git``) carry no secret."""
    parts = urlsplit(remote)
    if not parts.scheme or not parts.netloc:
        return remote
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def oci_labels(revision: GitRevision, model: ModelArtifact, context_sha: str) -> dict[str, str]:
    return {
        "org.opencontainers.image.revision": revision.sha,
        "org.opencontainers.image.created": datetime.now(UTC).isoformat(timespec="seconds"),
        "org.opencontainers.image.source": revision.source,
        "org.opencontainers.image.title": "mlinfra model service",
        LABEL_MODEL_SHA: model.sha256,
        LABEL_MODEL_VERSION: model.version,
        LABEL_CONTEXT: context_sha,
    }


# ---------------------------------------------------------------------------------------------
# Wheels and the build context
# ---------------------------------------------------------------------------------------------


def requirements_hash(requirements: Path, options: Iterable[str] = WHEELS) -> str:
    content = requirements.read_bytes() + IMAGE_PYTHON.encode() + " ".join(options).encode()
    return hashlib.sha256(content).hexdigest()[:16]


def wheel_cache(
    requirements: Path, cache_root: Path, progress: Progress, options: Iterable[str] = WHEELS
) -> Path:
    """The folder of wheels (or, with ``SOURCES``, source archives) for ``requirements``: cached,
    or downloaded once with the host's pip."""
    options = tuple(options)
    target = cache_root / requirements_hash(requirements, options)
    if (target / ".complete").exists():
        return target
    progress(f"downloading wheels for {requirements.name} into {target}")
    cache_root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="download-", dir=cache_root))
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        *options, "--dest", str(scratch), "-r", str(requirements),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(scratch, ignore_errors=True)
        tail = "\n".join(result.stderr.strip().splitlines()[-LOG_TAIL_LINES:])
        raise DockerError(
            f"pip could not download the image's wheels (exit {result.returncode}):\n{tail}",
            "Check that pip on this machine reaches the package index (pip config list).",
        )
    (scratch / ".complete").write_text(target.name + "\n")
    # NOTE: rename is atomic, so a parallel build sees either no cache or a whole one.
    try:
        scratch.rename(target)
    except OSError:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def assemble_context(
    serving: Path, model: ModelArtifact, wheel_dirs: Iterable[Path], dest: Path
) -> None:
    """Fill ``dest`` with exactly what the Dockerfile copies; ``wheels/`` is the union of
    ``wheel_dirs`` (a wheel both need, numpy, is the same file in each)."""
    for name in SERVING_FILES:
        shutil.copy2(serving / name, dest / name)
    shutil.copytree(
        serving / APP_PACKAGE,
        dest / APP_PACKAGE,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", *BUILD_ONLY_MODULES),
    )
    (dest / BUILD_DIR).mkdir()
    for name in BUILD_ONLY_MODULES:
        shutil.copy2(serving / APP_PACKAGE / name, dest / BUILD_DIR / name)
    (dest / "model").mkdir()
    for name in MODEL_FILES:
        shutil.copy2(model.dir / name, dest / "model" / name)
    (dest / "wheels").mkdir()
    for wheels in wheel_dirs:
        for pattern in DISTRIBUTIONS:
            for wheel in wheels.glob(pattern):
                if not (dest / "wheels" / wheel.name).exists():
                    _link_or_copy(wheel, dest / "wheels" / wheel.name)


def context_digest(context: Path, base: str) -> str:
    """sha256 over every file of the context but the wheels (requirements.txt pins those) and
    the base image name: equal digests build equal images."""
    digest = hashlib.sha256(base.encode())
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        relative = path.relative_to(context).as_posix()
        if relative.startswith("wheels/"):
            continue
        content = path.read_bytes()
        if relative == f"model/{METADATA_FILE}":
            content = _comparable_metadata(content)
        digest.update(relative.encode() + b"\0" + content + b"\0")
    return digest.hexdigest()


# When and from where a model was trained or imported says nothing about what it predicts.
# Training is deterministic, so a retrain (or another machine's) of the same data gives the
# same model file, and a model file imported from another folder (a fresh clone, a pytest
# tmp dir) is the same model: both must give the same image, not a tag conflict.
_TIMESTAMP_KEYS = ("trained_at", "imported_at")
_PROVENANCE_PATH_KEYS = ("file",)


def _comparable_metadata(metadata: bytes) -> bytes:
    fields = json.loads(metadata)
    for key in _TIMESTAMP_KEYS:
        fields.pop(key, None)
    provenance = fields.get("provenance")
    if isinstance(provenance, dict):
        fields["provenance"] = {
            k: v for k, v in provenance.items() if k not in _PROVENANCE_PATH_KEYS
        }
    return json.dumps(fields, sort_keys=True).encode()


# ---------------------------------------------------------------------------------------------
# Docker
# ---------------------------------------------------------------------------------------------


def build_image(
    model: ModelArtifact,
    repository: str,
    *,
    progress: Progress | None = None,
    project: Path | None = None,
    base: str | None = None,
    replace: bool = False,
) -> BuiltImage:
    """Build ``serving/`` with ``model`` as ``<repository>:<tag>`` and return what was built.

    A tag that already exists with the same content is reused; one with other content (a
    ``-dirty`` tree changed since) is refused rather than silently overwritten, unless
    ``replace`` (the old image keeps its id and loses the tag).
    """
    say = progress or (lambda _line: None)
    project = project or project_dir()
    state = state_dir()
    base = base or base_image(state)
    revision = git_revision(project)
    tag = image_tag(revision.sha, revision.dirty, model.sha256)
    reference = f"{repository}:{tag}"
    client = docker_engine.client()

    wheel_dirs = [
        wheel_cache(project / "serving" / name, state / "cache" / "wheels", say, options)
        for name, options in REQUIREMENT_FILES.items()
    ]
    with tempfile.TemporaryDirectory(prefix="build-", dir=state / "cache") as scratch:
        context = Path(scratch)
        assemble_context(project / "serving", model, wheel_dirs, context)
        digest = context_digest(context, base)

        existing = docker_engine.find_image(client, reference)
        if existing is not None:
            seen = (existing.labels or {}).get(LABEL_CONTEXT)
            if seen == digest:
                say(f"{reference} already holds this content; reusing it")
                return BuiltImage(
                    repository,
                    tag,
                    docker_engine.image_id(existing),
                    existing.attrs["Size"],
                    reused=True,
                )
            if not replace:
                # A clean tree's commit names the code and the tag names the model file, so
                # there the difference is the model's metadata or the base image.
                first = (
                    "Commit your changes (a new commit gives a new tag)"
                    if revision.dirty
                    else "Import the model with its earlier name and features, or use the earlier base image"
                )
                raise DockerError(
                    f"{reference} exists with other content"
                    f" (context {str(seen)[:12]}, now {digest[:12]}).",
                    f"{first}, or remove the old image first: docker rmi {reference}"
                    " (in code: build_image(..., replace=True)).",
                )
            say(f"{reference} exists with other content; replacing it")

        say(f"building {reference} on {base}")
        image = docker_engine.build(
            client,
            str(context),
            reference,
            buildargs={"BASE_IMAGE": base},
            labels=oci_labels(revision, model, digest),
            progress=say,
            what=f"{reference} on base image {base}",
        )

    built_id = docker_engine.image_id(image)
    if existing is not None and docker_engine.image_id(existing) != built_id:
        # A replaced image; one a container still uses stays, as docker keeps it anyway.
        docker_engine.remove_image_quietly(client, docker_engine.image_id(existing))
    return BuiltImage(repository, tag, built_id, image.attrs["Size"])


# ---------------------------------------------------------------------------------------------
# Prune: the engine keeps every image a deploy built (and its registry-named tag) until told
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalImage:
    image_id: str
    references: tuple[str, ...]  # this repository's tags only (bare and registry-named)
    created: str
    size: int

    def to_dict(self) -> dict[str, object]:
        return {
            "image_id": self.image_id,
            "references": list(self.references),
            "created": self.created,
            "size": self.size,
        }


@dataclass(frozen=True)
class PrunePlan:
    """What a prune of one repository removes and keeps, newest first."""

    repository: str
    remove: tuple[LocalImage, ...]
    keep: tuple[LocalImage, ...]
    in_use: tuple[LocalImage, ...]  # a container (running or stopped) was made from it

    def to_dict(self) -> dict[str, object]:
        return {
            "repository": self.repository,
            "remove": [image.to_dict() for image in self.remove],
            "keep": [image.to_dict() for image in self.keep],
            "in_use": [image.to_dict() for image in self.in_use],
        }


def in_repository(reference: str, repository: str) -> bool:
    """``repository:tag``, or the same pushed under a registry (``host:port/repository:tag``)."""
    name, _, tag = reference.rpartition(":")
    if not name or "/" in tag:  # no tag: the colon was a registry's port
        name = reference
    return name == repository or name.endswith("/" + repository)


_RFC3339 = re.compile(r"^(?P<seconds>[^.Z+]+?)(?:\.(?P<fraction>\d+))?(?P<zone>Z|[+-]\d\d:\d\d)?$")


def created_order(created: str) -> str:
    """A sort key for Docker's UTC RFC 3339 ``Created``, whose fraction has 0 to 9 digits (so
    plain string order puts ``.1Z`` after ``.12Z``)."""
    found = _RFC3339.match(created)
    if found is None:
        return created
    return f"{found['seconds']}.{(found['fraction'] or '').ljust(9, '0')}"


def plan_prune(repository: str, keep: int, protect: Iterable[str] = ()) -> PrunePlan:
    """The local images of ``repository`` beyond the newest ``keep``, ready for prune_images.

    Images in ``protect`` (ids, e.g. the environment's last build) and images a container was
    made from stay and do not count against ``keep``.
    """
    if keep < 0:
        raise ConfigError(f"Cannot keep {keep} images.", "Give --keep 0 or more.")
    client = docker_engine.client()
    used = {container.attrs.get("Image") for container in client.containers.list(all=True)}
    protected = set(protect)
    found: list[LocalImage] = []
    for candidate in client.images.list():
        references = tuple(sorted(ref for ref in candidate.tags if in_repository(ref, repository)))
        if references:
            found.append(
                LocalImage(
                    docker_engine.image_id(candidate),
                    references,
                    candidate.attrs.get("Created", ""),
                    int(candidate.attrs.get("Size", 0)),
                )
            )
    found.sort(key=lambda image: created_order(image.created), reverse=True)
    in_use = tuple(image for image in found if image.image_id in used)
    free = [image for image in found if image.image_id not in used]
    remove = tuple([image for image in free if image.image_id not in protected][keep:])
    kept = tuple(image for image in free if image not in remove)
    return PrunePlan(repository, remove, kept, in_use)


def prune_images(plan: PrunePlan) -> int:
    """Untag every image in ``plan.remove`` (its other repositories' tags stay); bytes freed."""
    from docker.errors import APIError, ImageNotFound

    client = docker_engine.client()
    before = int(client.df().get("LayersSize") or 0)
    for image in plan.remove:
        for reference in image.references:
            try:
                client.images.remove(reference, noprune=False)
            except ImageNotFound:
                continue  # gone meanwhile (another prune, a `docker rmi`): nothing to do
            except APIError as err:
                raise DockerError(
                    f"docker refused to remove {reference}: {err.explanation}",
                    "Stop the container using it (`docker ps -a`), then prune again.",
                ) from err
    after = int(client.df().get("LayersSize") or 0)
    return max(before - after, 0)
