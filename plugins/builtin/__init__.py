"""Built-in plugins: features of Switchboard registered through the same hooks as third-party plugins.

``BUILTINS`` lists ``(name, plugin object)``; ``plugins.manager.PluginManager`` registers them first.
"""

from __future__ import annotations

from typing import Any


def _builtins() -> list[tuple[str, Any]]:
    from plugins.builtin.sim import NAME, SimChannelPlugin

    return [(NAME, SimChannelPlugin())]


def __getattr__(name: str) -> Any:
    # A fresh set of built-in objects per access, so that two managers never share a plugin's state.
    if name == "BUILTINS":
        return _builtins()
    raise AttributeError(name)
