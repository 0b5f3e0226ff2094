"""A rehearsed environment: its own name on this machine, ports kept across commands, and what
its roots expect the account to hold, read from the shipped roots."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlinfra import config, runtime
from mlinfra.cli import app
from mlinfra.runtime import _rehearsal

ROOT = Path(__file__).resolve().parents[3]


def test_a_rehearsal_has_its_own_name_state_and_flags(project: Path) -> None:
    rehearsed = config.select_environment("prod", rehearse=True)
    real = config.select_environment("prod")
    assert rehearsed.rehearsed and not real.rehearsed
    assert rehearsed.state_dir.name == "prod-rehearsal"
    assert real.state_dir.name == "prod"
    assert rehearsed.runtime_name.startswith("prod-rehearsal")
    assert rehearsed.flags == "--env prod --rehearse"
    assert rehearsed.label == "prod (rehearsed)"
    assert rehearsed.asks_before_changes, "a rehearsal asks as its environment does"
    # Rehearsing the local environment is the local environment.
    assert config.select_environment("local", rehearse=True) == config.select_environment("local")


def test_a_rehearsal_runs_on_this_machine_and_keeps_its_ports(project: Path) -> None:
    rehearsed = config.select_environment("prod", rehearse=True)
    first = runtime.places(rehearsed)
    assert first == runtime.places(rehearsed), "chosen once, kept in ports.json"
    kept = json.loads((rehearsed.state_dir / "ports.json").read_text())
    assert kept == {
        "emulator": first.emulator_port,
        "http": first.proxy_port,
        "https": first.tls_port,
    }
    assert len({first.emulator_port, first.proxy_port, first.tls_port}) == 3
    assert first.emulator_dir == rehearsed.state_dir / "emulator"
    made = runtime.runtime_for(rehearsed, offline=True)
    assert isinstance(made, runtime.LocalRuntime)
    assert made.backend_bucket is None, "the state goes where backend.hcl says"
    assert isinstance(
        runtime.runtime_for(config.select_environment("prod"), offline=True), runtime.AwsRuntime
    )


def test_a_broken_ports_file_is_chosen_again(project: Path) -> None:
    rehearsed = config.select_environment("dev", rehearse=True)
    (rehearsed.state_dir / "ports.json").write_text("{not json")
    with pytest.raises(json.JSONDecodeError):
        json.loads((rehearsed.state_dir / "ports.json").read_text())
    chosen = runtime.places(rehearsed)
    assert json.loads((rehearsed.state_dir / "ports.json").read_text())["http"] == chosen.proxy_port


def test_the_shipped_prod_roots_expect_their_bucket_and_zone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prod = config.Environment("prod", ROOT / "environments" / "prod", rehearsed=True)
    assert _rehearsal.state_buckets(prod, ("registry", "service")) == ["mlinfra-tfstate-prod"]
    assert _rehearsal.public_zones(prod, ("registry", "service")) == ["example.com"]
    local = config.Environment("local", ROOT / "environments" / "local")
    assert _rehearsal.public_zones(local, ("registry", "service")) == []


def test_an_unreadable_root_names_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "environments" / "prod" / "service"
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "environments" / "prod" / "service" / "main.tf", folder / "main.tf")
    (folder / "broken.tf").write_text('module "x" {\n  zone_name = \n')
    env = config.Environment("prod", tmp_path / "environments" / "prod", rehearsed=True)
    with pytest.raises(config.ConfigError, match=r"broken\.tf could not be read as HCL"):
        _rehearsal.public_zones(env, ("service",))


@pytest.mark.parametrize(
    "command",
    [
        ["build"],
        ["push"],
        ["plan"],
        ["apply"],
        ["deploy"],
        ["status"],
        ["destroy"],
        ["down"],
        ["outputs"],
        ["logs"],
        ["doctor"],
        ["prune"],
        ["secret", "set"],
        ["secret", "rotate"],
    ],
)
def test_every_command_of_an_environment_takes_rehearse(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "--rehearse" in result.output
