"""``ScheduledEvents``: due events submitted in batches, ``due`` told the time the event was scheduled for."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import trio
import trio.testing

from engine.events import AgentLogin, AgentReady, Event
from engine.journal import Journal
from engine.runtime import Runtime, TrioClock
from engine.sim.live import ScheduledEvents


class CountingAcd:
    """Accepts everything, acts on nothing."""

    def validate(self, event: Event) -> None:
        pass

    def feed(self, event: Event, now: float) -> list[Any]:
        return []

    def next_deadline(self) -> float | None:
        return None

    def snapshot(self) -> dict[str, Any]:
        return {}


class Schedule(ScheduledEvents):
    """Logs agent ``a<n>`` in at each time of ``times``; each login due schedules that agent's ready 0.25 s on."""

    def __init__(self, runtime: Runtime, times: list[float], **kwargs: Any) -> None:
        super().__init__(runtime, **kwargs)
        self.times = times
        self.due_at: list[tuple[str, float]] = []

    def first_events(self, now: float) -> Iterable[tuple[float, Event]]:
        return [(t, AgentLogin(f"a{i}")) for i, t in enumerate(self.times)]

    def due(self, event: Event, at: float) -> Iterable[tuple[float, Event]] | None:
        self.due_at.append((type(event).__name__, at))
        if isinstance(event, AgentLogin):
            return [(at + 0.25, AgentReady(event.agent_id))]
        return ()


async def _run(tmp_path: Path, times: list[float], until: float, **kwargs: Any) -> tuple[Runtime, Schedule, list[int]]:
    runtime = Runtime(CountingAcd(), Journal.open(tmp_path, fsync="never"), TrioClock(0.0), snapshot_on_close=False)
    schedule = Schedule(runtime, times, **kwargs)
    batches: list[int] = []
    submit_many = runtime.submit_many

    async def counted(events: Any) -> Any:
        events = list(events)
        batches.append(len(events))
        return await submit_many(events)

    runtime.submit_many = counted  # type: ignore[method-assign]
    async with trio.open_nursery() as nursery:
        await nursery.start(runtime.run)
        await nursery.start(schedule.run)
        await trio.sleep_until(until)
        nursery.cancel_scope.cancel()
    return runtime, schedule, batches


async def test_events_due_together_go_as_one_batch(tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    runtime, schedule, batches = await _run(tmp_path, [1.0, 1.0, 1.0, 2.0], until=5.0)
    assert batches == [3, 3, 1, 1] and schedule.submitted == runtime.accepted == 8
    assert schedule.due_at[:3] == [("AgentLogin", 1.0)] * 3


async def test_granularity_batches_what_falls_due_meanwhile(tmp_path: Path,
                                                           autojump_clock: trio.testing.MockClock) -> None:
    times = [1.0 + i / 64 for i in range(10)]  # exact binary fractions: no rounding at the batch boundaries
    _, schedule, batches = await _run(tmp_path, times, until=5.0, granularity_s=4 / 64)
    assert batches == [1, 4, 4, 1] * 2
    # each event is told the time it was scheduled for, however late it was submitted
    assert [at for kind, at in schedule.due_at if kind == "AgentLogin"] == times
