"""The suite's own layout: pytest imports test modules of folders without ``__init__.py`` by
their basename ("rootdir" imports), so two ``test_x.py`` anywhere under tests/ stop the whole run
at collection (it happened twice). This fails first, naming both files."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parents[2]


def test_every_test_module_has_a_basename_of_its_own() -> None:
    places: dict[str, list[str]] = defaultdict(list)
    for path in TESTS.rglob("test_*.py"):
        places[path.name].append(str(path.relative_to(TESTS)))
    clashes = {name: paths for name, paths in places.items() if len(paths) > 1}
    assert not clashes, f"rename one of each (pytest cannot collect both): {clashes}"


def test_the_guard_sees_the_suite() -> None:
    # A guard that walked the wrong folder would pass on nothing.
    assert len(list(TESTS.rglob("test_*.py"))) > 50
