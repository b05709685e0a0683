"""The WebSocket frames of the chat sockets: JSON objects with a ``type``, checked before anything acts on them.

``parse(text, allowed)`` returns the frame (a dict) or raises ``FrameError`` whose message is the ``reason`` of
the ``{"type": "error", "reason": ...}`` frame sent back. ``allowed`` maps each accepted ``type`` to its fields:
name -> (python type, required). Unknown fields are ignored (clients may add their own).
"""

from __future__ import annotations

import json
from typing import Any

MAX_TEXT = 100_000
"""Longest text accepted in a field, in characters (an e-mail reply can be long)."""
MAX_CHAT_LINE = 4000
"""Longest chat line accepted (``message`` frames), in characters."""

Fields = dict[str, tuple[type, bool]]

CUSTOMER_FRAMES: dict[str, Fields] = {
    "join": {"customer": (str, True), "name": (str, False), "queue": (str, False)},
    "message": {"text": (str, True)},
    "survey": {"score": (int, True), "comment": (str, False)},
    "leave": {},
}

AGENT_FRAMES: dict[str, Fields] = {
    "ready": {},
    "not-ready": {"reason": (str, False)},
    "logout": {},
    "accept": {"contact_id": (str, True)},
    "decline": {"contact_id": (str, True)},
    "message": {"contact_id": (str, True), "text": (str, True)},
    "end": {"contact_id": (str, True)},
    "email-reply": {"contact_id": (str, True), "text": (str, True)},
    "wrap-up": {"contact_id": (str, True), "disposition": (str, True), "notes": (str, False)},
}


class FrameError(ValueError):
    """A frame that cannot be used; the message says why, for the sender."""


def parse(text: str | bytes, allowed: dict[str, Fields]) -> dict[str, Any]:
    """Decode and check one frame against ``allowed`` (see the module docstring)."""
    try:
        frame = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise FrameError("not JSON") from None
    if not isinstance(frame, dict):
        raise FrameError("a frame must be a JSON object")
    kind = frame.get("type")
    if not isinstance(kind, str):
        raise FrameError("missing 'type'")
    fields = allowed.get(kind)
    if fields is None:
        raise FrameError(f"unknown type {kind!r} (expected one of: {', '.join(sorted(allowed))})")
    for name, (expected, required) in fields.items():
        value = frame.get(name)
        if value is None:
            if required:
                raise FrameError(f"{kind}: missing field {name!r}")
            continue
        if not isinstance(value, expected):
            raise FrameError(f"{kind}: field {name!r} must be a {expected.__name__}")
        if isinstance(value, str) and required and not value.strip():
            raise FrameError(f"{kind}: field {name!r} is empty")
        if isinstance(value, str) and len(value) > MAX_TEXT:
            raise FrameError(f"{kind}: field {name!r} is longer than {MAX_TEXT} characters")
    if kind == "message" and len(frame["text"]) > MAX_CHAT_LINE:
        raise FrameError(f"message: field 'text' is longer than {MAX_CHAT_LINE} characters")
    return frame


def error(reason: str) -> str:
    """The error frame, encoded."""
    return json.dumps({"type": "error", "reason": reason})
