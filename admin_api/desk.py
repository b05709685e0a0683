"""The phone pages: the agent desktop (``/agent``) and the web caller (``/call``).

Static files (``admin_api/static/agent.*``, ``call.*``, ``phone.js``, ``chat-panel.js``), no build step; what they
do is in ``docs/agent-desktop.md``. Their data needs a login (the desktop) or nothing (the caller); their sockets
are the gateway's (``/webrtc/ws/agent/<id>``, ``/webrtc/ws/caller``, ``docs/gateway.md``), the chat agent socket
and the live stream.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, current_app

desk = Blueprint("desk", __name__)


@desk.get("/agent")
async def agent_page() -> Any:
    """The agent desktop."""
    return await current_app.send_static_file("agent.html")


@desk.get("/call")
async def caller_page() -> Any:
    """The web caller."""
    return await current_app.send_static_file("call.html")
