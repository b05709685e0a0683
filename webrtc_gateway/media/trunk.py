"""The trunk: encoded audio between media workers, for bridges whose legs live in different workers.

A bridge runs in one worker, its *home* (the worker of its leg ``a``). A member that lives in another worker is
*exported* there (``leg.export``: its received packets are sent to the home, and packets from the home are sent
into it) and represented at the home by a ``RemoteParty``. The bridge treats a remote party like a local leg: it
forwards to it, mixes for it, decodes it for a recording; only the last hop crosses processes. DTMF, media loss and
plays stay with the leg's own worker.

Each worker has one UDP socket on 127.0.0.1 (``Trunk``, its port in the ``hello`` answer). A datagram carries one
RTP payload::

    kind (1 byte: 1 = said by an exported leg, for the home; 2 = for an exported leg to send)
    source (1 byte: which of the home's sources made a kind-2 packet, so the leg's timeline starts anew when it
            changes, e.g. from another leg's forwarded packets to a mix)
    codec (1 byte: 0 Opus, 1 PCMU)   timestamp (4 bytes, big-endian: the packet's RTP timestamp in its source)
    leg id length (1 byte), leg id (UTF-8), payload

Only datagrams from the port registered for that leg are taken (another local process cannot speak into a call
without first taking a worker's port); anything malformed is counted and dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Hashable
from typing import Any

from webrtc_gateway.media.audio import OPUS, PCMU, Codec
from webrtc_gateway.media.party import Party

log = logging.getLogger(__name__)

SAID = 1
TO_SEND = 2
_HEADER = struct.Struct(">BBBIB")
_CODECS = (OPUS, PCMU)
_INDEX = {OPUS: 0, PCMU: 1}
HOST = "127.0.0.1"


class Export:
    """A leg of this worker bridged at another worker (``port``). Its ``bridge`` marker while exported."""

    def __init__(self, trunk: Trunk, leg: Party, port: int) -> None:
        self.id = f"export:{port}"
        self.trunk = trunk
        self.leg = leg
        self.port = port
        self.sink = _HomeSink(trunk, port, leg.id)

    def receive(self, payload: bytes, timestamp: int, source: int, codec: Codec) -> None:
        self.leg.hear(payload, timestamp, ("trunk", self.port, source), codec)


class _HomeSink(Party):
    """Where an exported leg's received packets go: to its home worker."""

    def __init__(self, trunk: Trunk, port: int, leg_id: str) -> None:
        super().__init__(f"home:{port}", "home")
        self._trunk = trunk
        self._port = port
        self._leg_id = leg_id.encode()

    def hear(self, payload: bytes, timestamp: int, source: Hashable, codec: Codec) -> None:
        self._trunk.send(self._port, SAID, 0, codec, timestamp, self._leg_id, payload)


class RemoteParty(Party):
    """A leg of another worker (``port``), as a member of a bridge here."""

    def __init__(self, trunk: Trunk, party_id: str, role: str, codec: Codec, port: int) -> None:
        super().__init__(party_id, role, codec)
        self.port = port
        self._trunk = trunk
        self._encoded_id = party_id.encode()
        self._sources: dict[Hashable, int] = {}

    def hear(self, payload: bytes, timestamp: int, source: Hashable, codec: Codec) -> None:
        if codec is not self.codec:
            return
        number = self._sources.get(source)
        if number is None:
            number = self._sources[source] = len(self._sources) % 256
            if len(self._sources) > 64:
                self._sources = {source: number}
        self._trunk.send(self.port, TO_SEND, number, codec, timestamp, self._encoded_id, payload)


class Trunk:
    """This worker's trunk socket: ``exports`` (legs bridged elsewhere) and ``remotes`` (legs of others bridged
    here), by leg id. The socket is read until empty at each wake-up (all of a worker's cross-worker packets share
    it, so reading one datagram per event-loop turn, as asyncio's datagram transports do, would queue them)."""

    def __init__(self) -> None:
        self.exports: dict[str, Export] = {}
        self.remotes: dict[str, RemoteParty] = {}
        self.port = 0
        self.dropped = 0
        self._sock: socket.socket | None = None

    async def open(self) -> int:
        """Bind to a free port on 127.0.0.1; the port."""
        sock = self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((HOST, 0))
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        asyncio.get_event_loop().add_reader(sock.fileno(), self._read)
        self.port = sock.getsockname()[1]
        return self.port

    def close(self) -> None:
        if self._sock is not None:
            asyncio.get_event_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None

    def _read(self) -> None:
        sock = self._sock
        if sock is None:
            return
        for _ in range(1024):
            try:
                data, addr = sock.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. ICMP port unreachable from a home that went away
                log.debug("trunk: %s", exc)
                continue
            self.datagram_received(data, addr)

    def send(self, port: int, kind: int, source: int, codec: Codec, timestamp: int, leg_id: bytes,
             payload: bytes) -> None:
        if self._sock is not None:
            try:
                self._sock.sendto(_HEADER.pack(kind, source, _INDEX[codec], timestamp, len(leg_id)) + leg_id
                                  + payload, (HOST, port))
            except OSError:  # a full buffer or a home that went away: the packet is lost, as on a network
                self.dropped += 1

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            kind, source, codec_index, timestamp, id_length = _HEADER.unpack_from(data)
            start = _HEADER.size + id_length
            leg_id = data[_HEADER.size:start].decode()
            codec = _CODECS[codec_index]
        except (struct.error, UnicodeDecodeError, IndexError):
            self.dropped += 1
            return
        if kind == SAID:
            remote = self.remotes.get(leg_id)
            if remote is not None and addr[1] == remote.port:
                remote.deliver(data[start:], timestamp, codec)
                return
        elif kind == TO_SEND:
            export = self.exports.get(leg_id)
            if export is not None and addr[1] == export.port:
                export.receive(data[start:], timestamp, source, codec)
                return
        self.dropped += 1
