"""The trio side of the engine: one ACD, its journal, its timers and the sinks that carry its actions out.

Theory of operation
-------------------
``Runtime.submit(event)`` is the only way into the ACD. Under one lock it:

1. asks the ACD whether the event is acceptable (``validate``); an ``AcdError`` goes back to the caller and
   nothing is journaled;
2. gives the event the next sequence number and appends it to the journal (and, with ``fsync="always"``, waits
   for the fsync in a worker thread);
3. feeds it to the ACD at the runtime's ``now`` and returns the actions;
4. hands the actions to the sinks, in order: a sink is anything with ``handle(action, now)``; a plain method is
   called inline (keep it fast), an ``async def`` one gets its own task and a buffer so that a slow sink never
   holds routing up. A sink that raises is logged and goes on receiving the next actions. A sink may declare
   ``accepts``, the action types it wants (a collection of classes, subclasses included; absent or ``None``:
   every action); it is then offered only those, which spares the runtime a call (or a buffer entry and a task
   wake-up) per action it would have ignored.

Steps 2 and 3 happen with no checkpoint in between (with ``fsync="always"`` the wait for the fsync is shielded
from cancellation), so the journal and the ACD never disagree. Every action a sink sees belongs to an event
already in the journal; each sink sees its actions in the order they were produced.

``submit_many(events)`` does the same for a batch under one acquisition of the lock (one scheduling round instead
of one per event): each event is still validated, journaled, fed and its actions delivered before the next one is
looked at, and a refused one does not stop the others.

Events can also be sent on ``runtime.events`` (a trio memory channel); a refused one is logged.

Time: ``now`` comes from the injected ``clock`` (a callable). The default, ``TrioClock.wall()``, is the wall clock
taken once at start and advanced by trio's clock, so ACD deadlines (wall-clock seconds) map exactly onto trio
deadlines; ``TrioClock(0.0)`` under ``trio.testing.MockClock`` makes ``now`` the virtual time itself. ``now`` never
goes backwards. A timer task sleeps until ``acd.next_deadline()`` and then submits ``Tick()`` with ``now`` at least
the deadline, so a ring timeout of 20 s fires at exactly t0 + 20. An event that moves the deadline earlier moves the
sleeping timer's deadline in place (no wake-up); one that moves it later or removes it leaves the timer to wake at
the old deadline, find nothing due, and sleep again: most events move it later, and one early wake-up per timer
is cheaper than a re-arm per event.

Snapshots: every ``snapshot_every`` events the state is taken and packed (on the loop, it must be consistent), the
journal rotates, and a background task writes the file and prunes old ones in a worker thread. On shutdown
(cancellation), under a shielded cancel scope, the journal is synced, a final snapshot is written and the journal
is closed: the runtime owns the journal it was given.
"""

from __future__ import annotations

import inspect
import logging
import math
import os
import time
from collections import deque
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
        self._armed: float | None = None  # the deadline the timer task sleeps until
        self._timer_scope: trio.CancelScope | None = None  # its sleep, while it sleeps
        self._sync_sinks: list[Any] = []
        self._async_sinks: list[_AsyncSink] = []
        self._accepts: dict[int, tuple[type, ...] | None] = {}  # id(sink) -> what it accepts (None: everything)
        self._routes: dict[type, tuple[tuple[Any, ...], tuple[_AsyncSink, ...]]] = {}  # action type -> its sinks
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
        """Register an object with ``handle(action, now)`` (plain or ``async def``) to receive the actions of the
        types in its ``accepts`` (every action when it has none). ``accepts`` is read here, once."""
        handle = getattr(sink, "handle", None)
        if handle is None:
            raise TypeError(f"{sink!r} has no handle(action, now) method")
        accepts = getattr(sink, "accepts", None)
        if accepts is not None:
            accepts = tuple(accepts)
            if not all(isinstance(kind, type) for kind in accepts):
                raise TypeError(f"{sink!r}: accepts must be a collection of action classes, got {accepts!r}")
        self._accepts[id(sink)] = accepts
        if inspect.iscoroutinefunction(handle):
            runner = _AsyncSink(sink, self.sink_buffer, self)
            self._async_sinks.append(runner)
            if self._nursery is not None:
                self._nursery.start_soon(runner.run)
        else:
            self._sync_sinks.append(sink)
        self._routes.clear()

    def remove_sink(self, sink: Any) -> None:
        self._accepts.pop(id(sink), None)
        if sink in self._sync_sinks:
            self._sync_sinks.remove(sink)
        for runner in list(self._async_sinks):
            if runner.sink is sink:
                self._async_sinks.remove(runner)
                runner.close()
        self._routes.clear()

    def sink_backlog(self) -> int:
        """Actions offered to the async sinks and not yet handled (the most behind sink's count)."""
        return max((len(runner) for runner in self._async_sinks), default=0)

    def _route(self, kind: type) -> tuple[tuple[Any, ...], tuple[_AsyncSink, ...]]:
        """The sinks that want actions of type ``kind``, in registration order (cached until the sinks change)."""
        def wants(sink: Any) -> bool:
            accepts = self._accepts.get(id(sink))
            return accepts is None or issubclass(kind, accepts)

        route = (tuple(sink for sink in self._sync_sinks if wants(sink)),
                 tuple(runner for runner in self._async_sinks if wants(runner.sink)))
        self._routes[kind] = route
        return route

    def _deliver(self, actions: list[Action], now: float) -> None:
        routes = self._routes
        for action in actions:
            route = routes.get(type(action))
            if route is None:
                route = self._route(type(action))
            for sink in route[0]:
                try:
                    sink.handle(action, now)
                except Exception:
                    self.sink_errors += 1
                    log.exception("sink %r raised on %s; isolated, routing goes on", sink, type(action).__name__)
            for runner in route[1]:
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

    async def submit_many(self, events: Iterable[Event]) -> list[list[Action] | AcdError]:
        """Submit ``events`` in order under one acquisition of the lock; for each, its actions or the ``AcdError``
        that refused it (a refusal does not stop the others). Each event is validated, journaled, fed and its
        actions delivered before the next one is validated, exactly as with one ``submit`` each."""
        self._check_open()
        out: list[list[Action] | AcdError] = []
        async with self._lock:
            self._check_open()
            for event in events:
                try:
                    out.append(await self._accept(event, None))
                except AcdError as exc:
                    out.append(exc)
                    continue
                await self._snapshot_if_due()
        return out

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the runtime has shut down")

    async def _submit(self, event: Event, at_least: float | None) -> list[Action]:
        self._check_open()
        async with self._lock:
            self._check_open()
            actions = await self._accept(event, at_least)
            await self._snapshot_if_due()
            return actions

    async def _accept(self, event: Event, at_least: float | None) -> list[Action]:
        """Under the lock: validate, journal, feed, deliver. Checkpoints only with ``fsync="always"`` (shielded)."""
        try:
            self.acd.validate(event)
        except AcdError:
            self.refused += 1
            raise
        now = self.now()
        if at_least is not None and now < at_least:
            now = at_least
        seq = self.seq + 1
        self.journal.append(seq, now, event, sync=False)
        self.seq = seq
        if self.journal.fsync == "always":
            with trio.CancelScope(shield=True):
                await self._sync_journal()
        try:
            actions = self.acd.feed(event, now)
        except AcdError:
            # validate() said yes but feed() said no (state unchanged): take the frame back out so that the
            # journal and the ACD agree, and refuse the event like any other.
            log.error("ACD refused %s (seq %d) after validating it; frame taken back out", type(event).__name__, seq)
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
        if deadline is not None and (self._armed is None or deadline < self._armed):
            self._armed = deadline
            if self._timer_scope is not None:
                self._timer_scope.deadline = self.trio_deadline(deadline)
        return actions

    async def _snapshot_if_due(self) -> None:
        if self.seq - self.snapshot_seq >= self.snapshot_every and not self._snapshot_writing and \
                self._nursery is not None:
            await self._start_snapshot()

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
            self._armed = self.acd.next_deadline()
            with trio.CancelScope(deadline=math.inf if self._armed is None else self.trio_deadline(self._armed)
                                  ) as self._timer_scope:
                await trio.sleep_forever()
            self._timer_scope = None
            deadline = self._armed  # moved earlier by ``_accept`` while we slept, maybe
            current = self.acd.next_deadline()
            if deadline is None or current is None or current > deadline:
                continue  # the timer went away or moved later while we slept (offer answered, contact gone)
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
    """One async sink's task: its actions in order through a buffer of ``buffer`` actions (beyond that, dropped
    and counted), errors logged and isolated.

    The buffer is a deque rather than a memory channel: ``offer`` is an append, the task is woken once per burst
    rather than once per action, and it drains the burst without a scheduling round per action (a checkpoint every
    ``FAIR_EVERY`` actions keeps a long burst from holding the other tasks up).
    """

    FAIR_EVERY = 64

    def __init__(self, sink: Any, buffer: int, runtime: Runtime) -> None:
        self.sink = sink
        self.runtime = runtime
        self.buffer = buffer
        self._pending: deque[tuple[Action, float]] = deque()
        self._wake: trio.Event | None = None  # set while the task waits for actions
        self._closed = False

    def offer(self, action: Action, now: float) -> None:
        if self._closed:
            return
        if len(self._pending) >= self.buffer:
            self.runtime.dropped_actions += 1
            log.error("sink %r is too slow: buffer full, %s dropped", self.sink, type(action).__name__)
            return
        self._pending.append((action, now))
        if self._wake is not None:
            self._wake.set()
            self._wake = None

    def __len__(self) -> int:
        return len(self._pending)

    def close(self) -> None:
        """No more actions: the task hands on what is buffered, then ends."""
        self._closed = True
        if self._wake is not None:
            self._wake.set()
            self._wake = None

    async def run(self) -> None:
        pending, handle = self._pending, self.sink.handle
        handled = 0
        while True:
            if not pending:
                if self._closed:
                    return
                self._wake = wake = trio.Event()
                await wake.wait()
                continue
            action, now = pending.popleft()
            try:
                await handle(action, now)
            except Exception:
                self.runtime.sink_errors += 1
                log.exception("sink %r raised on %s; isolated, routing goes on", self.sink, type(action).__name__)
            handled += 1
            if handled % self.FAIR_EVERY == 0:
                await trio.lowlevel.checkpoint()
