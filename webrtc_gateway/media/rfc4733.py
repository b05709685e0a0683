"""RFC 4733 telephone-events (DTMF in RTP), received: sans-IO.

A key press is one *event*: a run of RTP packets with the same RTP timestamp (the event's start), each carrying
``event`` (0-9, 10 = ``*``, 11 = ``#``, 12-15 = A-D), the end bit ``E``, a volume and the ``duration`` so far in RTP
clock ticks. The sender repeats the last packet (``E`` set) three times. ``TelephoneEventDecoder.feed`` reports each
event exactly once, at its first packet with ``E`` set; repeats of the end packet, and any packet of an event
already reported, are ignored. If every end packet of an event is lost, the event is reported when the next event
starts (or never, if none does: there is no clock here). Events other than the sixteen keys (flash, tones) and
payloads shorter than 4 bytes are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

KEYS = "0123456789*#ABCD"


@dataclass(frozen=True, slots=True)
class KeyPress:
    digit: str
    duration_ms: float


def parse(payload: bytes) -> tuple[int, bool, int, int] | None:
    """``(event, end, volume, duration)`` of the first block of a telephone-event payload, or None if too short."""
    if len(payload) < 4:
        return None
    return payload[0], bool(payload[1] & 0x80), payload[1] & 0x3F, int.from_bytes(payload[2:4], "big")


def build(event: int, end: bool, duration: int, volume: int = 10) -> bytes:
    """One telephone-event payload (what a sender puts in each packet)."""
    return bytes((event, (0x80 if end else 0) | (volume & 0x3F))) + duration.to_bytes(2, "big")


class TelephoneEventDecoder:
    """Packets in (``feed``), key presses out, once each."""

    def __init__(self, clock_rate: int) -> None:
        self._clock_rate = clock_rate
        self._reported: int | None = None  # RTP timestamp of the last event reported
        self._open: tuple[int, int, int] | None = None  # (timestamp, event, duration) of an event not ended yet

    def feed(self, payload: bytes, timestamp: int) -> list[KeyPress]:
        """The key presses completed by this packet (none, one, or two when an event whose end was lost is
        followed by this one)."""
        fields = parse(payload)
        if fields is None:
            return []
        event, end, _volume, duration = fields
        if timestamp == self._reported:
            return []
        out = []
        if self._open is not None and self._open[0] != timestamp:
            out += self._press(self._open[1], self._open[2])  # its end never came
            self._reported = self._open[0]
            self._open = None
        if end:
            out += self._press(event, duration)
            self._reported = timestamp
            self._open = None
        else:
            self._open = (timestamp, event, duration)
        return out

    def _press(self, event: int, duration: int) -> list[KeyPress]:
        if event >= len(KEYS):
            return []
        return [KeyPress(KEYS[event], round(duration * 1000 / self._clock_rate, 1))]
