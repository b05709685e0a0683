"""ObserverSink registered in the real runtime like any sink: a raising observer never stops routing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio
import trio.testing

from engine.events import Action, ContactArrived, Event, OfferContact
from engine.journal import Journal
from engine.runtime import Runtime, TrioClock
from plugins import hookimpl
from plugins.manager import ObserverSink, PluginManager


class OfferEverything:
    """A minimal ACD: every arriving contact is offered to agent a1."""

    def validate(self, event: Event) -> None:
        pass

    def feed(self, event: Event, now: float) -> list[Action]:
        if isinstance(event, ContactArrived):
            return [OfferContact("a1", event.contact_id, "voice", "q", now + 20.0, "", {})]
        return []

    def next_deadline(self) -> float | None:
        return None

    def snapshot(self) -> dict[str, Any]:
        return {}


class Counter:
    def __init__(self) -> None:
        self.seen: list[tuple[str, float]] = []

    @hookimpl
    def observe_action(self, action: Action, now: float) -> None:
        self.seen.append((getattr(action, "contact_id", ""), now))


class Broken:
    @hookimpl
    def observe_action(self, action: Action) -> None:
        raise ValueError("webhook down")


async def test_observers_through_the_runtime(tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    manager = PluginManager(autoload=False, builtins=False)
    counter = Counter()
    manager.register(counter, "counter")
    manager.register(Broken(), "broken")
    runtime = Runtime(OfferEverything(), Journal.open(tmp_path, fsync="never"), TrioClock(0.0), prune=False,
                      sinks=[ObserverSink(manager)])
    async with runtime:
        first = await runtime.submit(ContactArrived("c1", queue="q"))
        second = await runtime.submit(ContactArrived("c2", queue="q"))
    assert [a.contact_id for a in first + second] == ["c1", "c2"]  # type: ignore[attr-defined]
    assert [cid for cid, _ in counter.seen] == ["c1", "c2"]
    assert manager.faults == {"broken": 2}
    assert runtime.sink_errors == 0  # isolated inside the sink: the runtime never saw an exception
