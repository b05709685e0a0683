"""``Party``: what a bridge connects. A ``Leg`` of this worker, or a ``RemoteParty`` (a leg of another worker whose
audio comes and goes through the trunk, ``webrtc_gateway.media.trunk``).

A party's incoming audio (``deliver``) goes, as it comes:

- encoded, to the parties in ``forward_to`` (a bridge's passthrough: nothing is decoded);
- decoded, only if something must hear it (``pcm_sinks``: a bridge's mixer or recorder; subclasses may add their
  own listeners through ``wants_pcm``/``heard_pcm``). The decoder is built the first time, never otherwise.

A party's outgoing audio is ``hear(payload, timestamp, source, codec)``: encoded for its codec (a forwarded packet
or a bridge's mix, encoded with ``encoder()``). ``bridge`` is the bridge the party is in (at most one).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from typing import Any

from webrtc_gateway.media import audio
from webrtc_gateway.media.audio import Codec

log = logging.getLogger(__name__)
PcmSink = Callable[[audio.Pcm], None]


class Party:
    """A bridge member's media plumbing (see the module's docstring)."""

    def __init__(self, party_id: str, role: str, codec: Codec | None = None) -> None:
        self.id = party_id
        self.role = role
        self.codec = codec
        self.forward_to: list[Party] = []
        self.pcm_sinks: list[PcmSink] = []
        self.bridge: Any = None
        self._decoders: dict[Codec, audio.Decoder] = {}
        self._encoder: audio.Encoder | None = None
        self._errors = 0

    def deliver(self, payload: bytes, timestamp: int, codec: Codec) -> None:
        """One packet this party said: forwarded, and decoded if anything listens. Never raises (a failure is
        logged, the first three times)."""
        try:
            for party in self.forward_to:
                party.hear(payload, timestamp, self.id, codec)
            if self.pcm_sinks or self.wants_pcm():
                decoder = self._decoders.get(codec)
                if decoder is None:
                    decoder = self._decoders[codec] = audio.decoder(codec)
                pcm = decoder.decode(payload)
                for sink in self.pcm_sinks:
                    sink(pcm)
                self.heard_pcm(pcm)
        except Exception:
            self._errors += 1
            if self._errors <= 3:
                log.exception("%s: an audio packet failed", self.id)

    def wants_pcm(self) -> bool:
        """Whether the party itself needs its audio decoded (besides ``pcm_sinks``)."""
        return False

    def heard_pcm(self, pcm: audio.Pcm) -> None:
        """The party's own use of its decoded audio."""

    def hear(self, payload: bytes, timestamp: int, source: Hashable, codec: Codec) -> None:
        """Send this party a packet of ``codec`` (from ``source``: a leg id, or a mix or a play)."""
        raise NotImplementedError

    def encoder(self) -> audio.Encoder:
        """The party's encoder (for mixes), built on first use."""
        if self._encoder is None:
            if self.codec is None:
                raise ValueError(f"{self.id} has no codec yet")
            self._encoder = audio.encoder(self.codec)
        return self._encoder

    def set_codec(self, codec: Codec) -> None:
        if codec is not self.codec:
            self._encoder = None
        self.codec = codec
