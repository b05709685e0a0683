"""Codecs, the leg output's RTP timeline, and the bridge's PCM FIFO."""

from __future__ import annotations

import asyncio

import av
import numpy as np

from webrtc_gateway.media import audio, g711
from webrtc_gateway.media.bridge import PcmFifo
from webrtc_gateway.media.output import LegOutput


def tone(hz: float, samples: int, rate: int = audio.RATE) -> np.ndarray:
    return (8000 * np.sin(2 * np.pi * hz * np.arange(samples) / rate)).astype(np.int16)


def peak_hz(pcm: np.ndarray, rate: int = audio.RATE) -> float:
    spectrum = np.abs(np.fft.rfft(pcm * np.hanning(len(pcm))))
    return float(np.fft.rfftfreq(len(pcm), 1 / rate)[spectrum.argmax()])


def test_mu_law_decodes_as_ffmpeg_and_round_trips_within_a_step() -> None:
    codes = bytes(range(256))
    ffmpeg = av.CodecContext.create("pcm_mulaw", "r")
    ffmpeg.sample_rate, ffmpeg.layout = 8000, "mono"
    reference = ffmpeg.decode(av.Packet(codes))[0].to_ndarray().reshape(-1)
    assert (g711.decode(codes) == reference).all()
    x = np.arange(-32768, 32768, 7, dtype=np.int32).astype(np.int16)
    error = np.abs(g711.decode(g711.encode(x)).astype(np.int32) - x)
    assert (error <= np.maximum(16, np.abs(x.astype(np.int32)) // 16)).all()


def test_each_codec_carries_a_tone_and_counts_what_it_builds() -> None:
    for codec in (audio.OPUS, audio.PCMU):
        before = audio.BUILT.copy()
        encoder, decoder = audio.encoder(codec), audio.decoder(codec)
        assert audio.BUILT["encoder"] == before["encoder"] + 1 and audio.BUILT["decoder"] == before["decoder"] + 1
        x = tone(1000, audio.FRAME * 25)
        out = np.concatenate([decoder.decode(encoder.encode(x[i:i + audio.FRAME]))
                              for i in range(0, len(x), audio.FRAME)])
        assert len(out) == len(x)
        assert abs(peak_hz(out[audio.FRAME * 5:]) - 1000) < 30
    assert audio.mix([tone(100, 320), tone(100, 320)]).max() == 2 * tone(100, 320).max()
    assert audio.mix([np.full(320, 30000, np.int16)] * 2).max() == 32767


class FakeWire:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, int, bool]] = []

    def send(self, payload: bytes, timestamp: int, marker: bool = False) -> None:
        self.sent.append((payload, timestamp, marker))


def test_the_output_keeps_one_rtp_timeline_across_sources() -> None:
    async def scenario() -> list[tuple[bytes, int, bool]]:
        output = LegOutput(audio.OPUS)
        output.push(b"x", 0, "bridge")  # no wire yet: dropped
        wire = output.wire = FakeWire()  # type: ignore[assignment]
        for ts in (5000, 5960, 7880, 6920):  # one lost, then late
            output.push(b"a", ts, "bridge")
        output.push(b"p", 0, "play")  # a new source: at least one packet later
        output.push(b"p", 960, "play")
        assert (output.packets, output.dropped) == (6, 1)
        return wire.sent

    assert asyncio.run(scenario()) == [(b"a", 0, True), (b"a", 960, False), (b"a", 2880, False),
                                       (b"a", 1920, False), (b"p", 3840, True), (b"p", 4800, False)]


def test_the_fifo_gives_frames_and_pads_with_silence() -> None:
    fifo = PcmFifo()
    fifo(np.arange(500, dtype=np.int16))
    first, second = fifo.pop(), fifo.pop()
    assert (first == np.arange(320)).all()
    assert (second[:180] == np.arange(320, 500)).all() and not second[180:].any()
    assert not fifo.pop().any()
    fifo(np.ones(320 * 30, dtype=np.int16))  # more than it keeps: the oldest go
    assert sum(1 for _ in range(30) if fifo.pop().any()) == 10
