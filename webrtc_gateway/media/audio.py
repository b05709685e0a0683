"""Audio codecs as the media plane uses them: encoded payloads <-> 16 kHz mono 16-bit PCM in 20 ms frames.

Everything that hears or makes sound in the gateway (recording, supervision mixes, in-band DTMF, prompts and hold
music) works on ``RATE`` (16 kHz) mono int16 numpy arrays of ``FRAME`` (320) samples. Legs speak Opus (RTP clock
48 kHz, 960 ticks a packet) or PCMU (8 kHz, 160): ``decoder(codec)`` and ``encoder(codec)`` convert. Building
either is counted (``BUILT``), so tests and ``stats`` can show that a passthrough bridge never decodes.

Opus: libopus through PyAV (its decoder always gives 48 kHz: decimated by 3 after a low-pass FIR here; the
encoder takes 16 kHz directly, VoIP mode, 32 kbit/s, complexity 5: half the cost of the default 10 for speech that
sounds the same). PCMU: ``g711`` tables, upsampled by 2 with linear interpolation and decimated by 2 after the FIR.
"""

from __future__ import annotations

import fractions
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

import av
import numpy as np
import numpy.typing as npt

from webrtc_gateway.media import g711

RATE = 16000
FRAME = 320
Pcm = npt.NDArray[np.int16]

BUILT: Counter[str] = Counter()
"""How many decoders (``"decoder"``) and encoders (``"encoder"``) this process has built."""


@dataclass(frozen=True, slots=True)
class Codec:
    """An RTP audio codec: its name as in SDP, its RTP clock rate, and RTP ticks in a 20 ms packet."""

    name: str
    clock_rate: int
    ticks: int


OPUS = Codec("opus", 48000, 960)
PCMU = Codec("PCMU", 8000, 160)
CODECS = {"opus": OPUS, "pcmu": PCMU}


def codec_named(name: str) -> Codec:
    """The codec for an SDP name (any case); ``KeyError`` if the gateway does not speak it."""
    return CODECS[name.lower()]


class Decoder(Protocol):
    def decode(self, payload: bytes) -> Pcm:
        """One RTP payload -> its samples at ``RATE`` (empty if the payload held none)."""


class Encoder(Protocol):
    def encode(self, pcm: Pcm) -> bytes:
        """``FRAME`` samples at ``RATE`` -> one RTP payload of 20 ms."""


# A 31-tap windowed-sinc low-pass at 7 kHz for 48 kHz (decimating to 16 kHz) and one at 3.6 kHz for 16 kHz
# (decimating to 8 kHz), normalised to unit gain.
def _lowpass(cutoff: float, rate: int, taps: int = 31) -> npt.NDArray[np.float32]:
    n = np.arange(taps) - (taps - 1) / 2
    h = np.sinc(2 * cutoff / rate * n) * np.hamming(taps)
    return (h / h.sum()).astype(np.float32)


_LP48 = _lowpass(7000, 48000)
_LP16 = _lowpass(3600, 16000)


class _Decimator:
    """Low-pass then keep one sample in ``factor``, carrying the filter's history across calls."""

    def __init__(self, taps: npt.NDArray[np.float32], factor: int) -> None:
        self._taps = taps
        self._factor = factor
        self._history = np.zeros(len(taps) - 1, dtype=np.float32)
        self._phase = 0

    def __call__(self, pcm: Pcm) -> Pcm:
        x = np.concatenate((self._history, pcm.astype(np.float32)))
        self._history = x[-(len(self._taps) - 1):]
        y = np.convolve(x, self._taps, mode="valid")[self._phase::self._factor]
        self._phase = (self._phase - len(pcm)) % self._factor
        return np.clip(np.rint(y), -32768, 32767).astype(np.int16)


class _Upsampler2:
    """Doubles the rate by linear interpolation, carrying the last sample across calls."""

    def __init__(self) -> None:
        self._last = np.float32(0)

    def __call__(self, pcm: Pcm) -> Pcm:
        x = pcm.astype(np.float32)
        previous = np.concatenate(([self._last], x[:-1]))
        self._last = x[-1] if len(x) else self._last
        out = np.empty(2 * len(x), dtype=np.float32)
        out[0::2] = (previous + x) / 2
        out[1::2] = x
        return out.astype(np.int16)


class OpusDecoder:
    def __init__(self) -> None:
        self._codec = av.CodecContext.create("libopus", "r")
        self._codec.sample_rate = 48000
        self._codec.layout = "mono"
        self._codec.format = "s16"
        self._down = _Decimator(_LP48, 3)
        BUILT["decoder"] += 1

    def decode(self, payload: bytes) -> Pcm:
        try:
            frames = self._codec.decode(av.Packet(payload))
        except av.FFmpegError:
            return np.zeros(0, dtype=np.int16)
        if not frames:
            return np.zeros(0, dtype=np.int16)
        pcm = np.concatenate([f.to_ndarray().reshape(-1) for f in frames])
        return self._down(pcm)


class OpusEncoder:
    def __init__(self) -> None:
        self._codec = av.CodecContext.create("libopus", "w")
        self._codec.sample_rate = RATE
        self._codec.layout = "mono"
        self._codec.format = "s16"
        self._codec.bit_rate = 32000
        self._codec.time_base = fractions.Fraction(1, RATE)
        self._codec.options = {"application": "voip", "compression_level": "5"}
        self._pts = 0
        BUILT["encoder"] += 1

    def encode(self, pcm: Pcm) -> bytes:
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._pts
        self._pts += len(pcm)
        return b"".join(bytes(p) for p in self._codec.encode(frame))


class PcmuDecoder:
    def __init__(self) -> None:
        self._up = _Upsampler2()
        BUILT["decoder"] += 1

    def decode(self, payload: bytes) -> Pcm:
        return self._up(g711.decode(payload))


class PcmuEncoder:
    def __init__(self) -> None:
        self._down = _Decimator(_LP16, 2)
        BUILT["encoder"] += 1

    def encode(self, pcm: Pcm) -> bytes:
        return g711.encode(self._down(pcm))


def decoder(codec: Codec) -> Decoder:
    """A new decoder for ``codec`` (counted in ``BUILT``)."""
    return OpusDecoder() if codec is OPUS else PcmuDecoder()


def encoder(codec: Codec) -> Encoder:
    """A new encoder for ``codec`` (counted in ``BUILT``)."""
    return OpusEncoder() if codec is OPUS else PcmuEncoder()


def silence(samples: int = FRAME) -> Pcm:
    return np.zeros(samples, dtype=np.int16)


def mix(parts: list[Pcm]) -> Pcm:
    """The sum of equal-length frames, clipped to 16 bits (silence for none)."""
    if not parts:
        return silence()
    if len(parts) == 1:
        return parts[0]
    total = np.sum([p.astype(np.int32) for p in parts], axis=0)
    return np.clip(total, -32768, 32767).astype(np.int16)
