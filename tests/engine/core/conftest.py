"""Fixtures for the routing core: every test runs on both implementations."""

from __future__ import annotations

from types import ModuleType

import pytest

import engine.core


def _built() -> bool:
    try:
        engine.core.load("cython")
    except ImportError:
        return False
    return True


@pytest.fixture(params=["python", "cython"])
def core_impl(request: pytest.FixtureRequest) -> ModuleType:
    """The routing module of one implementation (the compiled one is skipped only if it is not built)."""
    if request.param == "cython" and not _built():
        pytest.skip("compiled routing core not built (python setup.py build_ext --inplace)")
    return engine.core.load(request.param)
