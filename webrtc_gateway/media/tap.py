"""The receive tap: a leg's RTP packets, encoded, before aiortc's jitter buffer and decoder.

aiortc's ``RTCDtlsTransport`` hands each decrypted RTP packet to ``receiver._handle_rtp_packet(packet,
arrival_time_ms)``. ``ReceiveTap.install(receiver)`` replaces that method *on the one receiver instance* (an instance
attribute shadows the class's method; no subclass is needed because aiortc builds its receivers itself) with
``ReceiveTap.handle``, which:

- keeps the receiver's RTCP statistics as aiortc does (the same ``StreamStatistics`` objects in the receiver's
  table, so its receiver reports, and ``getStats``, stay right);
- hands telephone-event packets to ``on_event(payload, timestamp)`` and audio packets of a known payload type to
  ``on_audio(payload, timestamp, codec)``;
- never feeds aiortc's jitter buffer nor its decoder thread, so aiortc never builds a decoder for the leg: the
  gateway decodes (``webrtc_gateway.media.audio``) only where something needs to hear the audio.

It counts packets and stamps the arrival of the last one (``last_packet``, ``loop.time()``) for the media watchdog.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiortc.rtcrtpreceiver import RTCRtpReceiver, StreamStatistics
from aiortc.rtp import RtpPacket

from webrtc_gateway.media.audio import CODECS, Codec

AudioSink = Callable[[bytes, int, Codec], None]
EventSink = Callable[[bytes, int, int], None]


class ReceiveTap:
    """Takes one receiver's RTP packets (``install``) and routes them to ``on_audio`` / ``on_event``."""

    def __init__(self, on_audio: AudioSink, on_event: EventSink) -> None:
        self.on_audio = on_audio
        self.on_event = on_event
        self.packets = 0
        self.last_packet: float | None = None
        self._codecs: dict[int, Any] = {}
        self._streams: dict[int, StreamStatistics] = {}
        self._kinds: dict[int, Codec | int | None] = {}
        self._time = asyncio.get_event_loop().time

    def install(self, receiver: RTCRtpReceiver) -> None:
        """Route ``receiver``'s packets here from now on."""
        self._codecs = receiver._RTCRtpReceiver__codecs  # type: ignore[attr-defined]
        self._streams = receiver._RTCRtpReceiver__remote_streams  # type: ignore[attr-defined]
        receiver._handle_rtp_packet = self.handle  # type: ignore[method-assign]

    def stream(self) -> StreamStatistics | None:
        """The statistics of the (last) stream received, if any."""
        return next(reversed(self._streams.values()), None)

    async def handle(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        self.packets += 1
        self.last_packet = self._time()
        pt = packet.payload_type
        kind = self._kinds.get(pt, False)
        if kind is False:
            kind = self._kinds[pt] = self._kind(pt)
        if kind is None:
            return
        stream = self._streams.get(packet.ssrc)
        if stream is None:
            clock = kind.clock_rate if isinstance(kind, Codec) else kind
            stream = self._streams[packet.ssrc] = StreamStatistics(clock)
        stream.add(packet)
        if isinstance(kind, Codec):
            self.on_audio(packet.payload, packet.timestamp, kind)
        else:
            self.on_event(packet.payload, packet.timestamp, kind)

    def _kind(self, payload_type: int) -> Codec | int | None:
        """The audio codec of a payload type, the clock rate of a telephone-event one, or None (ignored)."""
        codec = self._codecs.get(payload_type)
        if codec is None:
            return None
        name = codec.name.lower()
        if name == "telephone-event":
            return int(codec.clockRate)
        return CODECS.get(name)
