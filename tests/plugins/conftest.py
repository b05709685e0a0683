"""Fixtures of the plugin tests: a manager without entry points, and the example package installed once."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from plugins.manager import PluginManager

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "switchboard-example-plugin"


@pytest.fixture
def manager() -> PluginManager:
    """Built-ins only: third-party plugins installed in the venv do not leak into the tests."""
    return PluginManager(autoload=False)


@pytest.fixture
def bare() -> PluginManager:
    """No plugin at all."""
    return PluginManager(autoload=False, builtins=False)


def _installed() -> bool:
    try:
        importlib.metadata.distribution("switchboard-example-plugin")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


@pytest.fixture(scope="session")
def example_installed() -> Iterator[Path]:
    """Install the example plugin (editable, no deps) into this venv once; uninstall it after if we installed it."""
    was_installed = _installed()
    if not was_installed:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                        "-e", str(EXAMPLE)], check=True, cwd=ROOT)
    yield EXAMPLE
    if not was_installed:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "--quiet", "-y", "switchboard-example-plugin"],
                       check=False, cwd=ROOT)
