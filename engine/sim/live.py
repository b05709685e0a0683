"""``LiveAdapter``: any simulated channel adapter driven against the trio runtime instead of the virtual-time driver.

The simulator's adapters (``SimulatedChannel``, ``SimulatedCarrier``, ``CombinedAdapter``) speak the driver's
protocol: ``start(now)`` gives the first events, ``handler_for(kind)`` the reaction to an action (events to
schedule), ``due_for(kind)`` the check made when a scheduled event comes due (``None`` drops it). ``LiveAdapter``
is an action sink of a ``Runtime`` (``handle``) and a task (``run``) that submits each scheduled event when the
runtime's clock reaches it, so the same simulated world runs against the journaled engine, with the real timers,
exactly as a real channel adapter would (under ``trio.testing.MockClock`` in tests). Events the engine refuses
(an answer to a call that has meanwhile ended) are counted and dropped, as a real channel's would be.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Iterable
from typing import Any

import trio

from engine.errors import AcdError
from engine.events import Action, Event

log = logging.getLogger("switchboard.sim.live")


class LiveAdapter:
    """``adapter`` (the driver's protocol) against ``runtime``. See the module docstring."""

    def __init__(self, runtime: Any, adapter: Any) -> None:
        self.runtime = runtime
        self.adapter = adapter
        self._heap: list[tuple[float, int, Event]] = []
        self._n = 0
        self._wake = trio.Event()
        self.submitted = 0
        self.refused = 0

    def _push(self, items: Iterable[tuple[float, Event]]) -> None:
        for at, event in items:
            self._n += 1
            heapq.heappush(self._heap, (at, self._n, event))
        self._wake.set()

    def handle(self, action: Action, now: float) -> None:
        """The runtime's sink: the adapter's reaction to ``action``, scheduled."""
        handler = self.adapter.handler_for(type(action))
        if handler is not None:
            self._push(handler(action, now))

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Submit the scheduled events as they come due, until cancelled."""
        runtime = self.runtime
        self._push(self.adapter.start(runtime.now()))
        task_status.started()
        while True:
            self._wake = trio.Event()
            if not self._heap:
                await self._wake.wait()
                continue
            at = self._heap[0][0]
            if at > runtime.now():
                with trio.move_on_at(runtime.trio_deadline(at)):
                    await self._wake.wait()
                continue
            _, _, event = heapq.heappop(self._heap)
            due = self.adapter.due_for(type(event))
            if due is not None:
                follow = due(event, max(at, runtime.now()))
                if follow is None:
                    continue
                self._push(follow)
            try:
                await runtime.submit(event)
                self.submitted += 1
            except AcdError as exc:
                self.refused += 1
                log.debug("simulated %s refused: %s", type(event).__name__, exc)
