"""Print which modules of ``mlinfra`` and ``mlinfra_serving`` import which, as the block that
docs/architecture.md shows (tests/unit/scripts/test_import_graph.py keeps the two the same).

A package (``mlinfra.runtime``) stands for its private modules; imports inside one module or
package are left out, as are those only made for type checking.

    python scripts/import_graph.py           # print the block
    python scripts/import_graph.py --check   # exit 1 when docs/architecture.md differs
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {
    "mlinfra": ROOT / "wrapper" / "mlinfra",
    "mlinfra_serving": ROOT / "serving" / "mlinfra_serving",
}
DOC = ROOT / "docs" / "architecture.md"
BEGIN = "<!-- import-graph: begin (scripts/import_graph.py) -->"
END = "<!-- import-graph: end -->"


def _unit(module: str) -> str:
    """The drawn unit of a module: ``mlinfra.runtime._aws`` -> ``mlinfra.runtime``."""
    top, _, rest = module.partition(".")
    first = rest.split(".", 1)[0] if rest else ""
    path = SOURCES[top] / first
    if first and path.is_dir():
        return f"{top}.{first}"
    return f"{top}.{first}" if first else top


def _type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(tree: ast.Module, module: str) -> set[str]:
    found: set[str] = set()
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if _type_checking_block(node):
            skipped.update(id(child) for child in ast.walk(node))
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".", 1)[0] in SOURCES and name != module}


def _known(name: str) -> bool:
    top, _, rest = name.partition(".")
    if not rest:
        return True
    first = rest.split(".", 1)[0]
    base = SOURCES[top] / first
    return base.is_dir() or base.with_suffix(".py").exists()


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for top, folder in SOURCES.items():
        for path in sorted(folder.rglob("*.py")):
            relative = path.relative_to(folder).with_suffix("")
            parts = [p for p in relative.parts if p != "__init__"]
            module = ".".join([top, *parts])
            unit = _unit(module)
            imported = _imports(ast.parse(path.read_text()), module)
            targets = {_unit(name) for name in imported if _known(name)}
            edges.setdefault(unit, set()).update(t for t in targets if t != unit and t != top)
    return edges


def block() -> str:
    lines = [BEGIN, "```"]
    for unit, targets in sorted(graph().items()):
        if unit in SOURCES:
            continue  # the packages' __init__ import nothing of note
        drawn = ", ".join(
            sorted(t.split(".", 1)[1] if t.startswith("mlinfra.") else t for t in targets)
        )
        lines.append(
            f"{unit.split('.', 1)[1] if unit.startswith('mlinfra.') else unit:<28} -> {drawn or '(nothing)'}"
        )
    lines += ["```", END]
    return "\n".join(lines)


def documented() -> str:
    text = DOC.read_text()
    if BEGIN not in text or END not in text:
        return ""
    return text[text.index(BEGIN) : text.index(END) + len(END)]


def main(argv: list[str]) -> int:
    if "--check" in argv:
        if documented() != block():
            print(
                f"{DOC} does not draw the imports as they are: run python {Path(__file__).relative_to(ROOT)} and paste its block."
            )
            return 1
        return 0
    print(block())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
