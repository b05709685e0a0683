"""What a leg sends: ``LegOutput``, the one track its ``RTCRtpSender`` ever pulls from.

The sender takes pre-encoded ``av.Packet`` objects from its track (aiortc's ``Encoder.pack`` path): it numbers and
encrypts them and never encodes. Every source of sound for a leg goes through ``push(payload, timestamp, source)``:
a bridge forwarding another leg's packets as they came (passthrough), a mixer's or a player's packets encoded by the
gateway. ``source`` names where a packet comes from; ``timestamp`` is in that source's own RTP timeline (clock of
the leg's codec).

The output keeps one continuous RTP timeline for the leg (``pts``): packets of one source keep their spacing (a
late or reordered packet keeps its place); when the source changes, the new one starts where the wall clock says,
at least one packet after the last one sent, so the far end's jitter buffer sees a pause, never a jump back.

At most ``MAX_QUEUED`` packets wait (the sender takes them as they come, so this only fills if the loop stalls);
beyond that the oldest is dropped: a late packet is worse than a lost one.
"""

from __future__ import annotations

import asyncio
import fractions
from collections import deque
from collections.abc import Hashable

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from webrtc_gateway.media.audio import Codec

MAX_QUEUED = 10
_HALF = 1 << 31
_WRAP = 1 << 32


class LegOutput(MediaStreamTrack):
    """The leg's outgoing audio, already encoded for ``codec``."""

    kind = "audio"

    def __init__(self, codec: Codec) -> None:
        super().__init__()
        self.codec = codec
        self.packets = 0
        self.dropped = 0
        self._time_base = fractions.Fraction(1, codec.clock_rate)
        self._queue: deque[av.Packet] = deque()
        self._wakeup: asyncio.Future[None] | None = None
        self._loop = asyncio.get_event_loop()
        self._source: Hashable | None = None
        self._source_ts = 0
        self._pts = 0
        self._high = 0
        self._sent_at: float | None = None

    def push(self, payload: bytes, timestamp: int, source: Hashable) -> None:
        """Queue one encoded packet (of ``codec``) to be sent now."""
        if self.readyState != "live":
            return
        now = self._loop.time()
        if source == self._source:
            step = (timestamp - self._source_ts) % _WRAP
            if step >= _HALF:
                step -= _WRAP  # an older packet, arriving late: keep its place
            if abs(step) > 10 * self.codec.clock_rate:  # the source jumped: treat it as a new one
                pts = self._next(now)
            else:
                pts = max(0, self._pts + step)
        else:
            pts = self._next(now)
            self._source = source
        self._source_ts = timestamp
        self._pts = pts
        self._high = max(self._high, pts)
        self._sent_at = now
        packet = av.Packet(payload)
        packet.pts = self._pts
        packet.time_base = self._time_base
        if len(self._queue) >= MAX_QUEUED:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(packet)
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    def _next(self, now: float) -> int:
        """Where a new source starts: after the latest packet sent, by the time since (at least one packet)."""
        if self._sent_at is None:
            return 0
        return self._high + max(self.codec.ticks, round((now - self._sent_at) * self.codec.clock_rate))

    async def recv(self) -> av.Packet:
        while not self._queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._wakeup = self._loop.create_future()
            await self._wakeup
        self.packets += 1
        return self._queue.popleft()

    def stop(self) -> None:
        super().stop()
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)
