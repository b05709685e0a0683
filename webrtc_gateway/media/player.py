"""Prompts and hold music played into a leg.

A media file (WAV, or Opus in OGG: anything FFmpeg reads) is decoded, resampled to 16 kHz mono, cut into 20 ms
frames and encoded for the leg's codec once, in a thread, and kept (``PromptCache``: the same prompt or hold music
played to a hundred callers is encoded once per codec, not a hundred times). A ``Player`` then sends those packets
into the leg at 20 ms intervals of the event loop's clock, from the start, looping if asked. While it plays, the
leg's bridge audio is dropped (``Leg.hear``); when it ends (the file is over, ``stop()``, or the leg closes)
``on_done`` is called once, with ``stopped`` true unless the file played to its end.
"""

from __future__ import annotations

import asyncio
import os
from collections import OrderedDict
from collections.abc import Callable

import av
import numpy as np

from webrtc_gateway.media import audio
from webrtc_gateway.media.audio import Codec
from webrtc_gateway.media.output import LegOutput

TICK = 0.02


def encode_file(path: str, codec: Codec) -> tuple[bytes, ...]:
    """The payloads of a media file's first audio stream, 20 ms each, for ``codec``. ``ValueError`` if unreadable."""
    try:
        container = av.open(path)
    except (OSError, av.FFmpegError) as exc:
        raise ValueError(f"cannot open {path}: {exc}") from None
    with container:
        if not container.streams.audio:
            raise ValueError(f"{path} has no audio")
        resampler = av.AudioResampler(format="s16", layout="mono", rate=audio.RATE)
        chunks: list[audio.Pcm] = []
        try:
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1).astype(np.int16, copy=False))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1).astype(np.int16, copy=False))
        except av.FFmpegError as exc:
            raise ValueError(f"cannot decode {path}: {exc}") from None
    pcm = np.concatenate(chunks) if chunks else audio.silence(0)
    if len(pcm) % audio.FRAME:
        pcm = np.concatenate((pcm, audio.silence(audio.FRAME - len(pcm) % audio.FRAME)))
    encoder = audio.encoder(codec)
    return tuple(encoder.encode(pcm[i:i + audio.FRAME]) for i in range(0, len(pcm), audio.FRAME))


class PromptCache:
    """Encoded media files by (path, modification time, codec), the ``size`` most recently used."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[str, int, str], asyncio.Future[tuple[bytes, ...]]] = OrderedDict()

    async def get(self, path: str, codec: Codec) -> tuple[bytes, ...]:
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError as exc:
            raise ValueError(f"cannot open {path}: {exc.strerror}") from None
        key = (os.path.abspath(path), mtime, codec.name)
        entry = self._entries.get(key)
        if entry is None:
            loop = asyncio.get_event_loop()
            entry = self._entries[key] = asyncio.ensure_future(loop.run_in_executor(None, encode_file, path, codec))
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        self._entries.move_to_end(key)
        try:
            return await asyncio.shield(entry)
        except ValueError:
            self._entries.pop(key, None)
            raise


class Player:
    """Sends encoded packets into a leg's output in real time (``start``), until done or ``stop``."""

    def __init__(self, play_id: str, output: LegOutput, packets: tuple[bytes, ...], loop: bool,
                 on_done: Callable[[Player, bool], None]) -> None:
        self.id = play_id
        self._output = output
        self._packets = packets
        self._loop = loop
        self._on_done = on_done
        self._task: asyncio.Task[None] | None = None
        self._finished = False

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    def stop(self) -> None:
        """Stop now (``on_done(stopped=True)`` unless already done)."""
        if self._task is not None:
            self._task.cancel()
        self._finish(stopped=True)

    def _finish(self, stopped: bool) -> None:
        if not self._finished:
            self._finished = True
            self._on_done(self, stopped)

    async def _run(self) -> None:
        clock = asyncio.get_event_loop()
        ticks = self._output.codec.ticks
        source = ("play", self.id)
        start = clock.time()
        index = sent = 0
        try:
            while self._packets:
                for payload in self._packets:
                    delay = start + index * TICK - clock.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    elif delay < -5 * TICK:  # the loop stalled: carry on from now
                        start, index = clock.time(), 0
                    self._output.push(payload, sent * ticks, source)
                    index += 1
                    sent += 1
                if not self._loop:
                    break
        except asyncio.CancelledError:
            return
        self._finish(stopped=False)
