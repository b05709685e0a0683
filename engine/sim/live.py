"""Simulated adapters driven in real (or trio's virtual) time against the runtime, instead of the virtual-time driver.

``ScheduledEvents`` is the machinery: a heap of ``(time, event)`` and a task (``run``) that submits each event when
the runtime's clock reaches its time. Events that are due together are submitted as one batch
(``Runtime.submit_many``: one scheduling round for the batch, not one per event); with ``granularity_s`` the task
also sleeps at least that long between batches, so that at a high rate it wakes a few hundred times a second rather
than once per event (each event is then submitted up to ``granularity_s`` late, which a simulated caller or agent
does not notice). A subclass says what is due with ``due(event, at)``: the events to schedule in answer, or ``None``
to drop the event (a timer cancelled meanwhile). ``at`` is the time the event was scheduled for, not the time it
is submitted: a simulator that falls behind catches up (its arrivals keep their rate) rather than slowing down with
the engine it measures. Events the engine refuses (an answer to a call that has meanwhile ended) are counted and
dropped, as a real channel's would be.

``LiveAdapter`` drives any simulated channel adapter that speaks the driver's protocol (``SimulatedChannel``,
``SimulatedCarrier``, ``CombinedAdapter``): ``start(now)`` gives the first events, ``handler_for(kind)`` the
reaction to an action (events to schedule), ``due_for(kind)`` the check made when a scheduled event comes due
(``None`` drops it). It is an action sink of a ``Runtime`` (``handle``), so the same simulated world runs against the
journaled engine, with the real timers, exactly as a real channel adapter would (under ``trio.testing.MockClock``
in tests).
"""

from __future__ import annotations

import heapq
import logging
import math
from collections.abc import Iterable
from typing import Any

import trio

from engine.errors import AcdError
from engine.events import Action, Event

log = logging.getLogger("switchboard.sim.live")

MAX_BATCH = 256
"""Events submitted under one acquisition of the runtime's lock at most (the others wait for the next round)."""


class ScheduledEvents:
    """Events scheduled at engine times, submitted to ``runtime`` in batches as they come due. See the module
    docstring. Subclasses implement ``first_events(now)`` and ``due(event, at)``."""

    def __init__(self, runtime: Any, *, granularity_s: float = 0.0) -> None:
        self.runtime = runtime
        self.granularity_s = granularity_s
        self._heap: list[tuple[float, int, Event]] = []
        self._n = 0
        self._sleep: trio.CancelScope | None = None  # the task's sleep, while it sleeps
        self._sleep_until = math.inf  # the engine time it sleeps until
        self.submitted = 0
        self.refused = 0

    def first_events(self, now: float) -> Iterable[tuple[float, Event]]:
        """What to schedule when ``run`` starts."""
        return ()

    def due(self, event: Event, at: float) -> Iterable[tuple[float, Event]] | None:
        """``event`` (scheduled for ``at``) came due: the events to schedule in answer, or ``None`` to drop it."""
        return ()

    def _push(self, items: Iterable[tuple[float, Event]]) -> None:
        heap = self._heap
        earliest = math.inf
        for at, event in items:
            self._n += 1
            heapq.heappush(heap, (at, self._n, event))
            if at < earliest:
                earliest = at
        if earliest < self._sleep_until and self._sleep is not None:
            self._sleep_until = earliest
            self._sleep.deadline = self.runtime.trio_deadline(earliest)

    def _take_due(self, now: float) -> list[Event]:
        heap, batch = self._heap, list[Event]()
        while heap and heap[0][0] <= now and len(batch) < MAX_BATCH:
            at, _, event = heapq.heappop(heap)
            follow = self.due(event, at)
            if follow is None:
                continue
            self._push(follow)
            batch.append(event)
        return batch

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Submit the scheduled events as they come due, until cancelled."""
        runtime = self.runtime
        self._push(self.first_events(runtime.now()))
        task_status.started()
        while True:
            batch = self._take_due(runtime.now())
            if batch:
                for event, outcome in zip(batch, await runtime.submit_many(batch), strict=True):
                    if isinstance(outcome, AcdError):
                        self.refused += 1
                        log.debug("simulated %s refused: %s", type(event).__name__, outcome)
                    else:
                        self.submitted += 1
            wake = self._heap[0][0] if self._heap else math.inf
            if batch and self.granularity_s > 0:
                wake = max(wake, runtime.now() + self.granularity_s)
            elif wake <= runtime.now():
                await trio.lowlevel.checkpoint()  # more are due already (a batch was full)
                continue
            self._sleep_until = wake
            with trio.CancelScope(deadline=runtime.trio_deadline(wake) if wake < math.inf else math.inf
                                  ) as self._sleep:
                await trio.sleep_forever()
            self._sleep, self._sleep_until = None, math.inf


class LiveAdapter(ScheduledEvents):
    """``adapter`` (the driver's protocol) against ``runtime``. See the module docstring."""

    def __init__(self, runtime: Any, adapter: Any, *, granularity_s: float = 0.0) -> None:
        super().__init__(runtime, granularity_s=granularity_s)
        self.adapter = adapter

    def handle(self, action: Action, now: float) -> None:
        """The runtime's sink: the adapter's reaction to ``action``, scheduled."""
        handler = self.adapter.handler_for(type(action))
        if handler is not None:
            self._push(handler(action, now))

    def first_events(self, now: float) -> Iterable[tuple[float, Event]]:
        return self.adapter.start(now)

    def due(self, event: Event, at: float) -> Iterable[tuple[float, Event]] | None:
        check = self.adapter.due_for(type(event))
        return () if check is None else check(event, at)
