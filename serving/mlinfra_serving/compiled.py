"""The compiled model: a shared object made from ``model.txt`` by lleaves at image build time.

At run time only ``ctypes`` and numpy are needed: lleaves and llvmlite (130 MB of LLVM) stay in
the image's build stage. The object exports lleaves' entry point
``forest_root(const double *rows, double *out, int32 start, int32 end)``, one row of
``num_feature`` doubles after another (C order).
"""

from __future__ import annotations

import ctypes
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlinfra_serving.artifact import ArtifactError

SHARED_OBJECT = "model.so"
MANIFEST = "compiled.json"
ENTRY_POINT = "forest_root"


def read_manifest(model_dir: Path) -> dict[str, Any] | None:
    """The compile record beside the model, or None when the model was not compiled."""
    path = model_dir / MANIFEST
    if not path.is_file() or not (model_dir / SHARED_OBJECT).is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ArtifactError(f"{path} is not valid JSON ({err})") from err
    if not isinstance(manifest, dict):
        raise ArtifactError(f"{path} holds {type(manifest).__name__}, not an object")
    return manifest


@dataclass(frozen=True)
class CompiledModel:
    """Predicts with the compiled forest (through ctypes, which releases the GIL for the call)."""

    path: Path
    num_feature: int
    manifest: dict[str, Any]
    _entry: Any
    # One row's input and output buffers and their addresses, per thread (see _predict_one).
    _scratch: threading.local = field(default_factory=threading.local, compare=False, repr=False)

    name = "lleaves"

    @classmethod
    def load(cls, model_dir: Path, model_sha256: str) -> CompiledModel:
        """Load ``model.so``; refuse one compiled from another ``model.txt`` than ``model_sha256``."""
        manifest = read_manifest(model_dir)
        path = model_dir / SHARED_OBJECT
        if manifest is None:
            raise ArtifactError(
                f"{path} or {model_dir / MANIFEST} does not exist; build the image (its compile"
                " stage makes them) or set MODEL_BACKEND=lightgbm"
            )
        compiled_from = manifest.get("model_sha256")
        if compiled_from != model_sha256:
            raise ArtifactError(
                f"{path} was compiled from model sha256 {str(compiled_from)[:12]}..., the model"
                f" is {model_sha256[:12]}...; rebuild the image or set MODEL_BACKEND=lightgbm"
            )
        return cls.from_library(path, int(manifest["num_feature"]), manifest)

    @classmethod
    def from_library(cls, path: Path, num_feature: int, manifest: dict[str, Any]) -> CompiledModel:
        """The library at ``path``, with no check of where it came from."""
        try:
            library = ctypes.CDLL(str(path))
            entry = getattr(library, ENTRY_POINT)
        except (OSError, AttributeError) as err:
            raise ArtifactError(f"{path} cannot be loaded as a compiled model ({err})") from err
        # PERF: the buffers go as plain addresses (ndarray.ctypes.data, an int): a typed pointer
        # from data_as() built two ctypes objects per call, 3.5% of a worker's busy time.
        entry.argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32)
        entry.restype = None
        return cls(path, num_feature, manifest, entry)

    def predict(self, rows: np.ndarray) -> np.ndarray:
        if rows.ndim == 2 and rows.shape[0] == 1 and rows.shape[1] == self.num_feature:
            return self._predict_one(rows)
        # NOTE: the compiled code reads raw memory: the rows must be C-ordered float64 of the
        # model's width, or it reads past the buffer.
        data = np.ascontiguousarray(rows, dtype=np.float64)
        if data.ndim != 2 or data.shape[1] != self.num_feature:
            raise ValueError(f"rows must have shape (n, {self.num_feature}), got {data.shape}")
        out = np.empty(data.shape[0], dtype=np.float64)
        self._entry(data.ctypes.data, out.ctypes.data, 0, len(out))
        return out

    def _predict_one(self, rows: np.ndarray) -> np.ndarray:
        """A single row, through buffers this thread made once.

        PERF: a buffer's address (ndarray.ctypes) costs about 3 us to read, two per call, and a
        single-row request is most requests: the compiled forest itself takes about 10 us.
        """
        row: np.ndarray
        out: np.ndarray
        try:
            row, out, row_address, out_address = self._scratch.buffers
        except AttributeError:
            row = np.empty((1, self.num_feature), dtype=np.float64)
            out = np.empty(1, dtype=np.float64)
            row_address, out_address = row.ctypes.data, out.ctypes.data
            self._scratch.buffers = (row, out, row_address, out_address)
        row[...] = rows
        self._entry(row_address, out_address, 0, 1)
        return out.copy()
