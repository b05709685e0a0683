"""Ordered background work per key: ``Lanes(nursery).push(key, job)`` runs ``job`` after the jobs pushed before it
with the same key, and concurrently with other keys' jobs.

The gateway runs the effects of each call in its own lane (keyed by contact or agent), so that one call's media
commands keep their order (stop the music, then bridge) while a slow worker command never holds up another call.
A job that raises is logged and the lane goes on; a lane's task ends when it runs out of jobs (no idle tasks).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable

import trio

log = logging.getLogger("switchboard.webrtc")

Job = Callable[[], Awaitable[object]]


class Lanes:
    """See the module docstring. ``nursery``: where the lanes' tasks run (their lifetime)."""

    def __init__(self, nursery: trio.Nursery) -> None:
        self.nursery = nursery
        self._lanes: dict[str, deque[Job]] = {}
        self.failures = 0

    def push(self, key: str, job: Job) -> None:
        lane = self._lanes.get(key)
        if lane is not None:
            lane.append(job)
            return
        lane = self._lanes[key] = deque([job])
        self.nursery.start_soon(self._run, key, lane)

    def busy(self) -> int:
        """Lanes with work queued or running."""
        return len(self._lanes)

    async def _run(self, key: str, lane: deque[Job]) -> None:
        try:
            while lane:
                job = lane[0]
                try:
                    await job()
                except Exception:
                    self.failures += 1
                    log.exception("gateway work for %s failed; the next goes on", key)
                lane.popleft()
        finally:
            if self._lanes.get(key) is lane:
                del self._lanes[key]
