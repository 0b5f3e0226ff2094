"""The CLI's argument handling and error messages, through Typer's test runner."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mlinfra.cli import app, parse_duration
from mlinfra.errors import ConfigError

runner = CliRunner()


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in (
        "train", "build", "push", "plan", "apply", "deploy", "status", "destroy",
        "outputs", "logs", "doctor", "down", "prune", "bench", "releases", "rollback", "promote",
    ):  # fmt: skip
        assert command in result.output


def test_command_help_flows_with_the_terminal() -> None:
    # A docstring's own line breaks would stay in the help and break its lines twice.
    for command in app.registered_commands:
        assert command.help, f"{command.callback} has no help"
        assert all("\n" not in part for part in command.help.split("\n\n")), command.help
    result = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "200"})
    assert "(skipped when one exists), or take your own model with --from-file; with --model" in (
        result.output
    )


@pytest.mark.parametrize(
    "command", ["build", "plan", "status", "outputs", "doctor", "bench", "releases", "rollback"]
)
def test_an_unknown_env_lists_the_valid_ones(project: Path, command: str) -> None:
    result = runner.invoke(app, [command, "--env", "nowhere"])
    assert result.exit_code == 2
    assert "Unknown environment 'nowhere'" in result.output
    assert "Use one of: dev, local, prod" in result.output
    assert "Traceback" not in result.output


def test_promote_to_the_environment_it_comes_from_is_one_line(project: Path) -> None:
    result = runner.invoke(app, ["promote", "--from", "dev", "--to", "dev"])
    assert result.exit_code == 2
    assert "--from and --to are both dev." in result.output
    assert "Traceback" not in result.output


def test_no_env_at_all_says_how_to_choose(project: Path) -> None:
    result = runner.invoke(app, ["build"])
    assert result.exit_code == 2
    assert "No environment given." in result.output
    assert "--env with one of: dev, local, prod (or set MLINFRA_ENV)" in result.output


def test_the_env_variable_is_the_default(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLINFRA_ENV", "elsewhere")
    result = runner.invoke(app, ["build"])
    assert "Unknown environment 'elsewhere'" in result.output


def test_no_terraform_on_path(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(project))
    result = runner.invoke(app, ["plan", "--env", "dev"])
    assert result.exit_code == 1
    assert "terraform is not installed (not found on PATH)." in result.output
    assert "fix: Install Terraform" in result.output


def test_build_without_a_model_says_to_train(project: Path) -> None:
    result = runner.invoke(app, ["build", "--env", "dev"])
    assert result.exit_code == 2
    assert "No usable model artifact" in result.output
    assert "Run `mlinfra train` first" in result.output


def test_build_without_docker_says_to_start_it(
    project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert runner.invoke(app, ["train"]).exit_code == 0
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    result = runner.invoke(app, ["build", "--env", "dev"])
    assert result.exit_code == 1
    assert "No Docker engine answers" in result.output
    assert "Traceback" not in result.output


def test_push_before_build_says_to_build(project: Path) -> None:
    result = runner.invoke(app, ["push", "--env", "dev"])
    assert result.exit_code == 2
    assert "No image was built for environment 'dev' yet." in result.output


def test_errors_are_one_or_two_lines_and_tracebacks_need_debug(project: Path) -> None:
    plain = runner.invoke(app, ["logs", "--env", "dev", "--since", "soon"])
    assert plain.exit_code == 2
    lines = plain.output.strip().splitlines()
    assert lines == [
        "error: Duration 'soon' is not understood.",
        "  fix: Use a number and a unit: 30s, 10m, 2h, 1d.",
    ]
    debug = runner.invoke(app, ["--debug", "logs", "--env", "dev", "--since", "soon"])
    assert isinstance(debug.exception, ConfigError)


def test_train_json(project: Path) -> None:
    import json

    result = runner.invoke(app, ["train", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert len(data["sha256"]) == 64
    assert Path(data["model_dir"]).joinpath("model.txt").exists()


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400)]
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


def test_an_aws_env_without_backend_config_names_the_setting(project: Path) -> None:
    result = runner.invoke(app, ["status", "--env", "dev"])
    assert result.exit_code == 2
    assert "No Terraform state bucket for environment 'dev' (no backend.hcl)." in result.output
    assert "Set MLINFRA_STATE_BUCKET" in result.output


@pytest.mark.parametrize(
    ("args", "question"),
    [
        (["secret", "rotate", "--env", "prod"], "Rotate the API key and roll the service in prod?"),
        (["destroy", "--env", "dev"], "Destroy everything in dev? [y/N]"),
    ],
)
def test_prod_changes_and_destroy_ask_first(
    project: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], question: str
) -> None:
    monkeypatch.setenv("MLINFRA_STATE_BUCKET", "team-state")
    result = runner.invoke(app, args, input="n\n")
    assert question in result.output
    assert result.exit_code == 1
    assert "Aborted" in result.output


def test_apply_in_prod_without_saved_plans_asks_nothing(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The question comes after the plans' summary (tests/reliability/tool/test_api_key_secret.py);
    # with no plan there is nothing to show, and nothing to ask.
    monkeypatch.setenv("MLINFRA_STATE_BUCKET", "team-state")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "unit-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "unit-test")
    result = runner.invoke(app, ["apply", "--env", "prod"])
    assert "[y/N]" not in result.output
    assert "No saved plan for environment 'prod'." in result.output


def test_apply_in_dev_does_not_ask(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLINFRA_STATE_BUCKET", "team-state")
    result = runner.invoke(app, ["apply", "--env", "dev"])
    assert "[y/N]" not in result.output
    assert "No saved plan for environment 'dev'." in result.output


@dataclass(frozen=True)
class _Planned:
    """What ``deploy.plan`` returns, as far as ``plan --detailed-exitcode`` reads it."""

    has_changes: bool

    def to_dict(self) -> dict[str, Any]:
        return {"has_changes": self.has_changes}


@pytest.mark.parametrize(("has_changes", "exit_code"), [(True, 2), (False, 0)])
def test_detailed_exitcode_keeps_2_for_changes_only(
    project: Path, monkeypatch: pytest.MonkeyPatch, has_changes: bool, exit_code: int
) -> None:
    from mlinfra import cli

    # An error whose own exit code is 2 (an unknown environment) exits 1: 2 means changes.
    result = runner.invoke(app, ["plan", "--env", "nowhere", "--detailed-exitcode"])
    assert result.exit_code == 1
    assert "Unknown environment 'nowhere'" in result.output
    # A plan with changes exits 2, one without exits 0.
    monkeypatch.setattr(cli, "_terraform_connection", lambda selected: selected)
    monkeypatch.setattr(cli.deploy, "plan", lambda connection, say: _Planned(has_changes))
    result = runner.invoke(app, ["plan", "--env", "dev", "--detailed-exitcode", "--json"])
    assert result.exit_code == exit_code, result.output
    assert json.loads(result.stdout) == {"has_changes": has_changes}


def test_a_bad_emulator_port_is_named(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLINFRA_EMULATOR_PORT", "45x")
    result = runner.invoke(app, ["status", "--env", "local"])
    assert result.exit_code == 2
    assert "MLINFRA_EMULATOR_PORT='45x' is not a TCP port." in result.output


def test_project_config_supplies_the_state_bucket(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlinfra import config, connection

    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    (project / "mlinfra.toml").write_text(
        '[environments.dev]\nstate_bucket = "team-state"\nregion = "eu-west-1"\n'
    )
    target = connection.connect(config.select_environment("dev"))
    assert (target.backend_bucket, target.region) == ("team-state", "eu-west-1")
    monkeypatch.setenv("MLINFRA_STATE_BUCKET", "override")
    assert connection.connect(config.select_environment("dev")).backend_bucket == "override"


def test_project_config_with_an_unknown_key_is_named(project: Path) -> None:
    (project / "mlinfra.toml").write_text('[environments.dev]\nbucket = "x"\n')
    result = runner.invoke(app, ["status", "--env", "dev"])
    assert result.exit_code == 2
    assert "sets unknown keys ['bucket'] for environment 'dev'" in result.output
    assert "Use only state_bucket, region under [environments.dev]." in result.output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--duration", "fast"], "Duration 'fast' is not understood."),
        (["--p99-budget", "20"], "--p99-budget '20' is not understood."),
        (["--generator", "ab"], "--generator 'ab' is not one of auto, wrk, python."),
    ],
)
def test_bench_bad_input_is_one_line_before_any_load(
    project: Path, args: list[str], says: str
) -> None:
    result = runner.invoke(app, ["bench", "--env", "local", *args])
    assert result.exit_code == 2, result.output
    assert says in result.output
    assert "Traceback" not in result.output
