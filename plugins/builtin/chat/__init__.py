"""The chat channel: ``ChatState`` (sans-IO conversations) and ``ChatChannelPlugin`` (the hooks and the sockets'
outboxes). The WebSockets themselves are served by ``admin_api.chat``; the engine's actions reach the hooks
through ``plugins.dispatch.ChannelDispatcher``."""

from __future__ import annotations

from plugins.builtin.chat.plugin import CHANNEL, NAME, ChatChannelPlugin
from plugins.builtin.chat.state import ChatError, ChatState, Delivery

__all__ = ["CHANNEL", "NAME", "ChatChannelPlugin", "ChatError", "ChatState", "Delivery"]
