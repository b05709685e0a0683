"""Fixtures for the core: every test runs on both implementations."""

from __future__ import annotations

from types import ModuleType

import pytest

import engine.core


def _built(module: str = "routing") -> bool:
    try:
        engine.core.load("cython", module=module)
    except ImportError:
        return False
    return True


@pytest.fixture(params=["python", "cython"])
def core_impl(request: pytest.FixtureRequest) -> ModuleType:
    """The routing module of one implementation (the compiled one is skipped only if it is not built)."""
    if request.param == "cython" and not _built():
        pytest.skip("compiled routing core not built (python setup.py build_ext --inplace)")
    return engine.core.load(request.param)


@pytest.fixture(params=["python", "cython"])
def pacing_impl(request: pytest.FixtureRequest) -> ModuleType:
    """The pacing module of one implementation (the compiled one is skipped only if it is not built)."""
    if request.param == "cython" and not _built("pacing"):
        pytest.skip("compiled pacing core not built (python setup.py build_ext --inplace)")
    return engine.core.load_pacing(request.param)
