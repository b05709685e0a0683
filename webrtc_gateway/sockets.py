"""What the gateway keeps of each signalling socket (``Socket``: its outbox and what it may touch), and the names
shared by the gateway's parts."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import trio

from webrtc_gateway.frames import CandidateBudget

CHANNEL = "voice"
"""The engine channel of the gateway's contacts."""
OUTBOX_SIZE = 500
"""Frames waiting for one socket at most (a socket further behind loses frames, logged)."""
CLOSE_KEY = "_close"
"""A frame carrying this key (a WebSocket close code) makes its socket send it and close."""


@dataclass(eq=False)
class Socket:
    """One signalling socket: its outbox (``send`` / ``receive``, drained by ``webrtc_gateway.signalling``) and
    what it is allowed to touch: an agent socket its session (``agent_id``, ``session_id``, ``ticket``), a caller
    socket its ``calls`` and registered ``address``, a supervisor socket its ``principal``'s teams."""

    kind: str  # agent | caller | supervisor
    id: str
    send: trio.MemorySendChannel[dict[str, Any]]
    receive: trio.MemoryReceiveChannel[dict[str, Any]]
    budget: CandidateBudget = field(default_factory=CandidateBudget)
    agent_id: str = ""
    session_id: str = ""
    ticket: int = 0
    calls: set[str] = field(default_factory=set)  # a caller socket's contacts / outbound calls
    address: str = ""
    principal: Any = None
    supervising: str = ""  # a supervisor socket's agent
    joining: tuple[str, str] | None = None  # (leg, mode) of a supervision waiting for its leg to connect


def leg_id(role: str) -> str:
    """A fresh media leg id (unique across workers): ``c-...``, ``a-...``, ``s-...`` by role."""
    return f"{role[0]}-{secrets.token_hex(8)}"


def open_socket(kind: str, number: int, **fields: Any) -> Socket:
    """A new ``Socket`` of ``kind`` with its outbox."""
    send, receive = trio.open_memory_channel[dict[str, Any]](OUTBOX_SIZE)
    return Socket(kind, f"{kind}-{number}", send, receive, **fields)
