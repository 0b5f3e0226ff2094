"""docs/architecture.md draws the modules as they import each other, and the seams hold: the
image's package imports nothing of the wrapper, and only the runtime seam asks whether an
environment runs on this machine."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[3]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "scripts/import_graph.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_architecture_doc_draws_the_imports_as_they_are() -> None:
    script = _script()
    assert script.documented() == script.block(), (
        "docs/architecture.md is out of date: run `python scripts/import_graph.py` and paste "
        "its block between the import-graph markers"
    )


def test_the_image_imports_nothing_of_the_wrapper() -> None:
    edges = _script().graph()
    for unit, targets in edges.items():
        if unit.startswith("mlinfra_serving"):
            assert not [t for t in targets if t.startswith("mlinfra.")], unit


def test_only_the_runtime_seam_asks_where_an_environment_runs() -> None:
    wrapper = ROOT / "wrapper" / "mlinfra"
    askers = sorted(
        str(path.relative_to(wrapper))
        for path in wrapper.rglob("*.py")
        if re.search(r"\.is_local\b", path.read_text())
        and path.relative_to(wrapper).parts[0] not in ("runtime",)
        and path.name != "config.py"
    )
    assert askers == [], f"ask the Runtime instead: {askers}"
