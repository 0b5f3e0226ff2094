"""The packages behind an ``__all__`` export what they define for callers, and only that."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("name", ["mlinfra.emulator", "mlinfra.local_runtime", "mlinfra.proxy"])
def test_all_lists_exactly_the_public_names(name: str) -> None:
    package = importlib.import_module(name)
    public = {
        member
        for member, value in vars(package).items()
        if not member.startswith("_") and getattr(value, "__module__", "").startswith(name)
    }
    assert sorted(package.__all__) == sorted(set(package.__all__))
    assert set(package.__all__) >= public
    assert all(hasattr(package, member) for member in package.__all__)
