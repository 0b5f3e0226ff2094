"""Render the inputs and outputs tables of each Terraform module's README from its code.

Usage (from the project root, in the venv)::

    python scripts/module_docs.py            # rewrite the tables of every module's README
    python scripts/module_docs.py --check    # exit 1 and name the READMEs that are out of date
    python scripts/module_docs.py terraform/modules/ecr   # only these modules

A README keeps its own prose; only the table under its ``## Inputs`` heading and the one under
``## Outputs`` belong to this script. Both headings must exist.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2

from mlinfra.errors import ConfigError

MODULES_DIR = Path(__file__).resolve().parent.parent / "terraform" / "modules"
INPUTS_HEADING = "## Inputs"
OUTPUTS_HEADING = "## Outputs"
INPUTS_HEADER = "| Name | Description | Type | Default | Required |\n|------|-------------|------|---------|:--------:|"
OUTPUTS_HEADER = "| Name | Description |\n|------|-------------|"
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class ModuleDocsError(ConfigError):
    """A module's files cannot be documented: a README without its headings, unparsable HCL."""


@dataclass(frozen=True)
class Input:
    name: str
    description: str
    type: str
    default: str | None  # HCL text of the default; None when the input is required


@dataclass(frozen=True)
class Output:
    name: str
    description: str


# ---------------------------------------------------------------------------------------------
# Reading the module
# ---------------------------------------------------------------------------------------------


def _load_hcl(path: Path) -> dict[str, Any]:
    try:
        with path.open() as handle:
            return hcl2.load(handle)
    except FileNotFoundError as err:
        raise ModuleDocsError(
            f"{path} does not exist.", "Every module needs variables.tf and outputs.tf."
        ) from err
    except Exception as err:  # the parser raises lark errors of many kinds
        raise ModuleDocsError(
            f"{path} is not valid HCL: {err}",
            f"Run `terraform fmt {path.parent}` and `terraform validate` to locate it.",
        ) from err


def _blocks(parsed: dict[str, Any], kind: str) -> Iterable[tuple[str, dict[str, Any]]]:
    for block in parsed.get(kind, []):
        yield from block.items()


def _text(value: str) -> str:
    # NOTE: hcl2 keeps the escapes of quoted strings ("\\\"" for a quote) but not of heredocs.
    return " ".join(value.replace('\\"', '"').replace("\\\\", "\\").split())


def _type_source(lines: list[str], start: int, end: int) -> str:
    """The `type = ...` expression of the variable block on lines start..end, on one line.

    NOTE: hcl2 re-serialises type expressions as Python reprs ("object({'a': '${string}'})"),
    so the README shows the source text instead, with its whitespace collapsed.
    """
    body = lines[start:end]
    for index, line in enumerate(body):
        match = re.match(r"\s*type\s*=\s*(.*)$", line)
        if not match:
            continue
        parts, depth = [], 0
        for part in [match.group(1), *body[index + 1 :]]:
            parts.append(part.strip())
            depth += sum(part.count(c) for c in "({[") - sum(part.count(c) for c in ")}]")
            if depth <= 0:
                return " ".join(" ".join(parts).split())
    return "any"  # Terraform's own default when a variable declares no type


def _hcl_value(value: Any) -> str:
    """A default value as HCL text."""
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = (
            f"{k if IDENTIFIER.match(k) else json.dumps(k)} = {_hcl_value(v)}"
            for k, v in value.items()
        )
        return "{ " + ", ".join(items) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_hcl_value(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(_text(value))
    return json.dumps(value)  # numbers, booleans, null


def read_inputs(module: Path) -> list[Input]:
    """The module's variables, in file order."""
    path = module / "variables.tf"
    lines = path.read_text().splitlines()
    inputs = []
    for name, block in _blocks(_load_hcl(path), "variable"):
        inputs.append(
            Input(
                name=name,
                description=_text(block.get("description", [""])[0]),
                type=_type_source(lines, block["__start_line__"] - 1, block["__end_line__"]),
                default=_hcl_value(block["default"][0]) if "default" in block else None,
            )
        )
    return inputs


def read_outputs(module: Path) -> list[Output]:
    """The module's outputs, in file order."""
    parsed = _load_hcl(module / "outputs.tf")
    return [
        Output(name, _text(block.get("description", [""])[0]))
        for name, block in _blocks(parsed, "output")
    ]


# ---------------------------------------------------------------------------------------------
# Rendering the README
# ---------------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_inputs(inputs: Sequence[Input]) -> str:
    rows = [
        f"| `{i.name}` | {_cell(i.description)} | `{_cell(i.type)}` | "
        f"{'n/a' if i.default is None else f'`{_cell(i.default)}`'} | {'yes' if i.default is None else 'no'} |"
        for i in inputs
    ]
    return "\n".join([INPUTS_HEADER, *rows])


def render_outputs(outputs: Sequence[Output]) -> str:
    return "\n".join(
        [OUTPUTS_HEADER, *(f"| `{o.name}` | {_cell(o.description)} |" for o in outputs)]
    )


def _replace_table(readme: str, heading: str, table: str, where: Path) -> str:
    """Replace the table right under `heading` (or put one there)."""
    pattern = re.compile(
        rf"^{re.escape(heading)}[ \t]*\n(?:[ \t]*\n)*((?:\|.*(?:\n|$))*)", re.MULTILINE
    )
    match = pattern.search(readme)
    if match is None:
        raise ModuleDocsError(
            f"{where} has no '{heading}' heading.",
            f"Add a line '{heading}' where the table belongs, then run `python scripts/module_docs.py`.",
        )
    rest = readme[match.end() :]
    # The blank lines after an old table stay in `rest`; a new table needs its own.
    gap = "\n" if rest and not match.group(1) else ""
    return f"{readme[: match.start()]}{heading}\n\n{table}\n{gap}{rest}"


def rendered_readme(module: Path) -> str:
    """The module's README with both tables rendered from its code."""
    path = module / "README.md"
    if not path.is_file():
        raise ModuleDocsError(
            f"{path} does not exist.",
            f"Write it (purpose, usage, '{INPUTS_HEADING}', '{OUTPUTS_HEADING}'), then run `python scripts/module_docs.py`.",
        )
    text = path.read_text()
    text = _replace_table(text, INPUTS_HEADING, render_inputs(read_inputs(module)), path)
    return _replace_table(text, OUTPUTS_HEADING, render_outputs(read_outputs(module)), path)


def modules(root: Path = MODULES_DIR) -> list[Path]:
    """Every module folder under terraform/modules/ (one holding a variables.tf)."""
    return sorted(p for p in root.iterdir() if (p / "variables.tf").is_file())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a README is out of date"
    )
    parser.add_argument(
        "module", nargs="*", type=Path, help="module folders (default: all under terraform/modules)"
    )
    args = parser.parse_args(argv)
    stale = []
    try:
        for module in args.module or modules():
            readme = module / "README.md"
            text = rendered_readme(module)
            if readme.read_text() == text:
                continue
            stale.append(readme)
            if not args.check:
                readme.write_text(text)
    except ModuleDocsError as err:
        print(f"module_docs: {err}", file=sys.stderr)
        return 2
    for readme in stale:
        verb = "is out of date" if args.check else "updated"
        print(f"{readme} {verb}", file=sys.stderr if args.check else sys.stdout)
    if args.check and stale:
        print("Run `python scripts/module_docs.py` to update the tables.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
