"""The release ledger of an environment: one JSON object per release, kept in the environment's
Terraform state bucket (the emulator's S3 locally, a rehearsal's own emulator), so everyone who
deploys the environment shares it.

Layout: ``s3://<state bucket>/mlinfra/releases/<env>/<n>.json``, ``n`` zero-padded so the
listing sorts by number. A number is taken by a conditional write (PutObject with
``If-None-Match: *``): of two writers racing for one number, S3 lets one win and answers the
other 412 PreconditionFailed; :meth:`Ledger.claim` raises :class:`ReleaseNumberTaken` for that
one, and :meth:`Ledger.append` takes the next number instead. Later updates of a record (its
verdict) are conditional on the ETag its writer last saw (``If-Match``).

A record starts ``in_progress`` and is settled when the deploy ends: ``succeeded``,
``rolled_back`` (the circuit breaker rolled the rollout back), ``failed`` or ``interrupted``. A
run killed before it could settle leaves ``in_progress``; the next command that holds the
environment's run lock on the same host settles it as ``interrupted`` (:meth:`Ledger.settle_dead`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import json
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from mlinfra.errors import ConfigError, MlinfraError, RolledBackError

__all__ = [
    "FAILED",
    "INTERRUPTED",
    "IN_PROGRESS",
    "ROLLED_BACK",
    "SUCCEEDED",
    "Ledger",
    "Recording",
    "Release",
    "ReleaseNumberTaken",
    "changes",
    "draft_from",
    "last_good_before",
    "recording",
    "running",
    "who",
]

IN_PROGRESS = "in_progress"
SUCCEEDED = "succeeded"
ROLLED_BACK = "rolled_back"
FAILED = "failed"
INTERRUPTED = "interrupted"
VERDICTS = (IN_PROGRESS, SUCCEEDED, ROLLED_BACK, FAILED, INTERRUPTED)

PREFIX = "mlinfra/releases/{env}/"
# NOTE: a record left in progress by another host may belong to a run still going there; after
# this long no deploy is still running (the rollout wait gives up after 15 min).
STALE_AFTER = timedelta(hours=2)
_CLAIM_ATTEMPTS = 20

Say = Callable[[str], None]


def _quiet(_line: str) -> None:
    pass


class ReleaseNumberTaken(MlinfraError):
    """Another writer took the release number first (S3 answered 412 PreconditionFailed)."""


def who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Release:
    """One release of an environment: what ran, where from, and how the rollout ended."""

    number: int
    image: str  # repository@sha256:..., what the task definition was given
    digest: str
    model_version: str
    model_sha256: str
    git_sha: str
    dirty: bool
    kind: str = "deploy"  # deploy, rollback, promote, canary
    source: str | None = None  # rollback: "release 3"; promote: "staging release 5"
    tag: str | None = None  # the build tag (<git sha>[-dirty]-<model sha8>)
    who: str = field(default_factory=who)
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    started_at: str = field(default_factory=_now)
    finished_at: str | None = None
    plan: dict[str, int] | None = None  # the service plan's add/change/destroy
    verdict: str = IN_PROGRESS
    detail: str | None = None  # why it did not succeed

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Release:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    @property
    def repository(self) -> str:
        return self.image.split("@", 1)[0]


def _is_status(err: ClientError, *codes: str) -> bool:
    error = err.response.get("Error", {})
    status = str(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    return error.get("Code") in codes or status in codes


class Ledger:
    """The releases of one environment in ``bucket`` (``s3``: a boto3 S3 client)."""

    def __init__(self, s3: Any, bucket: str, env_name: str, prefix: str | None = None) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.env_name = env_name
        # Another model of the environment keeps its releases under a prefix of its own.
        self.prefix = prefix or PREFIX.format(env=env_name)
        self._etags: dict[int, str] = {}

    def key(self, number: int) -> str:
        return f"{self.prefix}{number:06d}.json"

    def _where(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def _failed(self, err: Exception, doing: str) -> MlinfraError:
        return MlinfraError(
            f"Could not {doing} the release ledger at {self._where()}: {err}",
            "Check that the state bucket exists and your credentials may read and write it.",
        )

    def releases(self) -> list[Release]:
        """Every release, newest first."""
        found: list[Release] = []
        try:
            pages = self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix
            )
            keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
            for key in keys:
                if not key.endswith(".json"):
                    continue
                got = self.s3.get_object(Bucket=self.bucket, Key=key)
                release = Release.from_dict(json.loads(got["Body"].read()))
                self._etags[release.number] = got["ETag"]
                found.append(release)
        except ClientError as err:
            if _is_status(err, "NoSuchBucket", "404"):
                return []
            raise self._failed(err, "read") from err
        return sorted(found, key=lambda r: r.number, reverse=True)

    def get(self, number: int) -> Release:
        for release in self.releases():
            if release.number == number:
                return release
        raise ConfigError(
            f"Environment {self.env_name!r} has no release {number}.",
            f"List them with `mlinfra releases --env {self.env_name}`.",
        )

    def _put(self, release: Release, **condition: str) -> dict[str, Any]:
        body = json.dumps(release.to_dict(), indent=2, sort_keys=True).encode()
        put: dict[str, Any] = self.s3.put_object(
            Bucket=self.bucket,
            Key=self.key(release.number),
            Body=body,
            ContentType="application/json",
            **condition,
        )
        return put

    def claim(self, release: Release) -> Release:
        """Write ``release`` under its number, only if nobody has; ReleaseNumberTaken if one has."""
        try:
            put = self._put(release, IfNoneMatch="*")
        except ClientError as err:
            if _is_status(err, "PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
                raise ReleaseNumberTaken(
                    f"Release {release.number} of {self.env_name!r} was taken by another writer.",
                    "Run the command again: it takes the next free number.",
                ) from err
            raise self._failed(err, "write") from err
        self._etags[release.number] = put["ETag"]
        return release

    def append(self, draft: Release) -> Release:
        """``draft`` as the next release: 1 + the highest number, retried past racing writers."""
        number = 1 + max((r.number for r in self.releases()), default=0)
        number = max(number, draft.number)
        for _attempt in range(_CLAIM_ATTEMPTS):
            try:
                return self.claim(dataclasses.replace(draft, number=number))
            except ReleaseNumberTaken:
                number += 1
        raise MlinfraError(
            f"Could not take a release number of {self.env_name!r} after {_CLAIM_ATTEMPTS} tries.",
            "Another process keeps writing the ledger; wait for it and run again.",
        )

    def update(self, release: Release) -> Release:
        """Rewrite ``release`` (its verdict), if nobody changed it since this ledger read it."""
        condition = (
            {"IfMatch": self._etags[release.number]} if release.number in self._etags else {}
        )
        try:
            put = self._put(release, **condition)
        except ClientError as err:
            raise self._failed(err, "update") from err
        self._etags[release.number] = put["ETag"]
        return release

    def settle(self, release: Release, verdict: str, detail: str | None = None) -> Release:
        return self.update(
            dataclasses.replace(release, verdict=verdict, detail=detail, finished_at=_now())
        )

    def settle_dead(self, say: Say = _quiet) -> list[Release]:
        """Settle as ``interrupted`` the records left in progress by runs that are gone: on this
        host (call it holding the environment's run lock, so no live run of it is here), or
        older than STALE_AFTER."""
        settled = []
        host = socket.gethostname()
        for release in self.releases():
            if release.verdict != IN_PROGRESS:
                continue
            started = datetime.fromisoformat(release.started_at)
            if release.host == host or datetime.now(UTC) - started > STALE_AFTER:
                settled.append(
                    self.settle(
                        release,
                        INTERRUPTED,
                        f"the run (pid {release.pid} on {release.host}) ended before the "
                        "rollout was judged",
                    )
                )
                say(f"release {release.number}: settled as interrupted (its run is gone)")
        return settled


def verdict_of(err: BaseException) -> str:
    if isinstance(err, RolledBackError):
        return ROLLED_BACK
    if isinstance(err, (KeyboardInterrupt, SystemExit)):
        return INTERRUPTED
    return FAILED


@dataclass
class Recording:
    """The release a running deploy writes; ``plan`` is filled in once the service is planned."""

    ledger: Ledger
    release: Release

    def planned(self, summary: dict[str, int]) -> None:
        self.release = self.ledger.update(dataclasses.replace(self.release, plan=summary))


@contextmanager
def recording(ledger: Ledger, draft: Release, say: Say = _quiet) -> Iterator[Recording]:
    """Take the next number for ``draft`` and settle its verdict when the block ends: succeeded,
    or, re-raising, rolled_back / failed / interrupted."""
    release = ledger.append(draft)
    say(f"release {release.number} of {ledger.env_name} (in progress)")
    record = Recording(ledger, release)
    try:
        yield record
    except BaseException as err:
        reason = (
            str(getattr(err, "message", err)).splitlines()[0] if str(err) else type(err).__name__
        )
        # A ledger that cannot be written now leaves the record in progress: the next run
        # settles it as interrupted.
        with contextlib.suppress(MlinfraError):
            ledger.settle(record.release, verdict_of(err), reason)
        raise
    record.release = ledger.settle(record.release, SUCCEEDED)
    say(f"release {record.release.number}: succeeded")


def running(releases: list[Release], image: str | None = None) -> Release | None:
    """The release the service runs: the newest that succeeded whose image is ``image`` (what
    ECS runs, by tag or digest), else the newest that succeeded (a rolled-back one left the
    previous task definition running, a failed one changed nothing that serves)."""
    good = [r for r in releases if r.verdict == SUCCEEDED]
    if image:
        for release in good:
            if image in (release.image, f"{release.repository}:{release.tag}"):
                return release
    return good[0] if good else None


def draft_from(release: Release, kind: str, source: str, image: str | None = None) -> Release:
    """A new release of ``release``'s image (a rollback to it, or its promotion): the same
    digest, model and code; who, when and the verdict are this run's."""
    return Release(
        number=0,
        image=image or release.image,
        digest=release.digest,
        model_version=release.model_version,
        model_sha256=release.model_sha256,
        git_sha=release.git_sha,
        dirty=release.dirty,
        kind=kind,
        source=source,
        tag=release.tag,
    )


def changes(release: Release, previous: Release | None) -> list[str]:
    """What changed from ``previous``: the model, the code (git sha), the image."""
    if previous is None:
        return ["first release"]
    changed = []
    if release.model_sha256 != previous.model_sha256:
        changed.append(f"model {previous.model_version} -> {release.model_version}")
    if release.git_sha != previous.git_sha or release.dirty != previous.dirty:
        mark = "-dirty" if release.dirty else ""
        changed.append(f"code {previous.git_sha[:8]} -> {release.git_sha[:8]}{mark}")
    if not changed and release.digest != previous.digest:
        changed.append("image (same model and code)")
    return changed or ["nothing (same image)"]


def last_good_before(releases: list[Release], number: int) -> Release | None:
    """The newest release that succeeded, numbered below ``number``."""
    return next((r for r in releases if r.number < number and r.verdict == SUCCEEDED), None)
