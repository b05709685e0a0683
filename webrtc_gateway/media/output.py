"""What a leg sends: ``LegOutput``, one RTP timeline fed by every source of sound for the leg.

Every source goes through ``push(payload, timestamp, source)``: a bridge forwarding another leg's packets as they
came (passthrough), a mixer's or a player's packets encoded by the gateway. ``source`` names where a packet comes
from; ``timestamp`` is in that source's own RTP timeline (clock of the leg's codec). Packets are sent at once, on
the leg's ``RtpWire`` (``webrtc_gateway.media.wire``); without one (the leg is not connected) they are dropped.

The output keeps one continuous timeline for the leg: packets of one source keep their spacing (a late or reordered
packet keeps its place); when the source changes, the new one starts after the latest packet sent, as far on as the
wall clock says (at least one packet), with the marker bit set (a new talkspurt), so the far end's jitter buffer
sees a pause, never a jump back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable

from webrtc_gateway.media.audio import Codec
from webrtc_gateway.media.wire import RtpWire

_HALF = 1 << 31
_WRAP = 1 << 32


class LegOutput:
    """The leg's outgoing audio, already encoded for ``codec``."""

    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        self.wire: RtpWire | None = None
        self.packets = 0
        self.dropped = 0
        self._loop = asyncio.get_event_loop()
        self._source: Hashable | None = None
        self._source_ts = 0
        self._pts = 0
        self._high = 0
        self._sent_at: float | None = None

    def push(self, payload: bytes, timestamp: int, source: Hashable) -> None:
        """Send one encoded packet (of ``codec``) now."""
        wire = self.wire
        if wire is None:
            self.dropped += 1
            return
        now = self._loop.time()
        marker = False
        if source == self._source:
            step = (timestamp - self._source_ts) % _WRAP
            if step >= _HALF:
                step -= _WRAP  # an older packet, arriving late: keep its place
            if abs(step) > 10 * self.codec.clock_rate:  # the source jumped: treat it as a new one
                pts, marker = self._next(now), True
            else:
                pts = max(0, self._pts + step)
        else:
            pts, marker = self._next(now), True
            self._source = source
        self._source_ts = timestamp
        self._pts = pts
        if pts > self._high:
            self._high = pts
        self._sent_at = now
        wire.send(payload, pts, marker)
        self.packets += 1

    def _next(self, now: float) -> int:
        """Where a new source starts: after the latest packet sent, by the time since (at least one packet)."""
        if self._sent_at is None:
            return 0
        return self._high + max(self.codec.ticks, round((now - self._sent_at) * self.codec.clock_rate))
