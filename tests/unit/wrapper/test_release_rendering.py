"""The releases list as `--json` and the table show it, and what a promotion's question says."""

from __future__ import annotations

import dataclasses

from rich.console import Console

from mlinfra import releases, reports
from mlinfra.deploy import ReleaseList, promotion_summary
from mlinfra.releases import Release


def _release(number: int, model: str, git: str, verdict: str = releases.SUCCEEDED) -> Release:
    digest = "sha256:" + str(number) * 64
    return Release(
        number=number,
        image=f"registry.example/mlinfra-prod@{digest}",
        digest=digest,
        model_version=model,
        model_sha256=model * 16,
        git_sha=git + "0" * 33,
        dirty=False,
        tag=f"{git}-{model}",
        verdict=verdict,
    )


HISTORY = (
    _release(3, "m2", "bbbbbbb", releases.ROLLED_BACK),
    _release(2, "m2", "aaaaaaa"),
    _release(1, "m1", "aaaaaaa"),
)


def test_the_list_marks_the_running_release_and_what_changed() -> None:
    listed = ReleaseList("prod", HISTORY, 2).to_dict()
    rows = {row["number"]: row for row in listed["releases"]}
    assert listed["running"] == 2
    assert [rows[n]["running"] for n in (3, 2, 1)] == [False, True, False]
    assert rows[3]["changes"] == ["code aaaaaaa0 -> bbbbbbb0"]
    assert rows[2]["changes"] == ["model m1 -> m2"]
    assert rows[1]["changes"] == ["first release"]

    console = Console(width=250, record=True)
    console.print(reports.releases_table(listed))
    text = console.export_text()
    running_line = next(line for line in text.splitlines() if " 2 " in line and "*" in line)
    assert "succeeded" in running_line and "model m1 -> m2" in running_line
    assert "rolled_back" in text


def test_a_promotion_says_what_changes_in_the_target() -> None:
    promoted = dataclasses.replace(_release(7, "m3", "ccccccc"))
    target = ReleaseList("prod", HISTORY, 2)
    summary = promotion_summary(promoted, "staging", target)
    assert summary == (
        "Promote staging release 7 to prod: release 2 (model m2, git aaaaaaa0) -> release 4 "
        f"(model m3, git ccccccc0, {promoted.digest[:19]})"
    )
    first = promotion_summary(promoted, "staging", ReleaseList("prod", (), None))
    assert "nothing running -> release 1" in first
