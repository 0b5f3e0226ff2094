"""scripts/module_docs.py: README tables rendered from a module's variables.tf and outputs.tf."""

from __future__ import annotations

from pathlib import Path

import pytest
from terraform_harness import module_docs

VARIABLES = """\
variable "name" {
  description = "Name of the \\"thing\\"."
  type        = string
}

variable "settings" {
  description = <<-EOT
    Several
    lines.
  EOT
  type = object({
    size  = optional(number, 30)
    paths = optional(map(number), { "/tmp" = 64 })
  })
  default  = {}
  nullable = false
}

variable "mode" {
  description = "A | B."
  type        = string
  default     = "A"
}

variable "anything" {
  default = null
}
"""

OUTPUTS = """\
output "arn" {
  description = "ARN of the thing."
  value       = "x"
}
"""

README = """\
# thing

Prose stays.

## Inputs

## Outputs

Trailing prose stays.
"""

INPUTS_TABLE = """\
| Name | Description | Type | Default | Required |
|------|-------------|------|---------|:--------:|
| `name` | Name of the "thing". | `string` | n/a | yes |
| `settings` | Several lines. | `object({ size = optional(number, 30) paths = optional(map(number), { "/tmp" = 64 }) })` | `{}` | no |
| `mode` | A \\| B. | `string` | `"A"` | no |
| `anything` |  | `any` | `null` | no |"""


@pytest.fixture
def module(tmp_path: Path) -> Path:
    (tmp_path / "variables.tf").write_text(VARIABLES)
    (tmp_path / "outputs.tf").write_text(OUTPUTS)
    (tmp_path / "README.md").write_text(README)
    return tmp_path


def test_inputs_keep_source_types_and_render_defaults_as_hcl(module: Path) -> None:
    assert module_docs.render_inputs(module_docs.read_inputs(module)) == INPUTS_TABLE


def test_tables_go_under_their_headings_and_prose_stays(module: Path) -> None:
    rendered = module_docs.rendered_readme(module)
    assert rendered.startswith(
        "# thing\n\nProse stays.\n\n## Inputs\n\n| Name | Description | Type |"
    )
    assert "| `mode` |" in rendered
    assert rendered.endswith(
        "## Outputs\n\n| Name | Description |\n|------|-------------|\n"
        "| `arn` | ARN of the thing. |\n\nTrailing prose stays.\n"
    )


def test_rendering_twice_changes_nothing(module: Path) -> None:
    once = module_docs.rendered_readme(module)
    (module / "README.md").write_text(once)
    assert module_docs.rendered_readme(module) == once


def test_check_reports_a_stale_readme_and_the_update_fixes_it(
    module: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert module_docs.main(["--check", str(module)]) == 1
    assert "README.md is out of date" in capsys.readouterr().err
    assert module_docs.main([str(module)]) == 0
    assert module_docs.main(["--check", str(module)]) == 0


def test_a_readme_without_the_heading_is_an_error_naming_the_fix(module: Path) -> None:
    (module / "README.md").write_text("# thing\n\n## Inputs\n")
    with pytest.raises(module_docs.ModuleDocsError, match="has no '## Outputs' heading") as err:
        module_docs.rendered_readme(module)
    assert "python scripts/module_docs.py" in str(err.value)


def test_invalid_hcl_is_an_error_naming_the_file(module: Path) -> None:
    (module / "variables.tf").write_text('variable "x" {\n')
    with pytest.raises(module_docs.ModuleDocsError, match=r"variables\.tf is not valid HCL"):
        module_docs.read_inputs(module)
