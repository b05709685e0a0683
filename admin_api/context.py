"""``EngineHandle``: what the admin API (and the channel adapters it serves) needs of a running engine.

One object, handed to ``admin_api.create_app`` and attached to the app in ``while_serving``:

- ``runtime``: the ``engine.runtime.Runtime`` (``submit`` is the way into the ACD, ``now()`` the engine's time);
- ``plugins``: the ``plugins.manager.PluginManager`` (hooks are called through ``acall``: isolated, bounded);
- ``config``: the configuration mapping (plugin sections under ``config["plugins"][name]``);
- ``store``: the blocking ``engine.store.Store`` (``config["store"]`` unless given; the admin API runs its calls in
  worker threads);
- ``dispatcher``: the ``ChannelDispatcher`` for the channels the API's adapters own (``chat`` and ``email``),
  registered as an action sink of ``runtime`` by the constructor, so actions reach the channel hooks (unless
  one is given: ``switchboard serve`` passes its dispatcher of every channel, already registered);
- ``live``: the ``engine.live.LiveFigures`` of ``runtime``'s center (the wallboard, the stream, ``/metrics``),
  made (days in UTC) and registered as a sink by the constructor unless one is given, already registered.

It holds no state of its own beyond these references: everything else lives in the engine or in the plugins.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from engine.live import LiveFigures
from plugins.builtin.chat.plugin import ChatChannelPlugin
from plugins.dispatch import ChannelDispatcher


class EngineHandle:
    """See the module docstring. ``channels``: the channels whose actions ``dispatcher`` carries to the hooks."""

    def __init__(self, runtime: Any, plugins: Any, config: Mapping[str, Any] | None = None, *,
                 channels: Iterable[str] = ("chat", "email"), dispatcher: ChannelDispatcher | None = None,
                 store: Any = None, live: LiveFigures | None = None) -> None:
        self.runtime = runtime
        self.plugins = plugins
        self.config: Mapping[str, Any] = config or {}
        self.store = store if store is not None else self.config.get("store")
        if dispatcher is None:  # tests and tools: one of our own for ``channels``; the server passes its own
            dispatcher = ChannelDispatcher(plugins, channels)
            runtime.add_sink(dispatcher)
        self.dispatcher = dispatcher
        if live is None:
            live = LiveFigures(runtime.acd)
            runtime.add_sink(live)
        self.live = live
        chat = plugins.pm.get_plugin("chat")
        if isinstance(chat, ChatChannelPlugin):
            chat.clock = self.now
            chat.submit = runtime.submit

    def now(self) -> float:
        """The engine's time."""
        return float(self.runtime.now())

    @staticmethod
    def wall_clock() -> float:
        """Unix time, for what is stamped outside the engine (tokens, logins, audit)."""
        return time.time()

    @property
    def chat(self) -> ChatChannelPlugin:
        """The registered chat adapter (``LookupError`` when the ``chat`` plugin is not registered)."""
        plugin = self.plugins.pm.get_plugin("chat")
        if not isinstance(plugin, ChatChannelPlugin):
            raise LookupError("the chat plugin is not registered")
        return plugin

    @property
    def email(self) -> Any:
        """The registered e-mail adapter (``EmailChannelPlugin``), or ``None``."""
        return self.plugins.pm.get_plugin("email")

    @staticmethod
    def new_contact_id(channel: str) -> str:
        """A fresh contact id for ``channel`` (``"chat-3f2a..."``)."""
        return f"{channel}-{uuid.uuid4().hex[:16]}"
