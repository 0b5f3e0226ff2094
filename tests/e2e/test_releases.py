"""Releases end to end: every deploy recorded in the ledger, `rollback` to the last good release
with no build and no lost request, a refused rollback to a pruned image, a broken image
recorded as rolled back (exit 1), and `promote --from local --to staging --rehearse` carrying
the same digest into the rehearsed staging's ledger.

One local environment of the test's own (e2e_support) shared by the steps, in order: a failed
step skips the rest. It prints the rollback's and the promotion's times.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_support import LocalEnv, RequestStream, another_model, in_order, local_environment

from mlinfra import docker_engine
from mlinfra.registry import Credentials, local_release_tags

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2400)]

TIMINGS: dict[str, float] = {}
FEATURES = "bedrooms,bathrooms,sqft_living,year_built"
SEEN: dict[str, Any] = {}


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEnv]:
    with local_environment(tmp_path_factory, TIMINGS) as made:
        yield made


@pytest.fixture(autouse=True)
def _in_order(request: pytest.FixtureRequest, local: LocalEnv) -> Iterator[None]:
    yield from in_order(request, local)


def _releases(local: LocalEnv, *env: str) -> dict[str, Any]:
    listed: dict[str, Any] = json.loads(
        local.ok("releases", "--env", *(env or ("local",)), "--json").stdout
    )
    return listed


def _model_version(url: str) -> str:
    return str(httpx.get(f"{url}/metadata", timeout=5).json()["model_version"])


def _registry(local: LocalEnv) -> tuple[str, Credentials]:
    stored = json.loads((local.state_dir / "registry" / "credentials.json").read_text())
    address = f"127.0.0.1:{local.env['MLINFRA_REGISTRY_PORT']}"
    return address, Credentials(address, stored["username"], stored["password"])


class FirstAnswer:
    """Polls /metadata from the start of a command: when ``version`` first answers."""

    def __init__(self, url: str, version: str) -> None:
        self.url, self.version = url, version
        self.started = time.monotonic()
        self.took: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set() and self.took is None:
            try:
                if _model_version(self.url) == self.version:
                    self.took = time.monotonic() - self.started
            except (httpx.HTTPError, ValueError, KeyError):
                pass  # a gateway's error page mid-roll: the request stream judges those
            time.sleep(0.2)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def test_every_deploy_is_a_release_in_the_ledger(local: LocalEnv, tmp_path: Path) -> None:
    local.ok("deploy", "--env", "local", "--yes")
    url = local.status()["url"].rstrip("/")
    SEEN["url"], SEEN["a"] = url, _model_version(url)

    local.ok(
        "train",
        "--from-file",
        str(another_model(tmp_path / "model.txt")),
        "--features",
        FEATURES,
    )
    with RequestStream(url) as stream:
        local.ok("deploy", "--env", "local", "--yes")
        time.sleep(1)
    assert stream.failures == [], f"{len(stream.failures)} failed of {stream.ok}"
    SEEN["b"] = _model_version(url)
    assert SEEN["b"] != SEEN["a"]

    listed = _releases(local)
    second, first = listed["releases"]
    assert (second["number"], first["number"]) == (2, 1)
    assert [second["verdict"], first["verdict"]] == ["succeeded", "succeeded"]
    assert listed["running"] == 2 and second["running"] and not first["running"]
    assert first["model_version"] == SEEN["a"] and second["model_version"] == SEEN["b"]
    # The code changes too when a commit landed between the two builds.
    assert second["changes"][0] == f"model {SEEN['a']} -> {SEEN['b']}"
    assert len(second["changes"]) == 1 + (first["git_sha"] != second["git_sha"])
    assert first["changes"] == ["first release"]
    assert second["plan"]["change"] + second["plan"]["add"] >= 1
    for release in (first, second):
        assert release["digest"].startswith("sha256:")
        assert release["image"].endswith(f"@{release['digest']}")
        assert release["git_sha"] and release["who"] and release["finished_at"]
    address, credentials = _registry(local)
    tags = local_release_tags(address, "mlinfra-local", credentials)
    assert tags["release-1"] == first["digest"] and tags["release-2"] == second["digest"]
    assert local.status()["release"] == 2
    SEEN["releases"] = {r["number"]: r for r in listed["releases"]}


def test_rollback_serves_the_last_good_release_again_without_a_build(local: LocalEnv) -> None:
    url = SEEN["url"]
    last_build = (local.state_dir / "local" / "last-build.json").read_bytes()
    with RequestStream(url) as stream:
        serving = FirstAnswer(url, SEEN["a"])
        result = local.ok("rollback", "--env", "local", "--yes", "--json")
        TIMINGS["rollback_command"] = time.monotonic() - serving.started
        serving.stop()
        time.sleep(1)
    assert serving.took is not None
    TIMINGS["rollback_to_old_model_serving"] = serving.took
    assert stream.failures == [], f"{len(stream.failures)} failed of {stream.ok}"
    assert _model_version(url) == SEEN["a"]
    assert {SEEN["a"], SEEN["b"]} >= stream.versions - {"None"}

    rolled = json.loads(result.stdout)
    assert rolled["release"]["number"] == 3 and rolled["previous"] == 2
    # No build ran: the last build's record untouched, no build step reported. (The Docker
    # engine may be shared with other runs, so its image list is no evidence.)
    assert (local.state_dir / "local" / "last-build.json").read_bytes() == last_build
    assert "building" not in result.stderr

    listed = _releases(local)
    newest = listed["releases"][0]
    assert listed["running"] == 3
    assert (newest["kind"], newest["source"], newest["verdict"]) == (
        "rollback",
        "release 1",
        "succeeded",
    )
    assert newest["digest"] == SEEN["releases"][1]["digest"]
    assert newest["changes"][0] == f"model {SEEN['b']} -> {SEEN['a']}"
    address, credentials = _registry(local)
    assert (
        local_release_tags(address, "mlinfra-local", credentials)["release-3"] == (newest["digest"])
    )
    status = local.status()
    assert status["release"] == 3 and status["image"].endswith(newest["digest"])


def test_rollback_to_a_release_whose_image_was_pruned_is_refused(local: LocalEnv) -> None:
    pruned = SEEN["releases"][2]
    address, credentials = _registry(local)
    deleted = httpx.delete(
        f"http://{address}/v2/mlinfra-local/manifests/{pruned['digest']}",
        auth=(credentials.username, credentials.password),
        timeout=10,
    )
    assert deleted.status_code == 202, deleted.text
    result = local.mlinfra("rollback", "--env", "local", "--to", "2", "--yes")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    error = [line for line in lines if line.startswith("error:")]
    assert len(error) == 1, result.stderr
    assert "Release 2" in error[0] and "no longer in the registry" in error[0]
    assert "Traceback" not in result.stderr
    assert _releases(local)["running"] == 3  # nothing was recorded or changed
    assert len(_releases(local)["releases"]) == 3


def test_a_broken_image_is_recorded_rolled_back_and_exits_non_zero(
    local: LocalEnv, tmp_path: Path
) -> None:
    """A model of this test's own, built, then its tag made into an image that exits at start
    (labels inherited, so the deploy reuses it as built): its tasks never become healthy, the
    breaker rolls back. NOTE: the tag is this test's alone (its own model): the engine is shared
    with the other e2e modules, which deploy the default and the seed-7 models."""
    model = another_model(tmp_path / "broken-model.txt", seed=1103)
    local.ok("train", "--from-file", str(model), "--features", FEATURES)
    local.ok("build", "--env", "local")
    reference = json.loads((local.state_dir / "local" / "last-build.json").read_text())["reference"]
    dockerfile = f'FROM {reference}\nENTRYPOINT ["python", "-c", "raise SystemExit(3)"]\n'
    docker_engine.client().images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=reference)
    result = local.mlinfra("deploy", "--env", "local", "--yes")
    assert result.returncode == 1, result.stderr
    assert "rolled back" in result.stderr
    listed = _releases(local)
    newest = listed["releases"][0]
    assert (newest["number"], newest["verdict"]) == (4, "rolled_back")
    assert "circuit breaker" in newest["detail"]
    assert listed["running"] == 3
    assert _model_version(SEEN["url"]) == SEEN["a"], "the last good release still serves"
    assert local.status()["release"] == 3


def test_promote_to_a_rehearsed_staging_runs_the_same_digest(local: LocalEnv) -> None:
    source = _releases(local)["releases"]
    running = next(r for r in source if r["running"])
    try:
        started = time.monotonic()
        result = local.ok(
            "promote", "--from", "local", "--to", "staging", "--rehearse", "--yes", "--json"
        )
        TIMINGS["promote_to_staging_from_nothing"] = time.monotonic() - started
        promoted = json.loads(result.stdout)["release"]
        assert promoted["digest"] == running["digest"]
        staging = _releases(local, "staging", "--rehearse")
        assert staging["running"] == 1
        newest = staging["releases"][0]
        assert (newest["kind"], newest["source"], newest["verdict"]) == (
            "promote",
            f"local release {running['number']}",
            "succeeded",
        )
        assert newest["digest"] == running["digest"]
        assert newest["image"].split("@")[0].endswith("/mlinfra-staging")
        status = json.loads(local.ok("status", "--env", "staging", "--rehearse", "--json").stdout)
        assert status["healthy"] is True and status["release"] == 1
        assert status["image"].endswith(running["digest"])
        address, credentials = _registry(local)
        tags = local_release_tags(address, "mlinfra-staging", credentials)
        assert tags["release-1"] == running["digest"]
    finally:
        local.mlinfra("destroy", "--env", "staging", "--rehearse", "--yes")
        local.mlinfra("down", "--env", "staging", "--rehearse")
