"""The routing core: data structures and math of the hot path, compiled when built.

Each module exists twice with one API: ``_routing_c`` (Cython, compiled by ``setup.py``) and ``_routing_py`` (the
pure-Python reference, the source of truth for readers). This selector imports the compiled one unless the
environment variable ``SWITCHBOARD_PURE_PYTHON=1`` is set or the extension is not built, and says which it picked in
``IMPLEMENTATION`` (``"cython"`` or ``"python"``). ``load(name)`` returns either module explicitly (tests, benchmarks).

``engine.core`` imports nothing else of the project.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

__all__ = ["IMPLEMENTATION", "MAX_CHANNELS", "STRATEGIES", "RoutingIndex", "load", "strategy_code"]

_MODULES = {"cython": "engine.core._routing_c", "python": "engine.core._routing_py"}


def load(implementation: str) -> ModuleType:
    """The routing module of ``implementation`` (``"cython"`` or ``"python"``).

    ``ValueError`` for another name; ``ImportError`` if ``"cython"`` is asked for and the extension is not built.
    """
    try:
        name = _MODULES[implementation]
    except KeyError:
        raise ValueError(f"unknown implementation {implementation!r} (expected 'cython' or 'python')") from None
    return importlib.import_module(name)


if os.environ.get("SWITCHBOARD_PURE_PYTHON", "") not in ("", "0"):
    from engine.core._routing_py import MAX_CHANNELS, STRATEGIES, RoutingIndex, strategy_code

    IMPLEMENTATION = "python"
else:
    try:
        from engine.core._routing_c import (  # type: ignore[import-not-found, no-redef]
            MAX_CHANNELS,
            STRATEGIES,
            RoutingIndex,
            strategy_code,
        )

        IMPLEMENTATION = "cython"
    except ImportError:
        from engine.core._routing_py import (  # type: ignore[assignment]
            MAX_CHANNELS,
            STRATEGIES,
            RoutingIndex,
            strategy_code,
        )

        IMPLEMENTATION = "python"
