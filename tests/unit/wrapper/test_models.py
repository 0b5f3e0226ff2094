"""The environment's models: where each keeps its artifact, image variable, ledger and tags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlinfra import config, registry, tfvars
from mlinfra.errors import ConfigError
from mlinfra.models import OWN, service_names, track


def test_the_environment_s_own_model_keeps_the_places_it_always_had(project: Path) -> None:
    assert OWN.artifact_dir() == config.state_dir() / "model"
    assert OWN.ledger_prefix("prod") == "mlinfra/releases/prod/"
    assert OWN.release_prefix == "release-"
    assert OWN.flag == ""


def test_a_named_model_keeps_its_own_places(project: Path) -> None:
    churn = track("churn")

    assert churn.artifact_dir() == config.state_dir() / "models" / "churn"
    # Not under the environment's own prefix: listing that one must not see these.
    assert not churn.ledger_prefix("prod").startswith(OWN.ledger_prefix("prod"))
    assert churn.release_prefix == "release-churn-"
    assert churn.flag == " --model churn"


@pytest.mark.parametrize("name", ["Churn", "9lives", "canary", "a" * 21, "a_b", ""])
def test_a_bad_model_name_is_one_line_naming_the_rule(name: str) -> None:
    with pytest.raises(ConfigError) as raised:
        track(name)

    assert "--model" in raised.value.message and "lowercase" in raised.value.hint


def test_each_model_s_image_goes_to_its_own_entry(tmp_path: Path) -> None:
    track("a").record_image(tmp_path, "127.0.0.1:5000/mlinfra-local:abc-1")
    track("b").record_image(tmp_path, "127.0.0.1:5000/mlinfra-local:abc-2")
    track("a").record_image(tmp_path, "127.0.0.1:5000/mlinfra-local:abc-3")
    OWN.record_image(tmp_path, "127.0.0.1:5000/mlinfra-local:own")

    written = json.loads(tfvars.models_tfvars_path(tmp_path).read_text())
    assert written == {
        "models": {
            "a": {"image": "127.0.0.1:5000/mlinfra-local:abc-3"},
            "b": {"image": "127.0.0.1:5000/mlinfra-local:abc-2"},
        }
    }
    assert tfvars.read_image_tfvars(tmp_path) == "127.0.0.1:5000/mlinfra-local:own"


def test_an_image_without_a_tag_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        track("a").record_image(tmp_path, "127.0.0.1:5000/mlinfra-local")
    assert not tfvars.models_tfvars_path(tmp_path).exists()


def test_a_hand_edited_models_file_is_named_with_the_fix(tmp_path: Path) -> None:
    tfvars.models_tfvars_path(tmp_path).write_text('{"models": ["a"]}')

    with pytest.raises(ConfigError) as raised:
        tfvars.read_models_tfvars(tmp_path)
    assert "Delete" in raised.value.hint


def test_release_numbers_are_counted_per_model() -> None:
    tags = {"release-1": "d1", "release-2": "d2", "release-churn-1": "d3", "release-churn-7": "d4"}

    assert registry.next_release(tags) == 3
    assert registry.next_release(tags, track("churn").release_prefix) == 8
    assert registry.next_release(tags, track("houses").release_prefix) == 1
    assert all(registry.is_release_tag(tag) for tag in tags)
    assert not registry.is_release_tag("1a2b3c4-52771509")


def test_every_service_of_the_stack_is_listed_once() -> None:
    outputs = {
        "service_name": "mlinfra-local",
        "canary_service_name": "mlinfra-local-canary",
        "models": {
            "b": {"service_name": "mlinfra-local-b", "url": "http://x/models/b"},
            "a": {"service_name": "mlinfra-local-a", "url": "http://x/models/a"},
        },
    }

    assert service_names(outputs) == [
        "mlinfra-local",
        "mlinfra-local-canary",
        "mlinfra-local-a",
        "mlinfra-local-b",
    ]
    assert track("a").service_name(outputs) == "mlinfra-local-a"
    assert track("z").service_name(outputs) is None
    assert service_names({"service_name": "s", "canary_service_name": None, "models": {}}) == ["s"]
