"""Image tag, base image choice, wheel cache key and build-context content (no Docker needed)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mlinfra import image
from mlinfra.errors import ConfigError
from mlinfra.model import ModelArtifact, ensure_model, import_model

SERVING = Path(__file__).resolve().parents[3] / "serving"


def test_image_tag_clean_and_dirty() -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    model = "52771509a601fce4a0b563454eb610f273f8c9ea90b82b8211e97b8ed38bbe97"
    assert image.image_tag(sha, False, model) == "0123456-52771509"
    assert image.image_tag(sha, True, model) == "0123456-dirty-52771509"


def test_image_tag_refuses_a_short_model_hash() -> None:
    with pytest.raises(ConfigError, match="too short"):
        image.image_tag("0123456789", False, "abc")


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_git_revision_sees_commits_and_uncommitted_changes(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("1")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    clean = image.git_revision(tmp_path)
    assert not clean.dirty and len(clean.sha) == 40
    assert clean.source == tmp_path.resolve().as_uri()
    (tmp_path / "a.txt").write_text("2")
    assert image.git_revision(tmp_path).dirty


def test_git_revision_outside_a_repository_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        image.git_revision(tmp_path)
    assert "git checkout" in (caught.value.hint or "")


def test_requirements_hash_follows_the_file(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("falcon==4.4.0\n")
    first = image.requirements_hash(requirements)
    requirements.write_text("falcon==4.3.0\n")
    assert image.requirements_hash(requirements) != first


@pytest.mark.parametrize("name", image.REQUIREMENT_FILES)
def test_serving_requirements_are_all_pinned(name: str) -> None:
    lines = (SERVING / name).read_text().splitlines()
    packages = [line for line in lines if line.strip() and not line.startswith("#")]
    assert packages and all("==" in line for line in packages)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> ModelArtifact:
    return ensure_model(tmp_path_factory.mktemp("m") / "model")


def _context(tmp_path: Path, model: ModelArtifact, name: str) -> Path:
    wheels = tmp_path / "wheels-cache"
    wheels.mkdir(exist_ok=True)
    (wheels / "x-1.0-py3-none-any.whl").write_bytes(b"wheel")
    context = tmp_path / name
    context.mkdir()
    image.assemble_context(SERVING, model, [wheels], context)
    return context


def test_context_holds_what_the_dockerfile_copies_and_nothing_else(
    tmp_path: Path, model: ModelArtifact
) -> None:
    context = _context(tmp_path, model, "ctx")
    top = sorted(p.name for p in context.iterdir())
    assert top == sorted(
        [*image.SERVING_FILES, "mlinfra_serving", image.BUILD_DIR, "model", "wheels"]
    )
    assert sorted(p.name for p in (context / "model").iterdir()) == ["metadata.json", "model.txt"]
    assert (context / "wheels" / "x-1.0-py3-none-any.whl").read_bytes() == b"wheel"
    assert not list(context.rglob("__pycache__"))


def test_the_runtime_package_holds_no_build_stage_or_training_module(
    tmp_path: Path, model: ModelArtifact
) -> None:
    context = _context(tmp_path, model, "ctx")
    runtime = sorted(p.name for p in (context / "mlinfra_serving").iterdir())
    assert "app.py" in runtime and "predictor.py" in runtime
    assert not {"compile.py", "training.py"} & set(runtime)
    assert sorted(p.name for p in (context / image.BUILD_DIR).iterdir()) == ["compile.py"]


def test_context_digest_changes_with_code_model_or_base_but_not_wheels(
    tmp_path: Path, model: ModelArtifact
) -> None:
    context = _context(tmp_path, model, "ctx")
    digest = image.context_digest(context, "base:1")
    assert image.context_digest(_context(tmp_path, model, "again"), "base:1") == digest
    assert image.context_digest(context, "base:2") != digest
    (context / "wheels" / "y-1.0-py3-none-any.whl").write_bytes(b"other")
    assert image.context_digest(context, "base:1") == digest
    (context / "mlinfra_serving" / "app.py").write_text("# changed\n")
    assert image.context_digest(context, "base:1") != digest


def test_a_retrain_of_the_same_model_keeps_the_context_digest(tmp_path: Path) -> None:
    def context(trained_at: str, weights: str) -> Path:
        folder = tmp_path / f"{trained_at}-{weights}"
        (folder / "model").mkdir(parents=True)
        (folder / "model" / "model.txt").write_text(weights)
        metadata = {"sha256": weights, "trained_at": trained_at, "model_version": "v"}
        (folder / "model" / "metadata.json").write_text(json.dumps(metadata))
        return folder

    monday, tuesday = context("monday", "tree-a"), context("tuesday", "tree-a")
    assert image.context_digest(monday, "base") == image.context_digest(tuesday, "base")
    assert image.context_digest(monday, "base") != image.context_digest(
        context("monday", "tree-b"), "base"
    )


def test_one_model_file_imported_from_two_folders_keeps_the_context_digest(
    tmp_path: Path,
) -> None:
    """A fresh clone or a pytest tmp dir imports the same file from elsewhere: same image."""
    trained = ensure_model(tmp_path / "trained")

    def imported_from(folder: str) -> Path:
        source = tmp_path / folder / "model.txt"
        source.parent.mkdir()
        source.write_bytes((trained.dir / "model.txt").read_bytes())
        artifact = import_model(source, tmp_path / folder / "artifact")
        return _context(tmp_path, artifact, f"ctx-{folder}")

    first, second = imported_from("first"), imported_from("second")
    assert (
        json.loads((first / "model" / "metadata.json").read_text())["provenance"]["file"]
        != (json.loads((second / "model" / "metadata.json").read_text())["provenance"]["file"])
    )
    assert image.context_digest(first, "base") == image.context_digest(second, "base")


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("mlinfra-local:abc1234-52771509", True),
        ("127.0.0.1:5000/mlinfra-local:abc1234-52771509", True),
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlinfra-local:v1", True),
        ("127.0.0.1:5000/mlinfra-local", True),
        ("mlinfra-local-extra:v1", False),
        ("team/mlinfra-localx:v1", False),
        ("mlinfra-dev:v1", False),
    ],
)
def test_in_repository_matches_bare_and_registry_names(reference: str, expected: bool) -> None:
    assert image.in_repository(reference, "mlinfra-local") is expected


def test_created_order_reads_fractions_of_any_length() -> None:
    stamps = [
        "2026-11-26T17:55:40Z",
        "2026-11-26T17:55:40.1Z",
        "2026-11-26T17:55:40.12Z",
        "2026-11-26T17:55:40.123456789Z",
        "2026-11-26T17:55:41.05Z",
    ]
    assert sorted(stamps, key=image.created_order) == stamps
    assert sorted(stamps) != stamps, "plain string order gets these wrong"


@pytest.mark.parametrize(
    ("remote", "label"),
    [
        (
            "https://ci-bot:ghp_s3cr3tT0ken@github.com/acme/mlinfra.git",
            "https://github.com/acme/mlinfra.git",
        ),
        (
            "https://oauth2:glpat-xyz@gitlab.example.com:8443/acme/mlinfra",
            "https://gitlab.example.com:8443/acme/mlinfra",
        ),
        ("https://token@host/repo.git?private_token=abc#frag", "https://host/repo.git"),
        ("ssh://git@github.com/acme/mlinfra.git", "ssh://github.com/acme/mlinfra.git"),
        ("git@github.com:acme/mlinfra.git", "git@github.com:acme/mlinfra.git"),
        ("https://github.com/acme/mlinfra.git", "https://github.com/acme/mlinfra.git"),
    ],
)
def test_a_remote_url_loses_its_credentials_before_the_label(remote: str, label: str) -> None:
    assert image.public_source(remote) == label


def test_the_source_label_of_a_checkout_with_a_token_remote_has_no_token(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(
        ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@e",
         "commit", "-q", "--allow-empty", "-m", "x"],
        check=True,
    )  # fmt: skip
    remote = "https://ci-bot:ghp_s3cr3tT0ken@github.com/acme/mlinfra.git"
    subprocess.run(["git", "-C", str(tmp_path), "remote", "add", "origin", remote], check=True)
    source = image.git_revision(tmp_path).source
    assert source == "https://github.com/acme/mlinfra.git"
    assert "s3cr3t" not in source and "ci-bot" not in source
