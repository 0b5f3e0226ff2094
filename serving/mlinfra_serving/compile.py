"""Compile ``model.txt`` to a shared object with lleaves, and refuse it unless it predicts what
LightGBM predicts. Runs in the image's build stage (``python -m mlinfra_serving.compile DIR``);
needs lleaves, llvmlite, lightgbm and a linker (``ld``), none of which the service needs.

lleaves emits a relocatable object (its "cache" file); ``ld -shared`` turns that into a library
that ``ctypes`` loads, which keeps LLVM out of the final image.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from mlinfra_serving.artifact import MODEL_FILE, feature_specs, read_metadata
from mlinfra_serving.compiled import MANIFEST, SHARED_OBJECT, CompiledModel

# Portable across the EC2 instance types ECS may place the task on (SSE4.2/POPCNT, 2009 on);
# the build host's own CPU name would give an image that may crash elsewhere.
DEFAULT_TARGET_CPU = "x86-64-v2"
DEFAULT_SAMPLE_ROWS = 5000
# Both sides sum the same doubles in the same order; only the last bits may differ.
DEFAULT_RTOL = 1e-9
DEFAULT_ATOL = 1e-9


class CompileError(Exception):
    """The model could not be compiled, or the compiled model predicts other values."""


@dataclass(frozen=True)
class Comparison:
    rows: int
    max_abs_diff: float
    max_rel_diff: float
    worst_row: int
    equal: bool


def compile_shared_object(model_file: Path, target: Path, target_cpu: str) -> None:
    """Write ``target`` (a shared library exporting ``forest_root``) compiled from ``model_file``."""
    import lleaves  # type: ignore[import-untyped]

    linker = shutil.which("ld")
    if linker is None:
        raise CompileError("no linker `ld` on PATH; install binutils in the build stage")
    with tempfile.TemporaryDirectory(prefix="lleaves-") as scratch:
        obj = Path(scratch) / "model.o"
        # target_cpu_features "" means the named CPU's baseline features, not the build host's.
        lleaves.Model(model_file=str(model_file)).compile(
            cache=str(obj), target_cpu=target_cpu, target_cpu_features=""
        )
        result = subprocess.run(
            [linker, "-shared", "-o", str(target), str(obj)],
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode != 0:
        raise CompileError(f"`ld -shared` failed on the lleaves object: {result.stderr.strip()}")


def _split_values(node: dict[str, Any], feature: int, out: set[float]) -> None:
    if "split_feature" not in node:
        return
    if node["split_feature"] == feature and isinstance(node.get("threshold"), float):
        out.add(node["threshold"])
    for child in ("left_child", "right_child"):
        _split_values(node[child], feature, out)


def sample_rows(booster: Any, bounds: list[tuple[float, float]], n: int, seed: int) -> np.ndarray:
    """``n`` random rows within ``bounds`` per feature, half of them with one feature set exactly
    on one of the model's split thresholds: where a float comparison could go the other way."""
    rng = np.random.default_rng(seed)
    low = np.array([b[0] for b in bounds])
    high = np.array([b[1] for b in bounds])
    rows = rng.uniform(low, high, size=(n, len(bounds)))
    trees = booster.dump_model()["tree_info"]
    for feature in range(len(bounds)):
        thresholds: set[float] = set()
        for tree in trees:
            _split_values(tree["tree_structure"], feature, thresholds)
        if thresholds:
            picks = rng.choice(sorted(thresholds), size=n // (2 * len(bounds)))
            start = feature * len(picks)
            rows[start : start + len(picks), feature] = picks
    return rows


def feature_bounds(metadata: dict[str, Any], model_text: str) -> list[tuple[float, float]]:
    """Per feature, the metadata's accepted range, else the training range LightGBM recorded
    (``feature_infos=[min:max] ...``), else [0, 1]."""
    infos: list[str] = []
    for line in model_text.splitlines():
        if line.startswith("feature_infos="):
            infos = line.removeprefix("feature_infos=").split()
            break
    bounds = []
    for index, spec in enumerate(feature_specs(metadata)):
        low, high = 0.0, 1.0
        info = infos[index] if index < len(infos) else "none"
        if info.startswith("[") and ":" in info:
            low, high = (float(v) for v in info.strip("[]").split(":"))
        low = spec.minimum if spec.minimum is not None else low
        high = spec.maximum if spec.maximum is not None else high
        bounds.append((low, high))
    return bounds


def compare(expected: np.ndarray, actual: np.ndarray, rtol: float, atol: float) -> Comparison:
    diff = np.abs(expected - actual)
    rel = diff / np.maximum(np.abs(expected), np.finfo(np.float64).tiny)
    worst = int(np.argmax(diff)) if len(diff) else 0
    equal = bool(np.all(diff <= atol + rtol * np.abs(expected)))
    return Comparison(len(diff), float(diff.max()), float(rel.max()), worst, equal)


def compile_and_check(
    model_dir: Path,
    *,
    target_cpu: str = DEFAULT_TARGET_CPU,
    sample: int = DEFAULT_SAMPLE_ROWS,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
) -> dict[str, Any]:
    """Compile ``model_dir/model.txt`` into ``model_dir/model.so``, check it against LightGBM on
    ``sample`` rows and write ``compiled.json``; raise CompileError (and leave neither file) when
    the predictions differ by more than ``atol + rtol * |expected|``."""
    import lightgbm as lgb

    metadata = read_metadata(model_dir)
    model_file = model_dir / MODEL_FILE
    target = model_dir / SHARED_OBJECT
    compile_shared_object(model_file, target, target_cpu)

    booster = lgb.Booster(model_file=str(model_file))
    rows = sample_rows(booster, feature_bounds(metadata, model_file.read_text()), sample, seed=0)
    expected = np.asarray(booster.predict(rows, num_threads=1))
    manifest: dict[str, Any] = {
        "model_sha256": metadata["sha256"],
        "num_feature": booster.num_feature(),
        "lleaves_version": version("lleaves"),
        "llvmlite_version": version("llvmlite"),
        "lightgbm_version": lgb.__version__,
        "target_cpu": target_cpu,
    }
    compiled = CompiledModel.from_library(target, booster.num_feature(), manifest)
    result = compare(expected, compiled.predict(rows), rtol, atol)
    if not result.equal:
        target.unlink()
        raise CompileError(
            f"compiled predictions differ from LightGBM's: max |diff| {result.max_abs_diff:.3g}"
            f" (row {result.worst_row}: {rows[result.worst_row].tolist()}), tolerance"
            f" {atol:g} + {rtol:g}*|y|; serve with MODEL_BACKEND=lightgbm and report the model"
        )
    manifest["check"] = {
        "rows": result.rows,
        "max_abs_diff": result.max_abs_diff,
        "max_rel_diff": result.max_rel_diff,
        "rtol": rtol,
        "atol": atol,
    }
    (model_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlinfra_serving.compile", description=__doc__)
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--target-cpu", default=DEFAULT_TARGET_CPU)
    parser.add_argument("--sample", type=int, default=DEFAULT_SAMPLE_ROWS)
    args = parser.parse_args(argv)
    try:
        manifest = compile_and_check(args.model_dir, target_cpu=args.target_cpu, sample=args.sample)
    except CompileError as err:
        print(f"mlinfra_serving.compile: {err}", file=sys.stderr)
        return 1
    print(json.dumps(manifest, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
