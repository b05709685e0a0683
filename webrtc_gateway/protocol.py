"""The media control protocol between the trio controller and the media workers (``docs/gateway.md``).

Sans-IO. A frame is a 4-byte big-endian length and a msgpack map ``{"t": TYPE, ...}`` of at most ``MAX_FRAME``
bytes. ``encode(message)`` checks a message against ``MESSAGES`` (its type, its required fields and their
types) and frames it; ``Decoder.feed(data)`` returns the complete messages received so far, checked the same
way, and raises ``ProtocolError`` (naming the type and field) on anything else: a peer that sends garbage is
cut off, never half-understood.

Commands (controller -> worker) carry ``rid``, answered by ``ok`` or ``error`` with the same ``rid``; events
(worker -> controller) have none.
"""

from __future__ import annotations

import struct
from typing import Any

import msgpack

VERSION = 1
MAX_FRAME = 1024 * 1024
_LENGTH = struct.Struct(">I")

Fields = dict[str, tuple[type | tuple[type, ...], bool]]

_STR = str
_OPT_STR = (str, type(None))
_NUM = (int, float)

COMMANDS: dict[str, Fields] = {
    "hello": {"version": (int, True)},
    "leg.offer": {"leg": (_STR, True), "sdp": (_STR, True), "role": (_STR, True), "ice": (dict, False),
                  "media_timeout": (_NUM, False)},
    "leg.create_offer": {"leg": (_STR, True), "role": (_STR, True), "ice": (dict, False),
                         "media_timeout": (_NUM, False)},
    "leg.answer": {"leg": (_STR, True), "sdp": (_STR, True)},
    "leg.renegotiate": {"leg": (_STR, True), "sdp": (_STR, True)},
    "leg.close": {"leg": (_STR, True)},
    "leg.export": {"leg": (_STR, True), "port": (int, True)},
    "leg.unexport": {"leg": (_STR, True)},
    "bridge": {"bridge": (_STR, True), "a": (_STR, True), "b": (_STR, True), "record": (_OPT_STR, False),
               "remote": (dict, False)},
    "unbridge": {"bridge": (_STR, True)},
    "play": {"leg": (_STR, True), "media": (_STR, True), "play": (_STR, True), "loop": (bool, False)},
    "stop": {"leg": (_STR, True), "play": (_STR, True)},
    "record.start": {"bridge": (_STR, True), "path": (_STR, True)},
    "record.stop": {"bridge": (_STR, True)},
    "supervise": {"bridge": (_STR, True), "leg": (_STR, True), "mode": (_STR, True), "remote": (dict, False)},
    "unsupervise": {"bridge": (_STR, True), "leg": (_STR, True)},
    "dtmf.detect": {"leg": (_STR, True), "inband": (bool, True)},
    "stats": {},
    "shutdown": {},
}
EVENTS: dict[str, Fields] = {
    "ok": {"rid": (int, True)},
    "error": {"rid": (int, True), "reason": (_STR, True)},
    "leg.state": {"leg": (_STR, True), "state": (_STR, True)},
    "leg.media_lost": {"leg": (_STR, True), "silent_s": (_NUM, True)},
    "dtmf": {"leg": (_STR, True), "digit": (_STR, True), "source": (_STR, True), "duration_ms": (_NUM, False)},
    "play.done": {"leg": (_STR, True), "play": (_STR, True), "stopped": (bool, False)},
    "record.done": {"bridge": (_STR, True), "path": (_STR, True), "seconds": (_NUM, True)},
}
ROLES = ("agent", "caller", "supervisor")
LEG_STATES = ("connecting", "connected", "disconnected", "failed", "closed")
SUPERVISION = ("listen", "whisper", "barge")
DIGITS = frozenset("0123456789*#ABCD")
_CHOICES: dict[tuple[str, str], tuple[str, ...] | frozenset[str]] = {
    ("leg.offer", "role"): ROLES, ("leg.create_offer", "role"): ROLES, ("leg.state", "state"): LEG_STATES,
    ("supervise", "mode"): SUPERVISION, ("dtmf", "digit"): DIGITS, ("dtmf", "source"): ("rfc4733", "inband"),
}


class ProtocolError(ValueError):
    """A frame or message that breaks the protocol; the message names what is wrong. ``rid`` is the request id of
    a command that was refused, when the frame was a map with an integer ``rid`` (so the sender can be answered)."""

    def __init__(self, reason: str, rid: int | None = None) -> None:
        super().__init__(reason)
        self.rid = rid


def check(message: Any) -> dict[str, Any]:
    """``message`` if it is a known command or event with its required fields of the right types (extra fields
    are allowed: results of ``ok``); ``ProtocolError`` otherwise."""
    try:
        return _check(message)
    except ProtocolError as exc:
        rid = message.get("rid") if isinstance(message, dict) else None
        if isinstance(rid, int) and not isinstance(rid, bool):
            exc.rid = rid
        raise


def _check(message: Any) -> dict[str, Any]:
    if not isinstance(message, dict):
        raise ProtocolError("a message must be a map")
    kind = message.get("t")
    if not isinstance(kind, str):
        raise ProtocolError(f"unknown message type {kind!r}")
    fields = COMMANDS.get(kind)
    if fields is None:
        fields = EVENTS.get(kind)
    if fields is None:
        raise ProtocolError(f"unknown message type {kind!r}")
    if kind in COMMANDS and not isinstance(message.get("rid"), int):
        raise ProtocolError(f"{kind}: a command needs an integer rid")
    for name, (types, required) in fields.items():
        if name not in message:
            if required:
                raise ProtocolError(f"{kind}: missing field {name!r}")
            continue
        value = message[name]
        if not isinstance(value, types) or (isinstance(value, bool) and types in (int, _NUM)):
            raise ProtocolError(f"{kind}.{name}: wrong type {type(value).__name__}")
        allowed = _CHOICES.get((kind, name))
        if allowed is not None and value not in allowed:
            raise ProtocolError(f"{kind}.{name}: {value!r} is not one of {', '.join(sorted(allowed))}")
    return message


def encode(message: dict[str, Any]) -> bytes:
    """One checked message, framed."""
    body = msgpack.packb(check(message), use_bin_type=True)
    if len(body) > MAX_FRAME:
        raise ProtocolError(f"{message.get('t')}: frame of {len(body)} bytes is larger than {MAX_FRAME}")
    return _LENGTH.pack(len(body)) + body


class Decoder:
    """Bytes in, checked messages out (``feed``). After a ``ProtocolError`` from ``feed`` the stream is unusable.

    ``feed_each`` is the forgiving form, for a receiver that answers bad messages instead of hanging up (the media
    worker): a whole frame that is wrong (undecodable, or failing ``check``) comes back in its place as the
    ``ProtocolError`` saying why, and the frames after it are read as usual. Only a length over ``MAX_FRAME``
    still raises: the frame boundaries are lost, nothing after it can be read."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        out = []
        for item in self.feed_each(data):
            if isinstance(item, ProtocolError):
                raise item
            out.append(item)
        return out

    def feed_each(self, data: bytes) -> list[dict[str, Any] | ProtocolError]:
        self._buffer += data
        out: list[dict[str, Any] | ProtocolError] = []
        while len(self._buffer) >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(self._buffer)
            if length > MAX_FRAME:
                raise ProtocolError(f"frame of {length} bytes is larger than {MAX_FRAME}")
            if len(self._buffer) < _LENGTH.size + length:
                break
            body = bytes(self._buffer[_LENGTH.size:_LENGTH.size + length])
            del self._buffer[:_LENGTH.size + length]
            try:
                message = msgpack.unpackb(body, raw=False, strict_map_key=True)
            except Exception as exc:  # msgpack raises ValueError, TypeError (unhashable keys), its own errors
                out.append(ProtocolError(f"undecodable frame: {exc}"))
                continue
            try:
                out.append(check(message))
            except ProtocolError as exc:
                out.append(exc)
        return out

    @property
    def pending(self) -> int:
        """Bytes received that do not make a whole frame yet."""
        return len(self._buffer)
