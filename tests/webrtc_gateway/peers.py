"""Browser stand-ins for the gateway's tests: aiortc peers on an asyncio loop in a thread, driven from trio.

``AsyncioThread.call(coro)`` runs a coroutine on the thread's loop and waits for it from trio. A ``Peer`` is one
browser: it sends a tone (``ToneTrack``: a sine of ``tone_hz``, or a DTMF key's two tones, or silence), keeps the
last seconds of what it hears (``heard``), can send RFC 4733 key presses (``send_keys``, a small sender: aiortc
has none) and can go silent (``mute``: no RTP at all, as a browser whose network died).

``levels(pcm, rate, freqs)`` measures each frequency's share of a signal's power; the tests decide who hears whom
by it.
"""

from __future__ import annotations

import asyncio
import fractions
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import av
import numpy as np
import numpy.typing as npt
import trio
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtp import RtpPacket

from benchmarks.gateway_peers import LoopbackPeer
from webrtc_gateway.media import aiortc_patch, rfc4733
from webrtc_gateway.media.inband import COLUMNS, KEYPAD, ROWS

T = TypeVar("T")
RATE = 48000
PTIME = 0.02


class AsyncioThread:
    """An asyncio event loop running in a daemon thread until ``close``."""

    def __init__(self) -> None:
        aiortc_patch.install()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="aiortc-peers", daemon=True)
        self._thread.start()

    async def call(self, coro: Coroutine[Any, Any, T], timeout: float = 20) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        with trio.fail_after(timeout):
            return await trio.to_thread.run_sync(future.result, abandon_on_cancel=True)

    def close(self) -> None:
        async def stop() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


def dtmf_tone(key: str, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    row = next(i for i, keys in enumerate(KEYPAD) if key in keys)
    column = KEYPAD[row].index(key)
    return 0.3 * (np.sin(2 * np.pi * ROWS[row] * t) + np.sin(2 * np.pi * COLUMNS[column] * t))


class ToneTrack(MediaStreamTrack):
    """20 ms frames at 48 kHz, in real time: a sine (``tone_hz``), DTMF keys (``play_keys``) or silence."""

    kind = "audio"

    def __init__(self, tone_hz: float | None) -> None:
        super().__init__()
        self.tone_hz = tone_hz
        self._keys: list[tuple[str | None, int]] = []  # (key or None for a pause, samples left)
        self._samples = 0
        self._start: float | None = None

    def play_keys(self, keys: str, on_ms: int = 100, off_ms: int = 100) -> None:
        for key in keys:
            self._keys += [(key, RATE * on_ms // 1000), (None, RATE * off_ms // 1000)]

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        n = int(RATE * PTIME)
        if self._start is None:
            self._start = time.time()
        else:
            await asyncio.sleep(max(0.0, self._start + self._samples / RATE - time.time()))
        t = (self._samples + np.arange(n)) / RATE
        if self._keys:
            key, left = self._keys[0]
            signal = dtmf_tone(key, t) if key else np.zeros(n)
            self._keys[0] = (key, left - n)
            if left - n <= 0:
                self._keys.pop(0)
        elif self.tone_hz:
            signal = 0.5 * np.sin(2 * np.pi * self.tone_hz * t)
        else:
            signal = np.zeros(n)
        frame = av.AudioFrame.from_ndarray((signal * 32767).astype(np.int16).reshape(1, -1), format="s16",
                                           layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._samples
        frame.time_base = fractions.Fraction(1, RATE)
        self._samples += n
        return frame


class Peer(LoopbackPeer):
    """One browser stand-in (create and use it on the thread's loop, through ``AsyncioThread.call``)."""

    def __init__(self, tone_hz: float | None = None, codecs: tuple[str, ...] = ("opus", "PCMU", "telephone-event")
                 ) -> None:
        self.track = ToneTrack(tone_hz)
        super().__init__(self.track, codecs)
        self._heard: list[npt.NDArray[np.int16]] = []
        self._reader: asyncio.Task[None] | None = None
        self._dtmf_seq = 1000

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self._reader = asyncio.ensure_future(self._read(track))

    async def _read(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            samples = frame.to_ndarray().reshape(-1)
            if len(frame.layout.channels) == 2:
                samples = samples[0::2]
            if frame.sample_rate != RATE:
                samples = np.repeat(samples, RATE // frame.sample_rate)
            self._heard.append(samples)
            if len(self._heard) > 200:
                del self._heard[:-200]

    async def forget(self) -> None:
        """Drop what was heard so far (before a change, to hear only what follows)."""
        self._heard.clear()

    async def heard(self, seconds: float) -> npt.NDArray[np.int16]:
        """The last ``seconds`` heard, once that much has come in since the last ``forget``; what came within
        three times as long if less came (nothing if nothing did: no RTP at all)."""
        loop = asyncio.get_event_loop()
        deadline = loop.time() + 3 * seconds
        while sum(len(x) for x in self._heard) < seconds * RATE and loop.time() < deadline:
            await asyncio.sleep(0.02)
        if not self._heard:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(self._heard)[-int(seconds * RATE):]

    async def mute(self) -> None:
        """Stop sending RTP altogether."""
        self.transceiver.sender.replaceTrack(None)

    async def play_keys(self, keys: str) -> None:
        """Send key presses as in-band tones (100 ms on, 100 ms off)."""
        self.track.play_keys(keys)

    async def send_keys(self, keys: str, *, end_repeats: int = 3) -> None:
        """Send key presses as RFC 4733 telephone-events (what a browser's RTCDTMFSender does): per key, packets
        every 20 ms for 100 ms, then the end packet ``end_repeats`` times, then a 60 ms pause."""
        codec = next(c for c in self.transceiver._codecs if c.name.lower() == "telephone-event")
        sender = self.transceiver.sender
        timestamp = 0
        for key in keys:
            event = rfc4733.KEYS.index(key)
            timestamp += codec.clockRate
            step = codec.clockRate // 50
            for i in range(1, 6):
                await self._send_event(sender, codec.payloadType, timestamp, rfc4733.build(event, False, i * step),
                                       marker=i == 1)
                await asyncio.sleep(0.02)
            for _ in range(end_repeats):
                await self._send_event(sender, codec.payloadType, timestamp, rfc4733.build(event, True, 6 * step))
            await asyncio.sleep(0.06)

    async def _send_event(self, sender: Any, payload_type: int, timestamp: int, payload: bytes,
                          marker: bool = False) -> None:
        packet = RtpPacket(payload_type=payload_type, marker=int(marker), sequence_number=self._dtmf_seq,
                           timestamp=timestamp, ssrc=sender._ssrc + 1 & 0xFFFFFFFF, payload=payload)
        self._dtmf_seq += 1
        await sender.transport._send_rtp(packet.serialize())

    async def close(self) -> None:
        await self.pc.close()
        if self._reader is not None:
            self._reader.cancel()


def levels(pcm: npt.NDArray[np.int16], freqs: tuple[float, ...], rate: int = RATE) -> dict[float, float]:
    """Each frequency's share (0-1) of the signal's power, +/-30 Hz around it."""
    x = pcm.astype(np.float64) * np.hanning(len(pcm))
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    bins = np.fft.rfftfreq(len(x), 1 / rate)
    total = spectrum.sum() or 1.0
    return {f: float(spectrum[(bins > f - 30) & (bins < f + 30)].sum() / total) for f in freqs}
