"""Built-in plugins: features of Switchboard registered through the same hooks as third-party plugins.

``BUILTIN_PLUGINS`` maps each built-in's name to ``"module:factory"``; the factory takes no argument and returns
the plugin object. ``BUILTINS`` (computed on each access) lists ``(name, plugin object)``, fresh objects every
time so that two managers never share a plugin's state; ``plugins.manager.PluginManager`` registers them first.
"""

from __future__ import annotations

import importlib
from typing import Any

BUILTIN_PLUGINS: dict[str, str] = {
    "sim": "plugins.builtin.sim:SimChannelPlugin",
    # the WebRTC gateway (browser agents and web callers): a channel adapter of its own package, registered here
    # so the admin API serves its sockets; it runs only when switchboard serve starts it (docs/gateway.md)
    "webrtc": "webrtc_gateway.plugin:WebRtcPlugin",
    "ivr": "plugins.builtin.ivr.plugin:IvrPlugin",
    "chat": "plugins.builtin.chat.plugin:ChatChannelPlugin",
    "email": "plugins.builtin.email.plugin:EmailChannelPlugin",
    "crm": "plugins.builtin.crm:CrmPlugin",
    "tickets": "plugins.builtin.tickets:TicketsPlugin",
    # compliance rules: the last registered is asked first, so when several refuse, the verdict names the
    # weightiest (blocked, then dnc, calling-hours, max-attempts, min-interval, daily-cap)
    "compliance-daily-cap": "plugins.builtin.compliance:DailyCapRule",
    "compliance-min-interval": "plugins.builtin.compliance:MinIntervalRule",
    "compliance-max-attempts": "plugins.builtin.compliance:MaxAttemptsRule",
    "compliance-calling-hours": "plugins.builtin.compliance:CallingHoursRule",
    "compliance-dnc": "plugins.builtin.compliance:DncRule",
    "compliance-blocked": "plugins.builtin.compliance:BlockedRule",
}


def _builtins() -> list[tuple[str, Any]]:
    out = []
    for name, target in BUILTIN_PLUGINS.items():
        module_name, _, factory = target.partition(":")
        out.append((name, getattr(importlib.import_module(module_name), factory)()))
    return out


def __getattr__(name: str) -> Any:
    if name == "BUILTINS":
        return _builtins()
    raise AttributeError(name)
