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
- Bridges across workers: a bridge runs in the worker of its leg ``a`` (its *home*). When ``b`` (or a supervisor)
  lives in another worker, the pool first *exports* it there (``leg.export``: its packets go to the home over the
  workers' trunk, ``webrtc_gateway.media.trunk``, and the home's packets for it come back the same way), then sends
  the home the command with a ``remote`` entry for it. So any two legs can be bridged, wherever they were placed;
  a bridge within one worker saves the trunk's hop (``near=`` when the pairing is known in advance). A leg cannot
  be moved between processes without renegotiating with its browser, so legs stay where they were created.
  ``unbridge``, ``unsupervise``, ``leg.close`` and a worker's death undo the exports they leave behind.
- ``events`` is a ``trio.MemoryReceiveChannel`` of the workers' events (dicts, as in the protocol), for one
  consumer. When a worker dies, each of its legs gets ``{"t": "leg.state", "leg", "state": "failed"}`` here, its
  legs and bridges are forgotten, and a new worker takes its place (``restart=True``; after a quick death, with
  a growing delay up to 5 s). At most ``event_buffer`` events wait; more are dropped and counted
  (``events_dropped``) rather than stalling the workers' readers.
- Shutdown (``run`` cancelled, or the ``open_media_pool`` block left): every worker is told ``shutdown`` (it closes
  its legs), given ``shutdown_grace`` seconds to exit, then killed; every process is waited for (no zombies).
- ``launcher`` (measurements only): runs a worker some other way than a process of its own (``WorkerHost``);
  ``switchboard bench gateway --host`` uses it to compare a thread, trio's guest mode and trio-asyncio.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import trio

from webrtc_gateway import protocol

log = logging.getLogger(__name__)

_BRIDGE_COMMANDS = frozenset({"record.start", "record.stop"})
_NEW_LEG = frozenset({"leg.offer", "leg.create_offer"})
_OWN = frozenset({"hello", "shutdown", "leg.export", "leg.unexport"})


class MediaError(Exception):
    """A media command that failed; the message is the reason."""


@dataclass
class _Pending:
    done: trio.Event = field(default_factory=trio.Event)
    answer: dict[str, Any] | None = None
    error: str | None = None


class WorkerHost(Protocol):
    """What runs a worker: a ``trio.Process`` (the default), or, for measurements, something that runs
    ``webrtc_gateway.media.worker.serve(sock)`` elsewhere (a thread, this process's own loop) and looks the same."""

    pid: int

    @property
    def returncode(self) -> int | None: ...

    async def wait(self) -> int: ...

    def kill(self) -> None: ...


@dataclass
class _Worker:
    index: int
    process: WorkerHost
    stream: trio.SocketStream
    pid: int = 0
    alive: bool = True
    legs: set[str] = field(default_factory=set)
    bridges: set[str] = field(default_factory=set)
    trunk: int = 0
    pending: dict[int, _Pending] = field(default_factory=dict)
    send_lock: trio.Lock = field(default_factory=trio.Lock)
    started_at: float = 0.0


@dataclass
class _Bridge:
    """A bridge as the pool knows it: its home worker, its legs, and those exported to it from other workers
    (leg -> (its worker, the ``remote`` entry the home was given))."""

    id: str
    home: _Worker
    a: str
    b: str
    supervisors: set[str] = field(default_factory=set)
    exports: dict[str, tuple[_Worker, dict[str, Any]]] = field(default_factory=dict)


class MediaPool:
    """N media worker processes and the routing of commands to them (see the module's docstring)."""

    def __init__(self, workers: int | None = None, *, restart: bool = True, request_timeout: float = 15.0,
                 shutdown_grace: float = 5.0, event_buffer: int = 10000, python: str = sys.executable,
                 worker_args: tuple[str, ...] = (),
                 launcher: Callable[[socket.socket], Awaitable[WorkerHost]] | None = None) -> None:
        self.size = workers or os.cpu_count() or 1
        self.restart = restart
        self.request_timeout = request_timeout
        self.shutdown_grace = shutdown_grace
        self.events_dropped = 0
        self._python = python
        self._worker_args = worker_args
        self._launcher = launcher
        self._send_events, self.events = trio.open_memory_channel[dict[str, Any]](event_buffer)
        self._workers: list[_Worker | None] = [None] * self.size
        self._leg_worker: dict[str, _Worker] = {}
        self._bridges: dict[str, _Bridge] = {}
        self._leg_bridge: dict[str, str] = {}
        self._rids = itertools.count(1)
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
        try:
            protocol.check({**command, "rid": 0})
        except protocol.ProtocolError as exc:
            raise MediaError(str(exc)) from None
        kind = command["t"]
        if kind not in protocol.COMMANDS or kind in _OWN:
            raise MediaError(f"{kind} is {'the pool' + chr(39) + 's own command' if kind in _OWN else 'not a command'}")
        if kind == "stats":
            return await self._stats()
        if kind in _NEW_LEG:
            return await self._new_leg(command, near)
        if kind == "bridge":
            return await self._bridge(command)
        if kind == "unbridge":
            bridge = self._bridge_named(command["bridge"])
            answer = await self._call(bridge.home, command)
            await self._dissolve(bridge, skip=None)
            return answer
        if kind == "supervise":
            return await self._supervise(command)
        if kind == "unsupervise":
            bridge = self._bridge_named(command["bridge"])
            answer = await self._call(bridge.home, command)
            await self._drop_supervisor(bridge, command["leg"], tell_home=False)
            return answer
        if kind == "leg.close":
            worker = self._worker_of_leg(command["leg"])
            answer = await self._call(worker, command)
            await self._leg_closed(command["leg"], worker)
            return answer
        if kind in _BRIDGE_COMMANDS:
            return await self._call(self._bridge_named(command["bridge"]).home, command)
        return await self._call(self._worker_of_leg(command["leg"]), command)

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

    # -- legs ------------------------------------------------------------------------------------------------

    async def _new_leg(self, command: dict[str, Any], near: str | None) -> dict[str, Any]:
        leg = command["leg"]
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

    def _worker_of_leg(self, leg: str) -> _Worker:
        worker = self._leg_worker.get(leg)
        if worker is None:
            raise MediaError(f"unknown leg {leg}")
        return worker

    async def _leg_closed(self, leg: str, worker: _Worker) -> None:
        """The bookkeeping after a leg closed: its bridge ends (or it stops supervising)."""
        worker.legs.discard(leg)
        self._leg_worker.pop(leg, None)
        bridge = self._bridges.get(self._leg_bridge.get(leg, ""))
        if bridge is None:
            return
        if leg in (bridge.a, bridge.b):
            if bridge.home is not worker:
                await self._quietly(bridge.home, {"t": "unbridge", "bridge": bridge.id})
            await self._dissolve(bridge, skip=leg)
        else:
            await self._drop_supervisor(bridge, leg, tell_home=bridge.home is not worker, closed=True)

    # -- bridges ---------------------------------------------------------------------------------------------

    def _bridge_named(self, bridge_id: str) -> _Bridge:
        bridge = self._bridges.get(bridge_id)
        if bridge is None:
            raise MediaError(f"unknown bridge {bridge_id}")
        return bridge

    async def _export(self, leg: str, home: _Worker) -> dict[str, Any]:
        """Export ``leg`` (of another worker) to ``home``: the ``remote`` entry for the home's command."""
        owner = self._worker_of_leg(leg)
        answer = await self._call(owner, {"t": "leg.export", "leg": leg, "port": home.trunk})
        return {"port": owner.trunk, "codec": answer["codec"], "role": answer["role"]}

    async def _bridge(self, command: dict[str, Any]) -> dict[str, Any]:
        bridge_id, a, b = command["bridge"], command["a"], command["b"]
        if bridge_id in self._bridges:
            raise MediaError(f"bridge {bridge_id} exists")
        for leg in (a, b):
            if leg in self._leg_bridge:
                raise MediaError(f"leg {leg} is already in bridge {self._leg_bridge[leg]}")
        home, owner = self._worker_of_leg(a), self._worker_of_leg(b)
        record = _Bridge(bridge_id, home, a, b)
        if owner is home:
            answer = await self._call(home, command)
        else:
            remote = await self._export(b, home)
            try:
                answer = await self._call(home, {**command, "remote": {b: remote}})
            except BaseException:
                with trio.CancelScope(shield=True):
                    await self._quietly(owner, {"t": "leg.unexport", "leg": b})
                raise
            record.exports[b] = (owner, remote)
        self._bridges[bridge_id] = record
        self._leg_bridge[a] = self._leg_bridge[b] = bridge_id
        home.bridges.add(bridge_id)
        return answer

    async def _supervise(self, command: dict[str, Any]) -> dict[str, Any]:
        bridge = self._bridge_named(command["bridge"])
        leg = command["leg"]
        current = self._leg_bridge.get(leg)
        if current is not None and (current != bridge.id or leg in (bridge.a, bridge.b)):
            raise MediaError(f"leg {leg} is already in bridge {current}")
        owner = self._worker_of_leg(leg)
        if owner is bridge.home:
            answer = await self._call(bridge.home, command)
        else:
            known = bridge.exports.get(leg)
            remote = known[1] if known is not None else await self._export(leg, bridge.home)
            try:
                answer = await self._call(bridge.home, {**command, "remote": {leg: remote}})
            except BaseException:
                if known is None:
                    with trio.CancelScope(shield=True):
                        await self._quietly(owner, {"t": "leg.unexport", "leg": leg})
                raise
            bridge.exports[leg] = (owner, remote)
        bridge.supervisors.add(leg)
        self._leg_bridge[leg] = bridge.id
        return answer

    async def _drop_supervisor(self, bridge: _Bridge, leg: str, *, tell_home: bool, closed: bool = False) -> None:
        if tell_home:
            await self._quietly(bridge.home, {"t": "unsupervise", "bridge": bridge.id, "leg": leg})
        bridge.supervisors.discard(leg)
        self._leg_bridge.pop(leg, None)
        export = bridge.exports.pop(leg, None)
        if export is not None and not closed:
            await self._quietly(export[0], {"t": "leg.unexport", "leg": leg})

    async def _dissolve(self, bridge: _Bridge, skip: str | None) -> None:
        """Forget a bridge its home has closed; un-export its members elsewhere (except ``skip``, closed)."""
        self._bridges.pop(bridge.id, None)
        bridge.home.bridges.discard(bridge.id)
        for leg in (bridge.a, bridge.b, *bridge.supervisors):
            if self._leg_bridge.get(leg) == bridge.id:
                del self._leg_bridge[leg]
        for leg, (owner, _) in bridge.exports.items():
            if leg != skip and owner.alive:
                await self._quietly(owner, {"t": "leg.unexport", "leg": leg})
        bridge.exports.clear()

    async def _quietly(self, worker: _Worker, command: dict[str, Any]) -> None:
        """A clean-up command whose failure changes nothing (the thing is gone already)."""
        try:
            await self._call(worker, command)
        except MediaError as exc:
            log.debug("%s on media worker %d: %s", command["t"], worker.index, exc)

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
            if self._launcher is not None:
                process: WorkerHost = await self._launcher(child)  # it owns ``child`` now
            else:
                try:
                    process = await trio.lowlevel.open_process(
                        [self._python, "-m", "webrtc_gateway.media.worker", "--fd", str(child.fileno()),
                         *self._worker_args], pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL,
                        # Its own process group: a Ctrl+C or a signal to serve's group (timeout, a service
                        # manager) reaches serve, which stops the workers in order; a serve that dies outright
                        # closes the control socket, and the worker exits on that.
                        start_new_session=True)
                finally:
                    child.close()
        except BaseException:
            parent.close()
            raise
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
        worker.trunk = answer.get("trunk", 0)

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
        worker.legs.clear()
        if self._closing:
            return
        with trio.move_on_after(self.request_timeout):
            # bridges homed there are gone (un-export their members elsewhere); bridges elsewhere lose a member
            for bridge_id in sorted(worker.bridges):
                homed = self._bridges.get(bridge_id)
                if homed is not None:
                    await self._dissolve(homed, skip=None)
            for leg in legs:
                bridge = self._bridges.get(self._leg_bridge.get(leg, ""))
                if bridge is not None:
                    await self._leg_closed(leg, worker)
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


