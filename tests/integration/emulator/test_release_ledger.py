"""The release ledger against the emulator's S3 (a moto server process, the CLI's own): numbers
taken by a conditional write, two writers racing for one, verdicts settled, dead runs found."""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mlinfra import releases
from mlinfra.emulator import Emulator, boto3_session
from mlinfra.emulator.testing import emulator_fixture
from mlinfra.errors import DeployError, RolledBackError
from mlinfra.releases import Ledger, Release, ReleaseNumberTaken

pytestmark = pytest.mark.integration

emulator = emulator_fixture(scope="module")
DIGEST = "sha256:" + "a" * 64


@pytest.fixture
def s3(emulator: Emulator) -> Any:
    return boto3_session(emulator.endpoint).client("s3")


@pytest.fixture
def ledger(s3: Any) -> Ledger:
    bucket = f"state-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    return Ledger(s3, bucket, "staging")


def _draft(model: str = "v1", git: str = "1a2b3c4", digest: str = DIGEST) -> Release:
    return Release(
        number=0,
        image=f"127.0.0.1:5000/mlinfra-staging@{digest}",
        digest=digest,
        model_version=model,
        model_sha256=model * 16,
        git_sha=git,
        dirty=False,
        tag=f"{git}-{model}",
    )


def test_the_emulator_refuses_a_second_put_of_a_key_with_if_none_match(s3: Any) -> None:
    """What the ledger relies on, as AWS does it: 412 PreconditionFailed (moto 5.2.5 honours
    it unpatched; a change there would show here first)."""
    bucket = f"state-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=bucket, Key="k", Body=b"second", IfNoneMatch="*")
    assert refused.value.response["Error"]["Code"] == "PreconditionFailed"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"first"


def test_appended_releases_take_consecutive_numbers_and_list_newest_first(ledger: Ledger) -> None:
    first = ledger.append(_draft("v1"))
    second = ledger.append(_draft("v2", digest="sha256:" + "b" * 64))
    assert (first.number, second.number) == (1, 2)
    listed = ledger.releases()
    assert [r.number for r in listed] == [2, 1]
    assert listed[0].model_version == "v2" and listed[0].verdict == releases.IN_PROGRESS
    key = ledger.s3.list_objects_v2(Bucket=ledger.bucket)["Contents"][0]["Key"]
    assert key == "mlinfra/releases/staging/000001.json"


def test_a_release_never_takes_a_number_below_the_one_asked(ledger: Ledger) -> None:
    """A deploy asks for at least 1 + the registry's highest release-<k> tag."""
    assert ledger.append(dataclasses.replace(_draft(), number=7)).number == 7
    assert ledger.append(_draft()).number == 8


def test_two_writers_racing_for_one_number_one_loses_cleanly(s3: Any, ledger: Ledger) -> None:
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def writer(model: str) -> None:
        mine = Ledger(s3, ledger.bucket, ledger.env_name)  # each writer its own view
        barrier.wait()
        try:
            mine.claim(dataclasses.replace(_draft(model), number=1))
            outcomes.append(f"won:{model}")
        except ReleaseNumberTaken as err:
            outcomes.append(f"lost:{model}:{err.message}")

    threads = [threading.Thread(target=writer, args=(m,)) for m in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    won = [o for o in outcomes if o.startswith("won")]
    lost = [o for o in outcomes if o.startswith("lost")]
    assert len(won) == 1 and len(lost) == 1, outcomes
    assert "Release 1 of 'staging' was taken by another writer" in lost[0]
    # The record is the winner's, whole.
    assert ledger.get(1).model_version == won[0].split(":")[1]
    # The loser, appending, takes the next number instead.
    assert ledger.append(_draft("c")).number == 2


def test_recording_settles_the_verdict(ledger: Ledger) -> None:
    with releases.recording(ledger, _draft("v1")) as record:
        record.planned({"add": 1, "change": 1, "destroy": 1})
    with pytest.raises(RolledBackError), releases.recording(ledger, _draft("v2")):
        raise RolledBackError("The rollout of td:3 failed: circuit breaker")
    with pytest.raises(DeployError), releases.recording(ledger, _draft("v3")):
        raise DeployError("The service did not become stable within 900 s")
    with pytest.raises(KeyboardInterrupt), releases.recording(ledger, _draft("v4")):
        raise KeyboardInterrupt
    verdicts = {r.number: (r.verdict, r.detail) for r in ledger.releases()}
    assert verdicts == {
        1: ("succeeded", None),
        2: ("rolled_back", "The rollout of td:3 failed: circuit breaker"),
        3: ("failed", "The service did not become stable within 900 s"),
        4: ("interrupted", "KeyboardInterrupt"),
    }
    first = ledger.get(1)
    assert first.plan == {"add": 1, "change": 1, "destroy": 1}
    assert first.finished_at is not None
    assert releases.running(ledger.releases()) == first


def test_a_run_killed_in_progress_is_settled_interrupted_by_the_next(ledger: Ledger) -> None:
    """A SIGKILLed deploy leaves its record in progress; the next command that holds the run
    lock on this host settles it. Another host's recent record is left alone (its run may be
    going on), an old one is settled too."""
    dead = ledger.append(_draft("v1"))
    elsewhere = ledger.append(dataclasses.replace(_draft("v2"), host="ci-runner-7"))
    old = datetime.now(UTC) - releases.STALE_AFTER - timedelta(minutes=1)
    stale = ledger.append(
        dataclasses.replace(_draft("v3"), host="ci-runner-7", started_at=old.isoformat())
    )
    settled = ledger.settle_dead()
    assert sorted(r.number for r in settled) == [dead.number, stale.number]
    verdicts = {r.number: r.verdict for r in ledger.releases()}
    assert verdicts[dead.number] == releases.INTERRUPTED
    assert verdicts[elsewhere.number] == releases.IN_PROGRESS
    assert f"pid {os.getpid()} on {socket.gethostname()}" in (ledger.get(dead.number).detail or "")
    assert ledger.settle_dead() == []  # settled once


def test_an_update_raced_by_another_writer_is_refused(s3: Any, ledger: Ledger) -> None:
    """Verdicts are written If-Match the ETag this writer last saw."""
    mine = ledger.append(_draft("v1"))
    other = Ledger(s3, ledger.bucket, ledger.env_name)
    other.settle(other.get(mine.number), releases.FAILED, "settled by another writer")
    with pytest.raises(releases.MlinfraError, match="Could not update the release ledger"):
        ledger.settle(mine, releases.SUCCEEDED)
    assert ledger.get(mine.number).verdict == releases.FAILED


def test_changes_name_the_model_and_the_code() -> None:
    a = _draft("v1", "1111111")
    b = _draft("v2", "1111111")
    c = _draft("v2", "2222222")
    assert releases.changes(a, None) == ["first release"]
    assert releases.changes(b, a) == ["model v1 -> v2"]
    assert releases.changes(c, b) == ["code 1111111 -> 2222222"]
    assert releases.changes(c, c) == ["nothing (same image)"]


def test_running_follows_what_ecs_runs() -> None:
    good_a = dataclasses.replace(_draft("v1"), number=1, verdict=releases.SUCCEEDED)
    good_b = dataclasses.replace(_draft("v2"), number=2, verdict=releases.SUCCEEDED)
    broken = dataclasses.replace(_draft("v3"), number=3, verdict=releases.ROLLED_BACK)
    history = [broken, good_b, good_a]
    assert releases.running(history) == good_b
    by_tag = f"{good_a.repository}:{good_a.tag}"
    assert releases.running(history, by_tag) == good_a  # ECS runs A's tag: A runs
    assert releases.running(history, broken.image) == good_b  # never a rolled-back one
    assert releases.last_good_before(history, 2) == good_a
    assert releases.last_good_before(history, 1) is None
