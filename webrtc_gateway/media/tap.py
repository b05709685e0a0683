"""The receive tap: a leg's RTP packets, encoded, before aiortc's jitter buffer and decoder.

Packets come two ways. Once the leg is connected, its ``RtpWire`` (``webrtc_gateway.media.wire``) hands each
decrypted packet's bytes to ``handle_raw``. Before that (and for a packet on another ICE pair than the nominated
one) aiortc's ``RTCDtlsTransport`` hands it, parsed, to ``receiver._handle_rtp_packet(packet, arrival_time_ms)``:
``ReceiveTap.install(receiver)`` replaces that method *on the one receiver instance* (an instance attribute shadows
the class's method; no subclass is needed because aiortc builds its receivers itself) with ``handle``. Either way
the tap:

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
import struct
from collections.abc import Callable
from typing import Any

from aiortc.rtcrtpreceiver import RTCRtpReceiver, StreamStatistics
from aiortc.rtp import RtpPacket

from webrtc_gateway.media.audio import CODECS, Codec

_HEADER = struct.Struct("!BBHII")
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
        self._seen = _Seen()

    def install(self, receiver: RTCRtpReceiver) -> None:
        """Route ``receiver``'s packets here from now on."""
        self._codecs = receiver._RTCRtpReceiver__codecs  # type: ignore[attr-defined]
        self._streams = receiver._RTCRtpReceiver__remote_streams  # type: ignore[attr-defined]
        receiver._handle_rtp_packet = self.handle  # type: ignore[method-assign]

    def stream(self) -> StreamStatistics | None:
        """The statistics of the (last) stream received, if any."""
        return next(reversed(self._streams.values()), None)

    async def handle(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        """aiortc's way in (a parsed packet)."""
        self._take(packet.payload_type, packet.sequence_number, packet.timestamp, packet.ssrc, packet.payload)

    def handle_raw(self, rtp: bytes) -> None:
        """The wire's way in (a decrypted packet's bytes)."""
        if len(rtp) < 12:
            return
        first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(rtp)
        start = 12 + 4 * (first & 0x0F)
        if first & 0x10:  # a header extension
            if len(rtp) < start + 4:
                return
            start += 4 + 4 * int.from_bytes(rtp[start + 2:start + 4], "big")
        end = len(rtp) - (rtp[-1] if first & 0x20 else 0)  # padding
        if start > end:
            return
        self._take(second & 0x7F, sequence, timestamp, ssrc, rtp[start:end])

    def _take(self, pt: int, sequence: int, timestamp: int, ssrc: int, payload: bytes) -> None:
        self.packets += 1
        self.last_packet = self._time()
        kind = self._kinds.get(pt, False)
        if kind is False:
            kind = self._kinds[pt] = self._kind(pt)
        if kind is None:
            return
        stream = self._streams.get(ssrc)
        if stream is None:
            clock = kind.clock_rate if isinstance(kind, Codec) else kind
            stream = self._streams[ssrc] = StreamStatistics(clock)
        self._seen.sequence_number = sequence
        self._seen.timestamp = timestamp
        stream.add(self._seen)  # type: ignore[arg-type]
        if isinstance(kind, Codec):
            self.on_audio(payload, timestamp, kind)
        else:
            self.on_event(payload, timestamp, kind)

    def _kind(self, payload_type: int) -> Codec | int | None:
        """The audio codec of a payload type, the clock rate of a telephone-event one, or None (ignored)."""
        codec = self._codecs.get(payload_type)
        if codec is None:
            return None
        name = codec.name.lower()
        if name == "telephone-event":
            return int(codec.clockRate)
        return CODECS.get(name)


class _Seen:
    """What ``StreamStatistics.add`` reads of a packet."""

    __slots__ = ("sequence_number", "timestamp")

    def __init__(self) -> None:
        self.sequence_number = 0
        self.timestamp = 0
