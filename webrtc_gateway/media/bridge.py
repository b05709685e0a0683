"""A bridge: two legs that hear each other, and what may join them (a recorder, a supervisor).

Theory of operation. Each member hears a set of other members (``hearing``):

============  ==========================  ===================================
mode          a (caller side) / b hear     supervisor hears / is heard by
============  ==========================  ===================================
(none)        each other                   -
listen        each other                   a and b / nobody
whisper       each other (+ supervisor     a and b / the agent-role legs
              for agent-role legs)
barge         each other and supervisor    a and b / a and b
============  ==========================  ===================================

A member that hears exactly one other member speaking its codec gets that member's packets forwarded encoded
(passthrough: ``forward_to``); one that hears several, or one in another codec, gets a *mix*: every 20 ms the
bridge's clock (``_tick``) takes 20 ms of decoded audio from each member it needs (a ``PcmFifo`` filled by the
member's decoder), sums what each mixed member hears, encodes it with that member's encoder and sends it. A
member's audio is decoded only if a mix includes it or the bridge records. The recorder takes the same 20 ms
frames: a 16 kHz stereo WAV file, a on the left, b on the right.

``replan()`` recomputes all of this after any change (a supervisor joins or leaves, recording starts or stops).
"""

from __future__ import annotations

import asyncio
import logging
import os
import wave
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from webrtc_gateway.media import audio
from webrtc_gateway.media.party import Party

log = logging.getLogger(__name__)
Emit = Callable[[dict[str, Any]], None]
TICK = 0.02
FIFO_LIMIT = 10  # frames (200 ms) of decoded audio kept per member before the oldest is dropped


class PcmFifo:
    """Decoded audio of one member waiting for the bridge's clock: chunks in, ``FRAME``-sample frames out."""

    def __init__(self) -> None:
        self._chunks: deque[audio.Pcm] = deque()
        self._size = 0

    def __call__(self, pcm: audio.Pcm) -> None:
        if not len(pcm):
            return
        self._chunks.append(pcm)
        self._size += len(pcm)
        excess = self._size - FIFO_LIMIT * audio.FRAME
        while excess > 0:  # drop the oldest samples
            oldest = self._chunks.popleft()
            if len(oldest) > excess:
                self._chunks.appendleft(oldest[excess:])
                self._size -= excess
                break
            self._size -= len(oldest)
            excess -= len(oldest)

    def pop(self) -> audio.Pcm:
        """The next frame; padded with silence (or all silence) when not enough came."""
        if self._size < audio.FRAME:
            out = np.concatenate([*self._chunks, audio.silence(audio.FRAME - self._size)]) if self._chunks \
                else audio.silence()
            self._chunks.clear()
            self._size = 0
            return out
        parts = []
        need = audio.FRAME
        while need:
            chunk = self._chunks.popleft()
            if len(chunk) > need:
                self._chunks.appendleft(chunk[need:])
                chunk = chunk[:need]
            parts.append(chunk)
            need -= len(chunk)
        self._size -= audio.FRAME
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


class Recorder:
    """Both sides of a bridge, in step, to a 16 kHz 16-bit stereo WAV file (a left, b right)."""

    def __init__(self, path: str) -> None:
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        self.path = path
        self.frames = 0
        self._file = wave.open(path, "wb")  # noqa: SIM115 (closed by close())
        self._file.setnchannels(2)
        self._file.setsampwidth(2)
        self._file.setframerate(audio.RATE)

    def write(self, left: audio.Pcm, right: audio.Pcm) -> None:
        self._file.writeframesraw(np.stack((left, right), axis=1).tobytes())
        self.frames += len(left)

    def close(self) -> float:
        """Closes the file; the seconds recorded."""
        self._file.close()
        return self.frames / audio.RATE


class Bridge:
    """Members ``a`` and ``b`` (and at most one supervisor per leg id), planned by ``replan``."""

    def __init__(self, bridge_id: str, a: Party, b: Party, emit: Emit) -> None:
        self.id = bridge_id
        self.a = a
        self.b = b
        self.supervisors: dict[str, tuple[Party, str]] = {}
        self.recorder: Recorder | None = None
        self._emit = emit
        self._fifos: dict[str, PcmFifo] = {}
        self._mixed_parties: dict[Party, list[Party]] = {}
        self._timestamps: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        a.bridge = b.bridge = self

    def members(self) -> list[Party]:
        return [self.a, self.b, *(party for party, _ in self.supervisors.values())]

    def hearing(self) -> dict[str, list[Party]]:
        """Whom each member hears (see the table above)."""
        out: dict[str, list[Party]] = {self.a.id: [self.b], self.b.id: [self.a]}
        for party, mode in self.supervisors.values():
            out[party.id] = [self.a, self.b]
            for side, other in ((self.a, self.b), (self.b, self.a)):
                if mode == "barge" or (mode == "whisper" and side.role == "agent"):
                    out[side.id] = [other, party]
        return out

    def replan(self) -> None:
        """Set forwarding, decoding and mixing for the current members, modes and recording."""
        hearing = self.hearing()
        members = self.members()
        forward: dict[str, list[Party]] = {m.id: [] for m in members}
        mixed: dict[str, list[Party]] = {}
        for member in members:
            sources = hearing.get(member.id, [])
            if len(sources) == 1 and sources[0].codec is member.codec:
                forward[sources[0].id].append(member)
            elif sources:
                mixed[member.id] = sources
        decoded = {s.id for sources in mixed.values() for s in sources}
        if self.recorder is not None:
            decoded |= {self.a.id, self.b.id}
        for member in members:
            member.forward_to = forward[member.id]
            fifo = self._fifos.get(member.id)
            if member.id in decoded and fifo is None:
                fifo = self._fifos[member.id] = PcmFifo()
                member.pcm_sinks.append(fifo)
            elif member.id not in decoded and fifo is not None:
                member.pcm_sinks.remove(fifo)
                del self._fifos[member.id]
        by_id = {m.id: m for m in members}
        self._mixed_parties = {by_id[i]: sources for i, sources in mixed.items()}
        if self._fifos and self._task is None:
            self._task = asyncio.ensure_future(self._tick())
        elif not self._fifos and self._task is not None:
            self._task.cancel()
            self._task = None

    def start_recording(self, path: str) -> None:
        if self.recorder is not None:
            raise ValueError(f"bridge {self.id} is already recording to {self.recorder.path}")
        self.recorder = Recorder(path)
        self.replan()

    def stop_recording(self) -> None:
        """Close the recording, if any, and say so (``record.done``)."""
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            return
        seconds = recorder.close()
        self._emit({"t": "record.done", "bridge": self.id, "path": recorder.path, "seconds": round(seconds, 3)})
        self.replan()

    def supervise(self, party: Party, mode: str) -> None:
        if party is self.a or party is self.b:
            raise ValueError("a leg of the bridge cannot supervise it")
        if party.bridge is not None and party.bridge is not self:
            raise ValueError(f"leg {party.id} is in another bridge")
        party.bridge = self
        self.supervisors[party.id] = (party, mode)
        self.replan()

    def unsupervise(self, party_id: str) -> None:
        entry = self.supervisors.pop(party_id, None)
        if entry is None:
            raise ValueError(f"leg {party_id} does not supervise bridge {self.id}")
        self._detach(entry[0])
        self.replan()

    def close(self) -> None:
        """Disconnect every member (they stay up); ends the recording."""
        self.stop_recording()
        for member in self.members():
            self._detach(member)
        self.supervisors.clear()
        self._mixed_parties = {}
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def _detach(self, member: Party) -> None:
        member.forward_to = []
        fifo = self._fifos.pop(member.id, None)
        if fifo is not None and fifo in member.pcm_sinks:
            member.pcm_sinks.remove(fifo)
        member.bridge = None
        for other in self.members():
            if member in other.forward_to:
                other.forward_to.remove(member)

    async def _tick(self) -> None:
        loop = asyncio.get_event_loop()
        deadline = loop.time() + TICK
        while True:
            await asyncio.sleep(max(0.0, deadline - loop.time()))
            deadline += TICK
            if loop.time() - deadline > 5 * TICK:  # the loop stalled: do not try to catch up
                deadline = loop.time() + TICK
            try:
                self._step()
            except Exception:
                log.exception("bridge %s: a mixing step failed", self.id)

    def _step(self) -> None:
        frames = {member_id: fifo.pop() for member_id, fifo in self._fifos.items()}
        if self.recorder is not None:
            self.recorder.write(frames.get(self.a.id, audio.silence()), frames.get(self.b.id, audio.silence()))
        for member, sources in self._mixed_parties.items():
            if member.codec is None:
                continue
            pcm = audio.mix([frames[s.id] for s in sources if s.id in frames])
            ts = self._timestamps.get(member.id, 0)
            self._timestamps[member.id] = ts + member.codec.ticks
            member.hear(member.encoder().encode(pcm), ts, ("mix", self.id), member.codec)
