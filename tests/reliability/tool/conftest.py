"""Fixtures of the tool's reliability tests (marker ``integration``)."""

from __future__ import annotations

import sys
from pathlib import Path

# Helpers beside the tests, imported by name as the service half's conftest does.
sys.path.insert(0, str(Path(__file__).parent))
