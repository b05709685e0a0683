"""Browser stand-ins for ``switchboard bench gateway``: one process (``python -m benchmarks.gateway_peers``) holding
both ends of some calls, cheap enough not to take the CPU the gateway is measured on.

aiortc sets each peer up (ICE on loopback, DTLS-SRTP), then gets out of the way:

- sending: one task sends every leg's packets, each leg in one of ten 2 ms slots of the 20 ms cycle (legs spread
  over it, as independent browsers are): a 12-byte RTP header packed by hand, encrypted with the leg's SRTP session, written
  to the nominated ICE pair's socket. aiortc's own sender is given a track that never yields (no packets, no
  20 ms polling), and keeps sending its RTCP reports.
- receiving: the nominated pair's datagrams are taken before aioice's queue and aiortc's tasks (the pair's
  ``datagram_received``, shadowed on that instance as the gateway's ``RtpWire`` does): RTP is decrypted and timed
  in place; STUN (consent checks), DTLS and RTCP go on to aioice as usual.

Payloads are real codec frames: ``FRAMES`` distinct 20 ms frames of noise-like sound, encoded once (Opus 32 kbit/s
or PCMU), sent in turn. A receiver knows a frame by its bytes (the gateway forwards them untouched), hence which
packet of its peer's stream it is, and when it was sent (both ends of a call are in this process): latency is
arrival time minus send time (``time.monotonic``); jitter is RFC 3550's interarrival jitter on those transit
times; a packet not received is lost.

Control: JSON lines on stdin, one answer line each on stdout:
``{"op": "offer", "call": I}`` -> ``{"caller": SDP, "agent": SDP}``; ``{"op": "accept", "call": I, "caller":
SDP, "agent": SDP}`` -> ``{"ok": true}`` once both are connected; ``{"op": "direct", "call": I}``: the call's two
ends connected to each other, without the gateway (the baseline of ``--direct``); ``{"op": "send", "on": bool}``; ``{"op":
"report"}`` -> counters (``report``); ``{"op": "quit"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import struct
import sys
import time
from collections.abc import Awaitable
from typing import Any

import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from webrtc_gateway.media import aiortc_patch, audio
from webrtc_gateway.media.wire import IdleTrack

FRAMES = 250
RING = 1024
SLOTS = 10
SLOT_S = 0.002
_RTP = struct.Struct("!BBHII")


def encoded_frames(codec: audio.Codec, count: int = FRAMES, seed: int = 3) -> list[bytes]:
    """``count`` distinct frames of speech-like noise (filtered, amplitude-modulated), encoded for ``codec``."""
    rng = np.random.default_rng(seed)
    n = count * audio.FRAME
    t = np.arange(n) / audio.RATE
    noise = np.convolve(rng.normal(0, 1, n), np.ones(8) / 8, mode="same")
    pcm = (9000 * noise * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))).astype(np.int16)
    encoder = audio.encoder(codec)
    frames = [encoder.encode(pcm[i:i + audio.FRAME]) for i in range(0, n, audio.FRAME)]
    assert len(set(frames)) == len(frames), "frames must be distinct to be recognised"
    return frames


class Stream:
    """One direction of a call: what the sending leg sent (times of the last ``RING`` packets) and what the
    receiving leg got."""

    def __init__(self) -> None:
        self.sent = 0
        self.sent_at = [0.0] * RING
        self.received = 0
        self.unknown = 0
        self.latency: list[float] = []
        self.jitter = 0.0
        self._last_transit: float | None = None
        self._base_sent = 0
        self._base_received = 0

    def mark(self) -> None:
        """Start counting afresh (the measurement window begins): counts and latencies from here on."""
        self._base_sent, self._base_received = self.sent, self.received
        self.unknown = 0
        self.latency = []

    def counts(self) -> tuple[int, int]:
        """Packets sent and received since the mark."""
        return self.sent - self._base_sent, self.received - self._base_received

    def arrived(self, index: int, now: float) -> None:
        # the latest packet of the sender that had this frame
        k = self.sent - 1 - ((self.sent - 1 - index) % FRAMES)
        if k < 0 or self.sent - k > RING:
            self.unknown += 1
            return
        transit = now - self.sent_at[k % RING]
        self.received += 1
        self.latency.append(transit)
        if self._last_transit is not None:
            self.jitter += (abs(transit - self._last_transit) - self.jitter) / 16
        self._last_transit = transit


class LoopbackPeer:
    """A browser stand-in's negotiation: an aiortc peer connection with one audio transceiver sending ``track``
    in ``codecs`` (in that order of preference), no STUN, its ICE on 127.0.0.1 (``aiortc_patch.loopback``).
    The gateway's tests use it too (``tests/webrtc_gateway/peers.py``)."""

    def __init__(self, track: MediaStreamTrack, codecs: tuple[str, ...]) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.transceiver = self.pc.addTransceiver(track, direction="sendrecv")
        self.transceiver.setCodecPreferences(aiortc_patch.capabilities(codecs))

    async def offer(self) -> str:
        with aiortc_patch.loopback():
            await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def answer(self, offer: str) -> str:
        """Answer an offer (the gateway's, or another peer's)."""
        with aiortc_patch.loopback():
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            await self.pc.setLocalDescription(await self.pc.createAnswer())
        return self.pc.localDescription.sdp

    async def accept(self, answer: str) -> None:
        """Take the answer to ``offer`` and wait until connected."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        await self.connected()

    async def connected(self) -> None:
        while self.pc.connectionState != "connected":
            if self.pc.connectionState in ("failed", "closed"):
                raise ConnectionError(self.pc.connectionState)
            await asyncio.sleep(0.01)


class Leg(LoopbackPeer):
    """One end of a call (``caller`` or ``agent``)."""

    def __init__(self, codec: str, frames: dict[bytes, int], payloads: list[bytes]) -> None:
        super().__init__(IdleTrack(), (codec,))
        self.frames = frames
        self.payloads = payloads
        self.outgoing: Stream = Stream()  # set by the call: my sending stream
        self.incoming: Stream = Stream()  # the peer's sending stream, which I receive
        self._send: Any = None

    async def connected(self) -> None:
        """Wait for the connection, then take its RTP over (see the module's docstring)."""
        await super().connected()
        dtls = self.transceiver.sender.transport
        while dtls._tx_srtp is None or 1 not in dtls.transport._connection._nominated:
            await asyncio.sleep(0.01)
        pair = dtls.transport._connection._nominated[1]
        original = pair.protocol.datagram_received

        def datagram_received(data: bytes, addr: Any) -> None:
            if not self.take(data):
                original(data, addr)

        protocol: Any = pair.protocol  # aioice's StunProtocol: its private transport socket is what we send on
        protocol.datagram_received = datagram_received
        protect, sock, remote = dtls._tx_srtp.protect, protocol.transport._sock, pair.remote_addr
        self._unprotect = dtls._rx_srtp.unprotect
        payload_type = self.transceiver._codecs[0].payloadType
        ssrc = self.transceiver.sender._ssrc
        ticks = audio.codec_named(self.transceiver._codecs[0].name).ticks

        def send(k: int) -> None:
            header = _RTP.pack(0x80, payload_type, k & 0xFFFF, (k * ticks) & 0xFFFFFFFF, ssrc)
            try:
                sock.sendto(protect(header + self.payloads[k % FRAMES]), remote)
            except OSError:
                pass  # a full buffer: lost

        self._send = send

    def send_next(self, now: float) -> None:
        stream = self.outgoing
        stream.sent_at[stream.sent % RING] = now
        self._send(stream.sent)
        stream.sent += 1

    def take(self, data: bytes) -> bool:
        """A datagram of the pair: RTP is decrypted and timed here (True); anything else is aioice's."""
        if len(data) < 12 or not 128 <= data[0] < 192 or 192 <= data[1] <= 223:
            return False
        now = time.monotonic()
        try:
            rtp = self._unprotect(data)
        except Exception:
            return True
        start = 12 + 4 * (rtp[0] & 0x0F)
        if rtp[0] & 0x10:  # header extension
            start += 4 + 4 * int.from_bytes(rtp[start + 2:start + 4], "big")
        index = self.frames.get(rtp[start:])
        if index is None:
            self.incoming.unknown += 1
        else:
            self.incoming.arrived(index, now)
        return True


class Peers:
    """The calls of this process and their sending loop."""

    def __init__(self, codec: str, caller_codec: str | None = None) -> None:
        aiortc_patch.install()
        self.codecs = (caller_codec or codec, codec)
        self.payloads = {name: encoded_frames(audio.codec_named(name)) for name in set(self.codecs)}
        self.frames = {name: {frame: i for i, frame in enumerate(p)} for name, p in self.payloads.items()}
        self.calls: dict[int, tuple[Leg, Leg]] = {}
        self.sending = False
        self._legs: list[Leg] = []
        self._slots: list[list[Leg]] = [[] for _ in range(SLOTS)]

    def _call(self, call: int) -> tuple[Leg, Leg]:
        # a leg recognises what it receives by the frames of the other leg's codec (a bridge between two codecs
        # transcodes: then nothing is recognised, and packets are only counted)
        caller_codec, agent_codec = self.codecs
        caller = Leg(caller_codec, self.frames[agent_codec], self.payloads[caller_codec])
        agent = Leg(agent_codec, self.frames[caller_codec], self.payloads[agent_codec])
        caller_to_agent, agent_to_caller = Stream(), Stream()
        caller.outgoing, agent.incoming = caller_to_agent, caller_to_agent
        agent.outgoing, caller.incoming = agent_to_caller, agent_to_caller
        self.calls[call] = (caller, agent)
        return caller, agent

    async def offer(self, call: int) -> dict[str, Any]:
        caller, agent = self._call(call)
        return {"caller": await caller.offer(), "agent": await agent.offer()}

    async def accept(self, call: int, caller_sdp: str, agent_sdp: str) -> dict[str, Any]:
        caller, agent = self.calls[call]
        await asyncio.gather(caller.accept(caller_sdp), agent.accept(agent_sdp))
        self._sending(caller, agent)
        return {"ok": True}

    async def direct(self, call: int) -> dict[str, Any]:
        """A call without the gateway: the agent's end answers the caller's offer (the baseline)."""
        caller, agent = self._call(call)
        answer = await agent.answer(await caller.offer())
        await asyncio.gather(caller.accept(answer), agent.connected())
        self._sending(caller, agent)
        return {"ok": True}

    def _sending(self, caller: Leg, agent: Leg) -> None:
        for leg in (caller, agent):
            self._slots[len(self._legs) % SLOTS].append(leg)  # spread over the 20 ms cycle
            self._legs.append(leg)

    async def send_loop(self) -> None:
        """Every leg sends a packet each 20 ms, in its slot of the cycle (ten slots of 2 ms)."""
        next_slot: float | None = None
        index = 0
        while True:
            if not self.sending:
                next_slot = None
                await asyncio.sleep(0.005)
                continue
            now = time.monotonic()
            if next_slot is None:
                next_slot, index = now, 0
            while next_slot <= now:
                for leg in self._slots[index % SLOTS]:
                    leg.send_next(now)
                index += 1
                next_slot += SLOT_S
                if now - next_slot > 0.1:  # far behind (the machine is overloaded): skip, do not burst
                    next_slot = now
            await asyncio.sleep(max(0.0, next_slot - time.monotonic()))

    def streams(self) -> list[Stream]:
        return [s for caller, agent in self.calls.values() for s in (caller.outgoing, agent.outgoing)]

    def report(self) -> dict[str, Any]:
        streams = self.streams()
        counts = [s.counts() for s in streams]
        latency = np.array([x for s in streams for x in s.latency])
        if len(latency) > 100_000:
            latency = np.random.default_rng(1).choice(latency, 100_000)
        return {
            "sent": sum(c[0] for c in counts),
            "received": sum(min(c[0], c[1] + s.unknown) for c, s in zip(counts, streams, strict=True)),
            "unknown": sum(s.unknown for s in streams),
            "jitter_ms": [round(s.jitter * 1000, 3) for s in streams],
            "latency_ms_per_leg": [round(float(np.mean(s.latency)) * 1000, 3) if s.latency else None
                                   for s in streams],
            "latency_ms": (latency * 1000).round(3).tolist(),
            "cpu_s": round(time.process_time(), 3), "pid": os.getpid(),
        }

    def mark(self) -> None:
        for stream in self.streams():
            stream.mark()


async def main(codec: str, caller_codec: str | None) -> None:
    peers = Peers(codec, caller_codec)
    loop = asyncio.get_event_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    sender = asyncio.ensure_future(peers.send_loop())

    def answer(message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    async def handle(command: dict[str, Any]) -> None:
        op = command["op"]
        try:
            work: Awaitable[dict[str, Any]] | dict[str, Any]
            if op == "offer":
                work = peers.offer(command["call"])
            elif op == "direct":
                work = peers.direct(command["call"])
            elif op == "accept":
                work = peers.accept(command["call"], command["caller"], command["agent"])
            elif op == "send":
                peers.sending = bool(command["on"])
                work = {"ok": True}
            elif op == "mark":
                peers.mark()
                work = {"ok": True, "cpu_s": round(time.process_time(), 3)}
            elif op == "report":
                work = peers.report()
            else:
                work = {"error": f"unknown op {op}"}
            result = await work if not isinstance(work, dict) else work
        except Exception as exc:
            result = {"error": f"{type(exc).__name__}: {exc}"}
        answer({"id": command.get("id"), **result})

    while True:
        line = await reader.readline()
        if not line:
            break
        command = json.loads(line)
        if command["op"] == "quit":
            break
        asyncio.ensure_future(handle(command))
    sender.cancel()
    await asyncio.gather(*(leg.pc.close() for pair in peers.calls.values() for leg in pair),
                         return_exceptions=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codec", default="opus", choices=("opus", "PCMU"), help="the agents' (and callers')")
    parser.add_argument("--caller-codec", choices=("opus", "PCMU"), help="the callers', if not --codec")
    options = parser.parse_args()
    asyncio.run(main(options.codec, options.caller_codec))
