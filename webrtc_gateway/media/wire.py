"""A connected leg's RTP on the wire, past aiortc's per-packet machinery (``RtpWire``).

aiortc moves every RTP packet through two asyncio tasks and several objects: received, aioice queues the
datagram for the DTLS transport's task, which decrypts it, parses an ``RtpPacket`` and awaits the receiver; sent,
the sender's task pulls a frame from its track, builds an ``RtpPacket`` (with datetime arithmetic for its clocks),
serialises it and awaits three layers of ``send``. For a gateway that only forwards packets, that is most of its
CPU (``webrtc_gateway/README.md``). Once a leg is connected (ICE pair nominated, DTLS done, SRTP keys known), the
wire takes both directions over:

- receiving: the nominated pair's ``datagram_received`` (an attribute of that one ``StunProtocol`` instance,
  shadowing its method) hands RTP straight to the leg's ``ReceiveTap.handle_raw`` after SRTP decryption, in the
  event loop's socket callback: no queue, no task switch, no parse into objects. Everything else (STUN consent
  checks, DTLS, RTCP) goes on to aioice and aiortc as before, so RTCP reports, consent freshness and closing work
  unchanged.
- sending: ``send(payload, timestamp, marker)`` packs the 12-byte header (plus the MID header extension when it was
  negotiated), encrypts it with the SRTP session aiortc set up and writes it to the pair's socket, synchronously.
  The ``RTCRtpSender``'s counters are kept, so its RTCP sender reports stay true; its own task waits on a track
  that never yields (``IdleTrack``).
- queueing: the socket's receive buffer is made small (``RECEIVE_BUFFER``): media late by more than a few hundred
  milliseconds is worth less than none, so an overloaded worker drops rather than queues.

``RtpWire.attach`` returns None while the leg is not ready; ``detach`` gives the socket back to aioice.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

import pylibsrtp
from aiortc import RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack

_HEADER = struct.Struct("!BBHII")
RECEIVE_BUFFER = 8192
"""SO_RCVBUF of a connected leg's socket (the kernel doubles it): a worker that falls behind loses packets after
a few hundred milliseconds of them instead of delivering every later packet that much late."""
_NTP_EPOCH = 2208988800
MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"


class IdleTrack(MediaStreamTrack):
    """A track that never yields: the ``RTCRtpSender`` given it sends nothing and does not poll."""

    kind = "audio"

    async def recv(self) -> Any:
        await asyncio.get_event_loop().create_future()


class RtpWire:
    """Both directions of one connected leg's RTP (see the module's docstring)."""

    def __init__(self, protocol: Any, remote: tuple[str, int], tx: pylibsrtp.Session, rx: pylibsrtp.Session,
                 sender: Any, payload_type: int, extension: bytes, on_rtp: Callable[[bytes], None]) -> None:
        self._protocol = protocol
        self._remote = remote
        self._protect = tx.protect
        self._unprotect = rx.unprotect
        self._sender = sender
        self._ssrc = sender._ssrc
        self._payload_type = payload_type
        self._first = 0x90 if extension else 0x80
        self._extension = extension
        self._on_rtp = on_rtp
        self._sequence = random.randrange(1 << 15)
        self._origin = random.randrange(1 << 32)
        self._transport = protocol.transport
        self._sock = protocol.transport._sock  # the raw socket: sendto without asyncio's buffering layer
        self._original = protocol.datagram_received
        with contextlib.suppress(OSError):
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        self.sent = 0
        self.octets = 0
        self.send_errors = 0
        protocol.datagram_received = self._datagram_received

    @classmethod
    def attach(cls, pc: RTCPeerConnection, on_rtp: Callable[[bytes], None]) -> RtpWire | None:
        """The wire of ``pc``'s first transceiver, if it is connected with SRTP keys; None otherwise."""
        transceiver = pc.getTransceivers()[0]
        dtls = transceiver.sender.transport
        if dtls is None or dtls._tx_srtp is None or dtls._rx_srtp is None or not transceiver._codecs:
            return None
        pair = dtls.transport._connection._nominated.get(1)
        if pair is None or pair.protocol.transport is None:
            return None
        mid = transceiver.mid
        extension = b""
        for ext in transceiver._headerExtensions:
            if ext.uri == MID_URI and mid and 0 < ext.id < 15 and len(mid) <= 16:
                element = bytes([(ext.id << 4) | (len(mid) - 1)]) + mid.encode()
                element += b"\x00" * (-len(element) % 4)
                extension = struct.pack("!HH", 0xBEDE, len(element) // 4) + element
        return cls(pair.protocol, pair.remote_addr, dtls._tx_srtp, dtls._rx_srtp, transceiver.sender,
                   transceiver._codecs[0].payloadType or 0, extension, on_rtp)

    def detach(self) -> None:
        """Give the socket back to aioice (RTP goes through aiortc again; ``send`` is not to be called)."""
        if self._protocol.__dict__.get("datagram_received") == self._datagram_received:
            del self._protocol.datagram_received

    def _datagram_received(self, data: bytes, addr: Any) -> None:
        if len(data) > 12 and 128 <= data[0] < 192 and not 192 <= data[1] <= 223:
            try:
                rtp = self._unprotect(data)
            except pylibsrtp.Error:
                return
            self._on_rtp(rtp)
            return
        self._original(data, addr)

    def send(self, payload: bytes, timestamp: int, marker: bool = False) -> None:
        """One RTP packet of the negotiated codec; ``timestamp`` in the leg's timeline (the wire adds its origin)."""
        if self._transport.is_closing():
            return
        rtp_ts = (self._origin + timestamp) & 0xFFFFFFFF
        header = _HEADER.pack(self._first, self._payload_type | (0x80 if marker else 0), self._sequence, rtp_ts,
                              self._ssrc)
        self._sequence = (self._sequence + 1) & 0xFFFF
        try:
            self._sock.sendto(self._protect(header + self._extension + payload), self._remote)
        except OSError:  # a full send buffer (the packet is lost, as on a network) or a closing socket
            self.send_errors += 1
            return
        self.sent += 1
        self.octets += len(payload)
        sender = self._sender  # what aiortc's RTCP sender reports say
        sender._RTCRtpSender__packet_count = self.sent
        sender._RTCRtpSender__octet_count = self.octets
        sender._RTCRtpSender__rtp_timestamp = rtp_ts
        sender._RTCRtpSender__ntp_timestamp = int((time.time() + _NTP_EPOCH) * (1 << 32))
