"""The core: data structures and math of the hot path, compiled when built.

Each module exists twice with one API: a compiled one (Cython, built by ``setup.py``) and a pure-Python reference,
the source of truth for readers:

* routing (``_routing_c`` / ``_routing_py``): ``RoutingIndex``, ``STRATEGIES``, ``MAX_CHANNELS``, ``strategy_code``;
* pacing (``_pacing_c`` / ``_pacing_py``): the predictive dialer's ``Pacer``, the ``OUTCOME_*`` codes, ``QUANTILES``.

This selector imports each compiled module unless the environment variable ``SWITCHBOARD_PURE_PYTHON=1`` is set or
that extension is not built, and says which it picked: ``IMPLEMENTATIONS`` maps each module (``"routing"``,
``"pacing"``) to ``"cython"`` or ``"python"``; ``IMPLEMENTATION`` sums them up: ``"cython"`` if every module is
compiled, ``"python"`` if none is, ``"mixed"`` otherwise (an extension left unbuilt). ``load(name)`` returns either
routing module explicitly, ``load(name, module="pacing")`` / ``load_pacing(name)`` either pacing module (tests,
benchmarks).

``engine.core`` imports nothing else of the project.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

__all__ = [
    "IMPLEMENTATION",
    "IMPLEMENTATIONS",
    "MAX_CHANNELS",
    "OUTCOME_BUSY",
    "OUTCOME_HUMAN",
    "OUTCOME_MACHINE",
    "OUTCOME_NO_ANSWER",
    "QUANTILES",
    "STRATEGIES",
    "Pacer",
    "RoutingIndex",
    "load",
    "load_pacing",
    "strategy_code",
]

_MODULES = {"cython": "engine.core._routing_c", "python": "engine.core._routing_py"}
_PACING_MODULES = {"cython": "engine.core._pacing_c", "python": "engine.core._pacing_py"}
_BY_MODULE = {"routing": _MODULES, "pacing": _PACING_MODULES}


def load(implementation: str, module: str = "routing") -> ModuleType:
    """The ``module`` (``"routing"``, the default, or ``"pacing"``) of ``implementation`` (``"cython"`` or
    ``"python"``).

    ``ValueError`` for another name; ``ImportError`` if ``"cython"`` is asked for and the extension is not built.
    """
    try:
        names = _BY_MODULE[module]
    except KeyError:
        raise ValueError(f"unknown core module {module!r} (expected one of {sorted(_BY_MODULE)})") from None
    try:
        name = names[implementation]
    except KeyError:
        raise ValueError(f"unknown implementation {implementation!r} (expected 'cython' or 'python')") from None
    return importlib.import_module(name)


def load_pacing(implementation: str) -> ModuleType:
    """The pacing module of ``implementation``: ``load(implementation, module="pacing")``."""
    return load(implementation, module="pacing")


_PURE_PYTHON = os.environ.get("SWITCHBOARD_PURE_PYTHON", "") not in ("", "0")

if _PURE_PYTHON:
    from engine.core._routing_py import MAX_CHANNELS, STRATEGIES, RoutingIndex, strategy_code

    _ROUTING = "python"
else:
    try:
        from engine.core._routing_c import (  # type: ignore[import-not-found, no-redef]
            MAX_CHANNELS,
            STRATEGIES,
            RoutingIndex,
            strategy_code,
        )

        _ROUTING = "cython"
    except ImportError:
        from engine.core._routing_py import (  # type: ignore[assignment]
            MAX_CHANNELS,
            STRATEGIES,
            RoutingIndex,
            strategy_code,
        )

        _ROUTING = "python"

if _PURE_PYTHON:
    from engine.core._pacing_py import (
        OUTCOME_BUSY,
        OUTCOME_HUMAN,
        OUTCOME_MACHINE,
        OUTCOME_NO_ANSWER,
        QUANTILES,
        Pacer,
    )

    _PACING = "python"
else:
    try:
        from engine.core._pacing_c import (  # type: ignore[import-not-found, no-redef]
            OUTCOME_BUSY,
            OUTCOME_HUMAN,
            OUTCOME_MACHINE,
            OUTCOME_NO_ANSWER,
            QUANTILES,
            Pacer,
        )

        _PACING = "cython"
    except ImportError:
        from engine.core._pacing_py import (  # type: ignore[assignment]
            OUTCOME_BUSY,
            OUTCOME_HUMAN,
            OUTCOME_MACHINE,
            OUTCOME_NO_ANSWER,
            QUANTILES,
            Pacer,
        )

        _PACING = "python"

IMPLEMENTATIONS: dict[str, str] = {"routing": _ROUTING, "pacing": _PACING}
"""Which implementation each core module is: ``"cython"`` or ``"python"``."""

IMPLEMENTATION: str = ("cython" if all(v == "cython" for v in IMPLEMENTATIONS.values())
                       else "python" if all(v == "python" for v in IMPLEMENTATIONS.values()) else "mixed")
"""``"cython"`` if every core module is compiled, ``"python"`` if none is, ``"mixed"`` otherwise."""
