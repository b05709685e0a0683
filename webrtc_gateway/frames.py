"""The signalling frames of the gateway's sockets (``docs/gateway.md``): checked before anything acts on them.

Sans-IO. ``parse(text, allowed)`` returns a frame (a dict with a ``type``) or raises ``FrameError`` whose
``code`` and message make the ``{"type": "error", "code", "reason"}`` frame sent back; every ``FrameError`` is
*bad input*: the socket that sent it is closed after the error frame (a bad client is dropped, nobody else is
affected). Refusals of well-formed requests (accepting an offer that was withdrawn) are not raised here.

Codes: ``too-large`` (a frame over ``MAX_FRAME`` bytes), ``bad-frame`` (not JSON, not an object, a missing or
mistyped field), ``unknown-type``, ``bad-sdp`` (``check_sdp``), ``flood`` (``CandidateBudget``).

``allowed`` maps each accepted ``type`` to its fields: name -> (python type or tuple of types, required).
Unknown fields are ignored (clients may add their own).
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_FRAME = 64 * 1024
"""Largest frame accepted, in bytes of its UTF-8 text."""
MAX_SDP = 32 * 1024
MAX_TEXT = 4000
"""Longest free text (notes, reasons, names) in characters."""
MAX_CANDIDATES = 50
"""ICE candidates a browser may trickle per offer."""
MAX_ID = 128

Fields = dict[str, tuple[type | tuple[type, ...], bool]]

_NUM = (int, float)
_CONTACT: Fields = {"contact_id": (str, True)}

AGENT_FRAMES: dict[str, Fields] = {
    "session": {"resume": (str, False)},
    "offer": {"sdp": (str, True)},
    "candidate": {"candidate": (str, False), "sdpMid": (str, False), "sdpMLineIndex": (int, False)},
    "state": {"state": (str, True), "reason": (str, False)},
    "accept": _CONTACT,
    "decline": _CONTACT,
    "mute": _CONTACT,
    "unmute": _CONTACT,
    "hold": _CONTACT,
    "unhold": _CONTACT,
    "transfer": {"contact_id": (str, True), "to_queue": (str, False), "to_agent": (str, False),
                 "consult": (bool, False)},
    "consult-complete": _CONTACT,
    "consult-cancel": _CONTACT,
    "consult-accept": _CONTACT,
    "consult-decline": _CONTACT,
    "hangup": _CONTACT,
    "wrap-up": {"contact_id": (str, True), "disposition": (str, True), "notes": (str, False),
                "callback": (dict, False)},
    "preview": {"contact_id": (str, True), "dial": (bool, True)},
}
AGENT_STATES = ("available", "not-ready", "logged-out")

CALLER_FRAMES: dict[str, Fields] = {
    "call": {"sdp": (str, True), "caller": (str, False), "queue": (str, False)},
    "candidate": {"candidate": (str, False), "sdpMid": (str, False), "sdpMLineIndex": (int, False)},
    "hangup": {},
    "register": {"address": (str, True)},
    "answer-call": {"call_id": (str, True), "sdp": (str, True)},
    "decline-call": {"call_id": (str, True)},
}

SUPERVISOR_FRAMES: dict[str, Fields] = {
    "supervise": {"agent_id": (str, True), "mode": (str, True), "sdp": (str, True)},
    "mode": {"mode": (str, True)},
    "stop": {},
}

_ADDRESS = re.compile(r"^[A-Za-z0-9._@+-]{1,64}$")
_SDP_LINE = re.compile(r"^[a-z]=.*$")


class FrameError(ValueError):
    """Bad input: ``code`` (see the module docstring) and the reason, for the sender."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code


def parse(text: str | bytes, allowed: dict[str, Fields]) -> dict[str, Any]:
    """Decode and check one frame against ``allowed`` (see the module docstring)."""
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FRAME:
        raise FrameError("too-large", f"frame of {size} bytes is larger than {MAX_FRAME}")
    try:
        frame = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise FrameError("bad-frame", "not JSON") from None
    if not isinstance(frame, dict):
        raise FrameError("bad-frame", "a frame must be a JSON object")
    kind = frame.get("type")
    if not isinstance(kind, str):
        raise FrameError("bad-frame", "missing 'type'")
    fields = allowed.get(kind)
    if fields is None:
        raise FrameError("unknown-type", f"unknown type {kind[:40]!r} (expected one of: {', '.join(sorted(allowed))})")
    for name, (expected, required) in fields.items():
        value = frame.get(name)
        if value is None:
            if required:
                raise FrameError("bad-frame", f"{kind}: missing field {name!r}")
            continue
        if not isinstance(value, expected) or (isinstance(value, bool) and expected in (int, _NUM)):
            raise FrameError("bad-frame", f"{kind}: field {name!r} has the wrong type")
        if isinstance(value, str):
            limit = MAX_SDP if name == "sdp" else MAX_ID if name.endswith("_id") or name in ("resume", "mode",
                                                                                             "state") else MAX_TEXT
            if len(value) > limit:
                raise FrameError("bad-frame", f"{kind}: field {name!r} is longer than {limit} characters")
            if required and not value.strip():
                raise FrameError("bad-frame", f"{kind}: field {name!r} is empty")
    if "sdp" in fields:
        check_sdp(frame["sdp"])
    if kind == "register" and not _ADDRESS.match(frame["address"]):
        raise FrameError("bad-frame", "register: an address is 1-64 letters, digits or . _ @ + -")
    return frame


def check_sdp(sdp: str) -> str:
    """``sdp`` if it looks like a session description with an audio section that a DTLS-SRTP peer can answer;
    ``FrameError("bad-sdp")`` otherwise. The media worker parses it for real; this stops garbage at the door."""
    lines = [line for line in sdp.replace("\r\n", "\n").split("\n") if line]
    if not lines or lines[0] != "v=0":
        raise FrameError("bad-sdp", "a session description starts with v=0")
    for number, line in enumerate(lines, 1):
        if not _SDP_LINE.match(line):
            raise FrameError("bad-sdp", f"line {number} is not a type=value line")
    if not any(line.startswith("m=audio ") for line in lines):
        raise FrameError("bad-sdp", "no audio section (m=audio)")
    if not any(line.startswith("a=fingerprint:") for line in lines):
        raise FrameError("bad-sdp", "no DTLS fingerprint (a=fingerprint): media must be encrypted")
    if not any(line.startswith("a=ice-ufrag:") for line in lines):
        raise FrameError("bad-sdp", "no ICE credentials (a=ice-ufrag)")
    if sum(line.startswith("a=candidate:") for line in lines) > MAX_CANDIDATES:
        raise FrameError("flood", f"more than {MAX_CANDIDATES} ICE candidates in one description")
    return sdp


class CandidateBudget:
    """Counts the ICE candidates trickled since the last offer; ``FrameError("flood")`` past ``limit``."""

    def __init__(self, limit: int = MAX_CANDIDATES) -> None:
        self.limit = limit
        self.count = 0

    def reset(self) -> None:
        """A new offer (or answer) starts a new budget."""
        self.count = 0

    def spend(self) -> None:
        self.count += 1
        if self.count > self.limit:
            raise FrameError("flood", f"more than {self.limit} ICE candidates for one offer")


def error(code: str, reason: str, **extra: Any) -> dict[str, Any]:
    """The error frame."""
    return {"type": "error", "code": code, "reason": reason, **extra}
