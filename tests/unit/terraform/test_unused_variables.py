"""No declared, unused variable in any Terraform module or root (tflint's terraform_unused_declarations).

tflint installs from none of the registries here (not in Debian, not on PyPI or npm), so this
does its job: a variable that nothing reads is exactly how a setting goes dead (prod's
`alb_deletion_protection` was declared, defaulted to true, and never reached the load balancer).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import hcl2
import pytest
from terraform_harness import PROJECT

SEARCHED = (PROJECT / "terraform", PROJECT / "environments")
# Files linked into every environment root (terraform.tf, outputs.tf, variables.tf), not a module
# of their own: they are judged inside the roots that link them.
SHARED_ROOT_FILES = PROJECT / "terraform" / "stacks" / "roots"


def terraform_dirs() -> list[Path]:
    """Every folder holding .tf files: modules, their examples and test fixtures, stacks, roots."""
    found = {
        path.parent
        for top in SEARCHED
        for path in top.rglob("*.tf")
        if ".terraform" not in path.relative_to(top).parts and path.parent != SHARED_ROOT_FILES
    }
    return sorted(found)


def unused_variables(folder: Path) -> list[str]:
    """'<file>: variable "<name>"' for each variable no other block of the folder reads."""
    blocks: list[tuple[str, str | None, Any]] = []  # (file, variable name or None, block)
    for path in sorted(folder.glob("*.tf")):
        parsed = hcl2.loads(path.read_text())
        for kind, entries in parsed.items():
            for entry in entries:
                if kind == "variable":
                    ((name, body),) = entry.items()
                    blocks.append((path.name, name, body))
                else:
                    blocks.append((path.name, None, {kind: entry}))
    # hcl2 keeps expressions as text ("${var.x}"); a variable's own block (its validation) does not count.
    texts = [(name, json.dumps(body)) for _, name, body in blocks]
    return [
        f'{file}: variable "{name}"'
        for file, name, _ in blocks
        if name is not None
        and not any(
            re.search(rf"\bvar\.{re.escape(name)}\b", text)
            for owner, text in texts
            if owner != name
        )
    ]


DIRS = terraform_dirs()


def test_the_search_finds_modules_examples_stacks_and_roots() -> None:
    relative = {d.relative_to(PROJECT).as_posix() for d in DIRS}
    assert {"terraform/modules/alb", "terraform/modules/alb/examples/basic"} <= relative
    assert any(r.startswith("terraform/stacks/") for r in relative), relative
    assert any(r.startswith("environments/") for r in relative), relative


def test_a_variable_read_only_by_its_own_validation_is_unused(tmp_path: Path) -> None:
    (tmp_path / "variables.tf").write_text(
        'variable "used" {\n  type = string\n}\n\n'
        'variable "dead" {\n  type = bool\n  default = true\n\n'
        "  validation {\n    condition     = var.dead != null\n"
        '    error_message = "dead must be set."\n  }\n}\n\n'
        'variable "dead_prefix" {\n  type = string\n  default = "x"\n}\n'
    )
    (tmp_path / "main.tf").write_text(
        # A comment does not count, nor a longer name that starts with the same letters.
        'locals {\n  # var.dead_prefix\n  x = "${var.used}-${var.dead_prefixes}"\n}\n'
    )
    assert unused_variables(tmp_path) == [
        'variables.tf: variable "dead"',
        'variables.tf: variable "dead_prefix"',
    ]


@pytest.mark.parametrize("folder", DIRS, ids=[d.relative_to(PROJECT).as_posix() for d in DIRS])
def test_every_declared_variable_is_used(folder: Path) -> None:
    unused = unused_variables(folder)
    assert not unused, (
        f"{folder.relative_to(PROJECT)} declares variables nothing reads (wire them or remove them):\n"
        + "\n".join(unused)
    )
