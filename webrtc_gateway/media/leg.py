"""One leg: a browser's (or a test peer's) audio connection to the gateway, an aiortc ``RTCPeerConnection``.

A leg is a ``Party`` (``webrtc_gateway.media.party``: forwarding, decoding only for listeners). It receives through
its ``ReceiveTap`` (encoded packets, before aiortc's decoder) and sends through its ``LegOutput`` (pre-encoded
packets). Its own listener of decoded audio is the in-band DTMF detector (``inband``, off unless asked).
Telephone-events (RFC 4733) are always decoded and raise ``dtmf`` events. What a leg sends comes from
``hear(payload, timestamp, source, codec)`` (a bridge: another leg's packets or a mix) unless a ``Player`` holds it:
then the bridge's audio to this leg is paused (dropped) until the play ends.

Offers are checked before aiortc sees them (``check_offer``): parseable, an audio section, DTLS-SRTP
(``UDP/TLS/RTP/SAVPF`` with a fingerprint) and nothing else; the answer offers Opus, PCMU and telephone-event only.
``LegError`` carries the reason a command failed; the leg is left as it was.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc import sdp as aiortc_sdp

from webrtc_gateway.media import aiortc_patch, audio
from webrtc_gateway.media.audio import Codec
from webrtc_gateway.media.inband import InbandDetector
from webrtc_gateway.media.output import LegOutput
from webrtc_gateway.media.party import Party
from webrtc_gateway.media.rfc4733 import TelephoneEventDecoder
from webrtc_gateway.media.tap import ReceiveTap
from webrtc_gateway.media.wire import IdleTrack, RtpWire

if TYPE_CHECKING:
    from webrtc_gateway.media.player import Player

log = logging.getLogger(__name__)

SECURE_PROFILE = "UDP/TLS/RTP/SAVPF"
MAX_CANDIDATES = 50
OFFERED_CODECS = ("opus", "PCMU", "telephone-event")
DEFAULT_MEDIA_TIMEOUT = 5.0
CLOSE_TIMEOUT = 5.0

Emit = Callable[[dict[str, Any]], None]


class LegError(Exception):
    """A command on a leg that cannot be done; the message is the reason given to the controller."""


def check_offer(sdp: str, kind: str = "offer") -> None:
    """``LegError`` unless ``sdp`` parses, has an audio section, every audio section is DTLS-SRTP with ICE
    credentials, and it carries at most ``MAX_CANDIDATES`` ICE candidates (a flood is refused, not tried)."""
    if not sdp.strip():
        raise LegError(f"empty SDP {kind}")
    candidates = sdp.count("a=candidate:")
    if candidates > MAX_CANDIDATES:
        raise LegError(f"SDP {kind} has {candidates} ICE candidates (at most {MAX_CANDIDATES})")
    try:
        description = aiortc_sdp.SessionDescription.parse(sdp)
    except Exception as exc:  # aiortc's parser raises whatever the text provokes
        raise LegError(f"malformed SDP {kind}: {type(exc).__name__}: {exc}") from None
    if not any(m.kind == "audio" for m in description.media):
        raise LegError(f"SDP {kind} has no audio section")
    for media in description.media:
        if media.kind == "audio" and media.profile != SECURE_PROFILE:
            raise LegError(f"SDP {kind}: profile {media.profile} refused (DTLS-SRTP only: {SECURE_PROFILE})")
        if media.kind == "audio" and (media.dtls is None or not media.dtls.fingerprints):
            raise LegError(f"SDP {kind}: no DTLS fingerprint")
        if media.kind == "audio" and (media.ice is None or not media.ice.usernameFragment):
            raise LegError(f"SDP {kind}: no ICE credentials")


def ice_configuration(ice: dict[str, Any]) -> RTCConfiguration:
    """The ``ice`` field of ``leg.offer`` as aiortc's configuration: ``stun`` URLs, ``turn`` servers
    (``{"urls", "username", "credential"}``). None given means none used (never aiortc's default public STUN)."""
    servers = [RTCIceServer(urls=url) for url in ice.get("stun", []) if isinstance(url, str)]
    for turn in ice.get("turn", []):
        if isinstance(turn, dict) and turn.get("urls"):
            servers.append(RTCIceServer(urls=turn["urls"], username=turn.get("username"),
                                        credential=turn.get("credential")))
    return RTCConfiguration(iceServers=servers)


class Leg(Party):
    """A leg and its media state. ``emit`` sends events (``leg.state``, ``dtmf``) to the controller."""

    def __init__(self, leg_id: str, role: str, ice: dict[str, Any], emit: Emit,
                 media_timeout: float = DEFAULT_MEDIA_TIMEOUT) -> None:
        super().__init__(leg_id, role)
        self.ice = ice
        self.media_timeout = media_timeout
        self._emit = emit
        self.pc: RTCPeerConnection | None = None
        self.output: LegOutput | None = None
        self.tap = ReceiveTap(self.deliver, self._on_event)
        self.wire: RtpWire | None = None
        self.state = "new"
        self.connected_at: float | None = None
        self.media_lost = False
        self.closed = False
        self.inband: InbandDetector | None = None
        self.player: Player | None = None
        self.dropped = 0
        self._events: dict[int, TelephoneEventDecoder] = {}

    # -- negotiation -----------------------------------------------------------------------------------------

    def _new_pc(self) -> RTCPeerConnection:
        pc = RTCPeerConnection(ice_configuration(self.ice))
        transceiver = pc.addTransceiver(IdleTrack(), direction="sendrecv")
        transceiver.setCodecPreferences(aiortc_patch.capabilities(OFFERED_CODECS))
        self.tap.install(transceiver.receiver)

        @pc.on("connectionstatechange")
        def _state() -> None:
            if pc is self.pc:
                self._set_state(pc.connectionState)

        return pc

    def _attach_output(self, pc: RTCPeerConnection) -> None:
        transceiver = pc.getTransceivers()[0]
        codecs = [c for c in transceiver._codecs if c.name.lower() in audio.CODECS]
        if not codecs:
            raise LegError("no common audio codec (the gateway speaks Opus and PCMU)")
        codec = audio.codec_named(codecs[0].name)
        self.set_codec(codec)
        if self.output is None or self.output.codec is not codec:
            self.output = LegOutput(codec)
        for other in pc.getTransceivers()[1:]:
            other.direction = "inactive"

    async def accept_offer(self, sdp: str) -> str:
        """Answer a browser's offer (a new leg, or a new connection of this one: ``renegotiate``)."""
        check_offer(sdp)
        pc = self._new_pc()
        try:
            with aiortc_patch.loopback(bool(self.ice.get("loopback"))):
                await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
                self._attach_output(pc)
                await pc.setLocalDescription(await pc.createAnswer())
        except LegError:
            await _close_quietly(pc)
            raise
        except Exception as exc:
            await _close_quietly(pc)
            raise LegError(f"SDP offer refused: {type(exc).__name__}: {exc}") from None
        old, self.pc = self.pc, pc
        if old is not None:
            self._detach_wire()
            self.connected_at = None
            asyncio.ensure_future(_close_quietly(old))
        return pc.localDescription.sdp

    async def create_offer(self) -> str:
        """The gateway's offer (an outbound call); ``accept_answer`` completes it."""
        pc = self._new_pc()
        with aiortc_patch.loopback(bool(self.ice.get("loopback"))):
            await pc.setLocalDescription(await pc.createOffer())
        self.pc = pc
        return pc.localDescription.sdp

    async def accept_answer(self, sdp: str) -> None:
        if self.pc is None or self.pc.signalingState != "have-local-offer":
            raise LegError("no offer of ours is waiting for an answer on this leg")
        check_offer(sdp, "answer")
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
            self._attach_output(self.pc)
        except LegError:
            raise
        except Exception as exc:
            raise LegError(f"SDP answer refused: {type(exc).__name__}: {exc}") from None

    async def close(self) -> None:
        """Close the connection (idempotent); ``leg.state closed`` is emitted once."""
        if self.closed:
            return
        self.closed = True
        if self.player is not None:
            self.player.stop()
        self._detach_wire()
        if self.pc is not None:
            await _close_quietly(self.pc)
        self._set_state("closed")

    def _set_state(self, state: str) -> None:
        if state == self.state or state == "new" or (self.closed and state != "closed"):
            return
        self.state = state
        if state == "connected":
            self.connected_at = asyncio.get_event_loop().time()
            self.media_lost = False
            self._attach_wire()
        else:
            self._detach_wire()
        self._emit({"t": "leg.state", "leg": self.id, "state": state})

    def _attach_wire(self, attempt: int = 0) -> None:
        """Put the connected leg's RTP on its ``RtpWire`` (SRTP keys may come a moment after "connected")."""
        if self.closed or self.state != "connected" or self.pc is None or self.wire is not None:
            return
        self.wire = RtpWire.attach(self.pc, self.tap.handle_raw)
        if self.wire is None:
            if attempt < 100:
                asyncio.get_event_loop().call_later(0.01, self._attach_wire, attempt + 1)
            else:
                log.warning("leg %s: connected but its RTP could not be taken over", self.id)
            return
        if self.output is not None:
            self.output.wire = self.wire

    def _detach_wire(self) -> None:
        if self.output is not None:
            self.output.wire = None
        if self.wire is not None:
            self.wire.detach()
            self.wire = None

    # -- media -----------------------------------------------------------------------------------------------

    def wants_pcm(self) -> bool:
        return self.inband is not None

    def heard_pcm(self, pcm: audio.Pcm) -> None:
        if self.inband is not None:
            for press in self.inband.feed(pcm):
                self._emit({"t": "dtmf", "leg": self.id, "digit": press.digit, "source": "inband",
                            "duration_ms": press.duration_ms})

    def _on_event(self, payload: bytes, timestamp: int, clock_rate: int) -> None:
        decoder = self._events.get(clock_rate)
        if decoder is None:
            decoder = self._events[clock_rate] = TelephoneEventDecoder(clock_rate)
        for press in decoder.feed(payload, timestamp):
            self._emit({"t": "dtmf", "leg": self.id, "digit": press.digit, "source": "rfc4733",
                        "duration_ms": press.duration_ms})

    def hear(self, payload: bytes, timestamp: int, source: Hashable, codec: Codec) -> None:
        """Send a bridge's audio to this leg (``codec`` must be the leg's), unless a play holds the leg."""
        if self.player is not None or self.output is None or codec is not self.codec:
            self.dropped += 1
            return
        self.output.push(payload, timestamp, source)

    def set_inband(self, enabled: bool) -> None:
        self.inband = InbandDetector() if enabled else None

    def stats(self) -> dict[str, Any]:
        stream = self.tap.stream()
        jitter_ms = 0.0
        lost = 0
        if stream is not None and stream.max_seq is not None:
            lost = stream.packets_lost
            jitter_ms = round(stream.jitter * 1000 / (self.codec.clock_rate if self.codec else 48000), 2)
        return {"packets_in": self.tap.packets, "packets_out": self.output.packets if self.output else 0,
                "lost": lost, "jitter_ms": jitter_ms, "state": self.state,
                "codec": self.codec.name if self.codec else None}


async def _close_quietly(pc: RTCPeerConnection) -> None:
    try:
        await asyncio.wait_for(pc.close(), CLOSE_TIMEOUT)
    except Exception:
        log.warning("a peer connection did not close cleanly", exc_info=True)
