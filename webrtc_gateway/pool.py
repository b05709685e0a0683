"""The media workers, seen from trio: ``MediaPool``.

API (what the channel adapter codes against)::

    async with open_media_pool(workers=2) as pool:         # or: await nursery.start(MediaPool(...).run)
        answer = await pool.request({"t": "leg.offer", "leg": "c1", "sdp": offer, "role": "caller",
                                     "ice": {"loopback": True}})          # -> {"sdp": ..., "codec": ...}
        await pool.request({"t": "bridge", "bridge": "k1", "a": "c1", "b": "agent-7", "record": path})
        async for event in pool.events:                    # leg.state, leg.media_lost, dtmf, play.done, ...
            ...

- ``request(command)`` takes any command of ``docs/gateway.md`` without ``rid`` (the pool numbers them), sends it to
  the right worker and returns the ``ok`` answer's fields (without ``t`` and ``rid``), or raises ``MediaError``
  with the worker's reason (also: a malformed command, an unknown leg or bridge, no answer within
  ``request_timeout``, the worker died meanwhile). It is safe to call from many tasks at once.
- Placement: ``leg.offer`` and ``leg.create_offer`` put the new leg on the worker with the fewest legs, or, with
  ``near=LEG``, on the worker of that leg. Every other command naming a ``leg`` or a ``bridge`` goes to its worker.
  ``stats`` goes to every worker: ``{"workers": [each worker's answer], "legs", "bridges", "cpu_s"}`` (sums).
- A bridge needs both legs on one worker (media is forwarded inside one process). ``bridge`` (and ``supervise``)
  of legs on different workers is refused with a ``MediaError`` saying so; the controller avoids it by creating
  the later leg ``near`` the earlier one when it knows the pairing in advance. (A leg cannot be moved between
  processes without renegotiating with its browser.)
- ``events`` is a ``trio.MemoryReceiveChannel`` of the workers' events (dicts, as in the protocol), for one
  consumer. When a worker dies, each of its legs gets ``{"t": "leg.state", "leg", "state": "failed"}`` here, its
  legs and bridges are forgotten, and a new worker takes its place (``restart=True``; after a quick death, with
  a growing delay up to 5 s). At most ``event_buffer`` events wait; more are dropped and counted
  (``events_dropped``) rather than stalling the workers' readers.
- Shutdown (``run`` cancelled, or the ``open_media_pool`` block left): every worker is told ``shutdown`` (it closes
  its legs), given ``shutdown_grace`` seconds to exit, then killed; every process is waited for (no zombies).
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import trio

from webrtc_gateway import protocol

log = logging.getLogger(__name__)

_LEG_COMMANDS = frozenset({"leg.answer", "leg.renegotiate", "leg.close", "play", "stop", "dtmf.detect"})
_BRIDGE_COMMANDS = frozenset({"unbridge", "record.start", "record.stop", "unsupervise"})
_NEW_LEG = frozenset({"leg.offer", "leg.create_offer"})


class MediaError(Exception):
    """A media command that failed; the message is the reason."""


@dataclass
class _Pending:
    done: trio.Event = field(default_factory=trio.Event)
    answer: dict[str, Any] | None = None
    error: str | None = None


@dataclass
class _Worker:
    index: int
    process: trio.Process
    stream: trio.SocketStream
    pid: int = 0
    alive: bool = True
    legs: set[str] = field(default_factory=set)
    bridges: dict[str, tuple[str, str]] = field(default_factory=dict)
    pending: dict[int, _Pending] = field(default_factory=dict)
    send_lock: trio.Lock = field(default_factory=trio.Lock)
    started_at: float = 0.0


class MediaPool:
    """N media worker processes and the routing of commands to them (see the module's docstring)."""

    def __init__(self, workers: int | None = None, *, restart: bool = True, request_timeout: float = 15.0,
                 shutdown_grace: float = 5.0, event_buffer: int = 10000, python: str = sys.executable,
                 worker_args: tuple[str, ...] = ()) -> None:
        self.size = workers or os.cpu_count() or 1
        self.restart = restart
        self.request_timeout = request_timeout
        self.shutdown_grace = shutdown_grace
        self.events_dropped = 0
        self._python = python
        self._worker_args = worker_args
        self._send_events, self.events = trio.open_memory_channel[dict[str, Any]](event_buffer)
        self._workers: list[_Worker | None] = [None] * self.size
        self._leg_worker: dict[str, _Worker] = {}
        self._bridge_worker: dict[str, _Worker] = {}
        self._rids = itertools.count(1)
        self._ready = [trio.Event() for _ in range(self.size)]
        self._closing = False

    # -- public ----------------------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[MediaPool] = trio.TASK_STATUS_IGNORED) -> None:
        """Start the workers, report ready (``nursery.start`` returns the pool), serve until cancelled, then shut
        every worker down."""
        try:
            async with trio.open_nursery() as nursery:
                async with trio.open_nursery() as starting:  # the workers start in parallel
                    for index in range(self.size):
                        starting.start_soon(nursery.start, self._keep_worker, index)
                task_status.started(self)
        finally:
            self._closing = True
            self._send_events.close()

    async def request(self, command: dict[str, Any], *, near: str | None = None) -> dict[str, Any]:
        """Send one command to the worker it concerns and return its answer (see the module's docstring)."""
        kind = command.get("t")
        if kind == "stats":
            return await self._stats()
        if kind in ("hello", "shutdown"):
            raise MediaError(f"{kind} is the pool's own command")
        if kind in _NEW_LEG:
            return await self._new_leg(command, near)
        worker = self._route(command)
        answer = await self._call(worker, command)
        self._after(worker, command)
        return answer

    def worker_of(self, leg: str) -> int | None:
        """The index of the worker holding ``leg``, if the pool knows it."""
        worker = self._leg_worker.get(leg)
        return worker.index if worker is not None else None

    def pids(self) -> list[int]:
        """The process ids of the live workers."""
        return [w.pid for w in self._workers if w is not None and w.alive]

    def load(self) -> list[int]:
        """Legs per worker slot (a dead slot counts as full)."""
        return [len(w.legs) if w is not None and w.alive else 1 << 30 for w in self._workers]

    # -- routing ---------------------------------------------------------------------------------------------

    async def _new_leg(self, command: dict[str, Any], near: str | None) -> dict[str, Any]:
        leg = command.get("leg")
        if not isinstance(leg, str):
            raise MediaError(f"{command.get('t')}: missing field 'leg'")
        if leg in self._leg_worker:
            raise MediaError(f"leg {leg} exists")
        if near is not None:
            worker = self._leg_worker.get(near)
            if worker is None:
                raise MediaError(f"unknown leg {near} (near)")
        else:
            worker = await self._least_loaded()
        worker.legs.add(leg)
        self._leg_worker[leg] = worker
        try:
            return await self._call(worker, command)
        except BaseException:
            worker.legs.discard(leg)
            if self._leg_worker.get(leg) is worker:
                del self._leg_worker[leg]
            raise

    async def _least_loaded(self) -> _Worker:
        with trio.move_on_after(self.request_timeout):
            while True:
                alive = [w for w in self._workers if w is not None and w.alive]
                if alive:
                    return min(alive, key=lambda w: (len(w.legs), w.index))
                await trio.sleep(0.05)  # every worker is restarting
        raise MediaError("no media worker is running")

    def _route(self, command: dict[str, Any]) -> _Worker:
        kind = command.get("t")
        if kind in _LEG_COMMANDS:
            return self._worker_of_leg(command.get("leg"))
        if kind in _BRIDGE_COMMANDS:
            bridge = command.get("bridge")
            worker = self._bridge_worker.get(bridge) if isinstance(bridge, str) else None
            if worker is None:
                raise MediaError(f"unknown bridge {bridge}")
            return worker
        if kind == "bridge":
            a, b = self._worker_of_leg(command.get("a")), self._worker_of_leg(command.get("b"))
            if a is not b:
                raise MediaError(f"legs {command['a']} and {command['b']} are on different media workers "
                                 f"({a.index} and {b.index}): create one near the other")
            return a
        if kind == "supervise":
            worker = self._bridge_worker.get(command.get("bridge"))  # type: ignore[arg-type]
            if worker is None:
                raise MediaError(f"unknown bridge {command.get('bridge')}")
            if self._worker_of_leg(command.get("leg")) is not worker:
                raise MediaError(f"leg {command['leg']} is not on the media worker of bridge {command['bridge']}")
            return worker
        raise MediaError(f"unknown command {kind!r}")

    def _worker_of_leg(self, leg: Any) -> _Worker:
        worker = self._leg_worker.get(leg) if isinstance(leg, str) else None
        if worker is None:
            raise MediaError(f"unknown leg {leg}")
        return worker

    def _after(self, worker: _Worker, command: dict[str, Any]) -> None:
        kind = command["t"]
        if kind == "leg.close":
            leg = command["leg"]
            worker.legs.discard(leg)
            self._leg_worker.pop(leg, None)
            for bridge, legs in list(worker.bridges.items()):
                if leg in legs[:2]:  # the worker closed the bridge with the leg
                    self._forget_bridge(worker, bridge)
        elif kind == "bridge":
            worker.bridges[command["bridge"]] = (command["a"], command["b"])
            self._bridge_worker[command["bridge"]] = worker
        elif kind == "unbridge":
            self._forget_bridge(worker, command["bridge"])

    def _forget_bridge(self, worker: _Worker, bridge: str) -> None:
        worker.bridges.pop(bridge, None)
        self._bridge_worker.pop(bridge, None)

    async def _stats(self) -> dict[str, Any]:
        answers = []
        for worker in [w for w in self._workers if w is not None and w.alive]:
            try:
                answers.append({"index": worker.index, "pid": worker.pid, **await self._call(worker, {"t": "stats"})})
            except MediaError:
                continue
        return {"workers": answers, "legs": sum(a["legs"] for a in answers),
                "bridges": sum(a["bridges"] for a in answers), "cpu_s": sum(a["cpu_s"] for a in answers)}

    # -- the wire --------------------------------------------------------------------------------------------

    async def _call(self, worker: _Worker, command: dict[str, Any]) -> dict[str, Any]:
        rid = next(self._rids)
        try:
            frame = protocol.encode({**command, "rid": rid})
        except protocol.ProtocolError as exc:
            raise MediaError(str(exc)) from None
        if not worker.alive:
            raise MediaError(f"media worker {worker.index} is not running")
        pending = worker.pending[rid] = _Pending()
        try:
            with trio.move_on_after(self.request_timeout) as scope:
                async with worker.send_lock:
                    await worker.stream.send_all(frame)
                await pending.done.wait()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise MediaError(f"media worker {worker.index} is gone") from None
        finally:
            worker.pending.pop(rid, None)
        if scope.cancelled_caught:
            raise MediaError(f"{command['t']}: no answer from media worker {worker.index} "
                             f"within {self.request_timeout} s")
        if pending.error is not None:
            raise MediaError(pending.error)
        assert pending.answer is not None
        return {k: v for k, v in pending.answer.items() if k not in ("t", "rid")}

    async def _keep_worker(self, index: int, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                           ) -> None:
        """One worker slot: start its process, read it, and start another when it dies (unless closing)."""
        delay = 0.0
        started = False
        while True:
            worker = await self._spawn(index)
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._read, worker)
                    await self._hello(worker)
                    if not started:
                        task_status.started()
                        started = True
            except trio.Cancelled:
                self._closing = True
                raise
            finally:
                with trio.CancelScope(shield=True):
                    await self._stop(worker)
            if self._closing or not self.restart:
                return
            lived = trio.current_time() - worker.started_at
            delay = 0.0 if lived > 10 else min(5.0, max(0.1, delay * 2))
            log.warning("media worker %d (pid %d) died; starting another%s", index, worker.pid,
                        f" in {delay:.1f} s" if delay else "")
            await trio.sleep(delay)

    async def _spawn(self, index: int) -> _Worker:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            process = await trio.lowlevel.open_process(
                [self._python, "-m", "webrtc_gateway.media.worker", "--fd", str(child.fileno()),
                 *self._worker_args], pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL)
        except BaseException:
            parent.close()
            raise
        finally:
            child.close()
        stream = trio.SocketStream(trio.socket.from_stdlib_socket(parent))
        worker = _Worker(index, process, stream, pid=process.pid, started_at=trio.current_time())
        self._workers[index] = worker
        return worker

    async def _read(self, worker: _Worker) -> None:
        """Answers and events from one worker, until its socket closes or it sends something unreadable."""
        decoder = protocol.Decoder()
        while True:
            try:
                data = await worker.stream.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return
            if not data:
                return
            try:
                messages = decoder.feed(data)
            except protocol.ProtocolError as exc:
                log.error("media worker %d sent a bad frame (%s): stopping it", worker.index, exc)
                return
            for message in messages:
                self._dispatch(worker, message)

    async def _hello(self, worker: _Worker) -> None:
        try:
            answer = await self._call(worker, {"t": "hello", "version": protocol.VERSION})
        except MediaError as exc:
            log.error("media worker %d did not say hello: %s", worker.index, exc)
            worker.process.kill()
            return
        worker.pid = answer.get("worker", worker.pid)

    def _dispatch(self, worker: _Worker, message: dict[str, Any]) -> None:
        kind = message["t"]
        if kind in ("ok", "error"):
            pending = worker.pending.get(message["rid"])
            if pending is None:
                if kind == "error":
                    log.warning("media worker %d: %s", worker.index, message["reason"])
                return
            if kind == "ok":
                pending.answer = message
            else:
                pending.error = message["reason"]
            pending.done.set()
            return
        self._publish(message)

    def _publish(self, event: dict[str, Any]) -> None:
        try:
            self._send_events.send_nowait(event)
        except trio.WouldBlock:
            self.events_dropped += 1
            if self.events_dropped in (1, 10, 100) or self.events_dropped % 1000 == 0:
                log.warning("media events dropped: %d (nobody reads pool.events?)", self.events_dropped)
        except trio.ClosedResourceError:
            pass

    async def _stop(self, worker: _Worker) -> None:
        """Make sure the worker's process is gone and waited for; report its legs failed (unless closing)."""
        worker.alive = False
        for pending in worker.pending.values():
            pending.error = f"media worker {worker.index} died"
            pending.done.set()
        if worker.process.returncode is None:
            with trio.move_on_after(self.shutdown_grace):
                try:
                    async with worker.send_lock:
                        await worker.stream.send_all(protocol.encode({"t": "shutdown", "rid": 0}))
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                    pass
                await worker.process.wait()
            if worker.process.returncode is None:
                worker.process.kill()
                await worker.process.wait()
        await worker.stream.aclose()
        legs = sorted(worker.legs)
        for leg in legs:
            self._leg_worker.pop(leg, None)
        for bridge in worker.bridges:
            self._bridge_worker.pop(bridge, None)
        worker.legs.clear()
        worker.bridges.clear()
        if not self._closing:
            for leg in legs:
                self._publish({"t": "leg.state", "leg": leg, "state": "failed"})


@asynccontextmanager
async def open_media_pool(workers: int | None = None, **options: Any) -> AsyncIterator[MediaPool]:
    """A running ``MediaPool`` for the block; its workers are shut down when the block is left."""
    async with trio.open_nursery() as nursery:
        pool = await nursery.start(MediaPool(workers, **options).run)
        try:
            yield pool
        finally:
            nursery.cancel_scope.cancel()


