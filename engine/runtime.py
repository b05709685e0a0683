"""The trio side of the engine: one ACD, its journal, its timers and the sinks that carry its actions out.

Theory of operation
-------------------
``Runtime.submit(event)`` is the only way into the ACD. Under one lock it:

1. asks the ACD whether the event is acceptable (``validate``); an ``AcdError`` goes back to the caller and
   nothing is journaled;
2. gives the event the next sequence number and appends it to the journal (and, with ``fsync="always"``, waits
   for the fsync in a worker thread);
3. feeds it to the ACD at the runtime's ``now`` and returns the actions;
4. hands the actions to every sink, in order: a sink is anything with ``handle(action, now)``; a plain method is
   called inline (keep it fast), an ``async def`` one gets its own task and a buffered channel so that a slow
   sink never holds routing up. A sink that raises is logged and goes on receiving the next actions.

Steps 2 and 3 are shielded from cancellation, so the journal and the ACD never disagree. Every action a sink
sees belongs to an event already in the journal.

Events can also be sent on ``runtime.events`` (a trio memory channel); a refused one is logged.

Time: ``now`` comes from the injected ``clock`` (a callable). The default, ``TrioClock.wall()``, is the wall clock
taken once at start and advanced by trio's clock, so ACD deadlines (wall-clock seconds) map exactly onto trio
deadlines; ``TrioClock(0.0)`` under ``trio.testing.MockClock`` makes ``now`` the virtual time itself. ``now`` never
goes backwards. A timer task sleeps until ``acd.next_deadline()`` (re-armed whenever an event moves it) and then
submits ``Tick()`` with ``now`` at least the deadline, so a ring timeout of 20 s fires at exactly t0 + 20.

Snapshots: every ``snapshot_every`` events the state is taken and packed (on the loop, it must be consistent), the
journal rotates, and a background task writes the file and prunes old ones in a worker thread. On shutdown
(cancellation), under a shielded cancel scope, the journal is synced, a final snapshot is written and the journal
is closed: the runtime owns the journal it was given.
"""

from __future__ import annotations

import inspect
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any, Protocol

import trio

from engine import journal as journal_mod
from engine.errors import AcdError
from engine.events import Action, Event, Tick
from engine.journal import Journal

log = logging.getLogger("switchboard.runtime")


class AcdLike(Protocol):
    def validate(self, event: Event) -> None: ...
    def feed(self, event: Event, now: float) -> list[Action]: ...
    def next_deadline(self) -> float | None: ...
    def snapshot(self) -> dict[str, Any]: ...


class TrioClock:
    """``now = trio.current_time() + offset``: the engine's time on trio's clock, so deadlines map exactly."""

    def __init__(self, offset: float | None = 0.0) -> None:
        self.offset = offset

    @classmethod
    def wall(cls) -> TrioClock:
        """Unix time, read once (on first use, inside trio) and then advanced by trio's monotonic clock."""
        return cls(None)

    def _ensure(self) -> float:
        if self.offset is None:
            self.offset = time.time() - trio.current_time()
        return self.offset

    def __call__(self) -> float:
        return trio.current_time() + self._ensure()

    def to_trio(self, t: float) -> float:
        """The trio deadline at which ``now`` reaches ``t``."""
        return t - self._ensure()


class Runtime:
    """Drives one ACD: journal before acting, timers, action sinks, snapshots. See the module docstring."""

    def __init__(self, acd: AcdLike, journal: Journal, clock: Callable[[], float] | None = None, *,
                 snapshot_every: int = 10_000, keep_snapshots: int = 2, prune: bool = True,
                 sinks: Iterable[Any] = (), sink_buffer: int = 10_000, event_buffer: int = 1_000,
                 snapshot_on_close: bool = True) -> None:
        self.acd = acd
        self.journal = journal
        self.clock: Callable[[], float] = clock if clock is not None else TrioClock.wall()
        self.snapshot_every = snapshot_every
        self.keep_snapshots = keep_snapshots
        self.prune = prune
        self.snapshot_on_close = snapshot_on_close
        self.sink_buffer = sink_buffer
        self.seq = journal.last_seq
        self.snapshot_seq = journal.last_seq  # what replay already starts from (recovered state)
        self.accepted = 0
        self.refused = 0
        self.sink_errors = 0
        self.dropped_actions = 0
        self._last_now = journal.last_now if journal.last_now is not None else float("-inf")
        self._lock = trio.Lock()
        self._rearm = trio.Event()
        self._armed: float | None = None
        self._sync_sinks: list[Any] = []
        self._async_sinks: list[_AsyncSink] = []
        self._nursery: trio.Nursery | None = None
        self._running = False
        self._closed = False
        self._snapshot_writing = False
        self._snapshot_idle = trio.Event()
        self._snapshot_idle.set()
        self.snapshots_written: list[int] = []
        self.events, self._events_in = trio.open_memory_channel[Event](event_buffer)
        for sink in sinks:
            self.add_sink(sink)

    # ------------------------------------------------------------------------------------------ sinks ----

    def add_sink(self, sink: Any) -> None:
        """Register an object with ``handle(action, now)`` (plain or ``async def``) to receive every action."""
        handle = getattr(sink, "handle", None)
        if handle is None:
            raise TypeError(f"{sink!r} has no handle(action, now) method")
        if inspect.iscoroutinefunction(handle):
            runner = _AsyncSink(sink, self.sink_buffer, self)
            self._async_sinks.append(runner)
            if self._nursery is not None:
                self._nursery.start_soon(runner.run)
        else:
            self._sync_sinks.append(sink)

    def remove_sink(self, sink: Any) -> None:
        if sink in self._sync_sinks:
            self._sync_sinks.remove(sink)
        for runner in list(self._async_sinks):
            if runner.sink is sink:
                self._async_sinks.remove(runner)
                runner.send.close()

    def _deliver(self, actions: list[Action], now: float) -> None:
        for action in actions:
            for sink in self._sync_sinks:
                try:
                    sink.handle(action, now)
                except Exception:
                    self.sink_errors += 1
                    log.exception("sink %r raised on %s; isolated, routing goes on", sink, type(action).__name__)
            for runner in self._async_sinks:
                runner.offer(action, now)

    # ------------------------------------------------------------------------------------------- time ----

    def now(self) -> float:
        """The engine's time now (never less than the time of the last event)."""
        t = self.clock()
        if t < self._last_now:
            t = self._last_now
        return t

    def trio_deadline(self, t: float) -> float:
        """The trio time at which the engine's ``now`` reaches ``t``."""
        to_trio = getattr(self.clock, "to_trio", None)
        if to_trio is not None:
            return float(to_trio(t))
        return trio.current_time() + (t - self.clock())

    # ----------------------------------------------------------------------------------------- submit ----

    async def submit(self, event: Event) -> list[Action]:
        """Validate, journal, feed; return the ACD's actions (also sent to the sinks). ``AcdError`` if refused."""
        return await self._submit(event, None)

    async def _submit(self, event: Event, at_least: float | None) -> list[Action]:
        if self._closed:
            raise RuntimeError("the runtime has shut down")
        async with self._lock:
            if self._closed:
                raise RuntimeError("the runtime has shut down")
            try:
                self.acd.validate(event)
            except AcdError:
                self.refused += 1
                raise
            now = self.now()
            if at_least is not None and now < at_least:
                now = at_least
            seq = self.seq + 1
            with trio.CancelScope(shield=True):
                self.journal.append(seq, now, event, sync=False)
                self.seq = seq
                if self.journal.fsync == "always":
                    await self._sync_journal()
                try:
                    actions = self.acd.feed(event, now)
                except AcdError:
                    # validate() said yes but feed() said no (state unchanged): take the frame back out so that
                    # the journal and the ACD agree, and refuse the event like any other.
                    log.error("ACD refused %s (seq %d) after validating it; frame taken back out",
                              type(event).__name__, seq)
                    self.journal.undo_last()
                    self.seq = seq - 1
                    self.refused += 1
                    raise
                except Exception:
                    log.critical("ACD raised on %s (seq %d): its state may no longer match the journal",
                                 type(event).__name__, seq)
                    raise
            self._last_now = now
            self.accepted += 1
            self._deliver(actions, now)
            deadline = self.acd.next_deadline()
            if deadline != self._armed:
                self._rearm.set()
            if self.seq - self.snapshot_seq >= self.snapshot_every and not self._snapshot_writing and \
                    self._nursery is not None:
                await self._start_snapshot()
            return actions

    async def _sync_journal(self) -> None:
        fd = self.journal.sync_handle()
        if fd is None:
            return

        def work() -> None:
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

        await trio.to_thread.run_sync(work)

    # -------------------------------------------------------------------------------------- snapshots ----

    def _take_snapshot(self) -> tuple[int, bytes]:
        seq = self.seq
        return seq, journal_mod.encode_snapshot(seq, self.acd.snapshot())

    async def _start_snapshot(self) -> None:
        """Called under the lock: capture state, rotate the journal, write the file in the background."""
        seq, payload = self._take_snapshot()
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(self.journal.rotate)
        self.snapshot_seq = seq
        self._snapshot_writing = True
        self._snapshot_idle = trio.Event()
        assert self._nursery is not None
        self._nursery.start_soon(self._write_snapshot, seq, payload)

    async def _write_snapshot(self, seq: int, payload: bytes) -> None:
        try:
            await trio.to_thread.run_sync(self._write_snapshot_sync, seq, payload)
        except Exception:
            log.exception("snapshot at seq %d failed; the journal still holds every event", seq)
        finally:
            self._snapshot_writing = False
            self._snapshot_idle.set()

    async def wait_snapshots(self) -> None:
        """Return once no snapshot is being written in the background."""
        await self._snapshot_idle.wait()

    def _write_snapshot_sync(self, seq: int, payload: bytes) -> None:
        path = journal_mod.write_encoded_snapshot(self.journal.data_dir, seq, payload,
                                                  fsync=self.journal.fsync != "never")
        self.snapshots_written.append(seq)
        log.info("snapshot %s written", path.name)
        if self.prune:
            for p in journal_mod.prune(self.journal.data_dir, self.keep_snapshots):
                log.debug("pruned %s", p.name)

    async def snapshot_now(self) -> int:
        """Take a snapshot at the current seq and write it before returning; returns the seq."""
        async with self._lock:
            seq, payload = self._take_snapshot()
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(self.journal.rotate)
                self.snapshot_seq = seq
                await trio.to_thread.run_sync(self._write_snapshot_sync, seq, payload)
            return seq

    # ----------------------------------------------------------------------------------------- tasks ----

    async def _timer_loop(self) -> None:
        while True:
            self._rearm = trio.Event()
            deadline = self.acd.next_deadline()
            self._armed = deadline
            if deadline is None:
                await self._rearm.wait()
                continue
            with trio.move_on_at(self.trio_deadline(deadline)):
                await self._rearm.wait()
                continue
            current = self.acd.next_deadline()
            if current is None or current > deadline:
                continue  # the timer went away while we slept (offer answered, contact gone)
            try:
                await self._submit(Tick(), deadline)
            except AcdError as exc:
                log.error("Tick refused: %s", exc)
                await trio.sleep(0.001)

    async def _inbox_loop(self) -> None:
        async for event in self._events_in:
            try:
                await self.submit(event)
            except AcdError as exc:
                log.info("event %s refused: %s", type(event).__name__, exc)

    async def _sync_loop(self) -> None:
        interval = max(self.journal.batch_ms, 1.0) / 1000.0
        while True:
            await trio.sleep(interval)
            if self.journal.dirty:
                await self._sync_journal()

    async def run(self, *, task_status: trio.TaskStatus[Runtime] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled; ``await nursery.start(runtime.run)`` returns once events are accepted."""
        if self._running or self._closed:
            raise RuntimeError("a Runtime runs once")
        self._running = True
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._timer_loop)
                nursery.start_soon(self._inbox_loop)
                if self.journal.fsync == "batch":
                    nursery.start_soon(self._sync_loop)
                for runner in self._async_sinks:
                    nursery.start_soon(runner.run)
                task_status.started(self)
        finally:
            self._nursery = None
            with trio.CancelScope(shield=True):
                await self._shutdown()

    async def _shutdown(self) -> None:
        async with self._lock:
            self._closed = True
            try:
                if self.snapshot_on_close and self.seq > self.snapshot_seq and not self.journal.closed:
                    seq, payload = self._take_snapshot()
                    await trio.to_thread.run_sync(self.journal.rotate)
                    self.snapshot_seq = seq
                    await trio.to_thread.run_sync(self._write_snapshot_sync, seq, payload)
            except Exception:
                log.exception("final snapshot failed; the journal still holds every event")
            finally:
                await trio.to_thread.run_sync(self.journal.close)
            log.info("runtime stopped at seq %d", self.seq)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Runtime]:
        """``async with runtime.running():`` runs the runtime in a nursery of its own for the block."""
        async with trio.open_nursery() as nursery:
            await nursery.start(self.run)
            try:
                yield self
            finally:
                nursery.cancel_scope.cancel()

    async def __aenter__(self) -> Runtime:
        self._cm = self.running()
        return await self._cm.__aenter__()

    async def __aexit__(self, *exc: Any) -> bool | None:
        return await self._cm.__aexit__(*exc)


class _AsyncSink:
    """One async sink's task: its actions in order through a buffer, errors logged and isolated."""

    def __init__(self, sink: Any, buffer: int, runtime: Runtime) -> None:
        self.sink = sink
        self.runtime = runtime
        self.send, self.receive = trio.open_memory_channel[tuple[Action, float]](buffer)

    def offer(self, action: Action, now: float) -> None:
        try:
            self.send.send_nowait((action, now))
        except trio.WouldBlock:
            self.runtime.dropped_actions += 1
            log.error("sink %r is too slow: buffer full, %s dropped", self.sink, type(action).__name__)
        except trio.ClosedResourceError:
            pass

    async def run(self) -> None:
        async for action, now in self.receive:
            try:
                await self.sink.handle(action, now)
            except Exception:
                self.runtime.sink_errors += 1
                log.exception("sink %r raised on %s; isolated, routing goes on", self.sink, type(action).__name__)
