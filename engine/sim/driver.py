"""The discrete-event driver: runs the production ACD in virtual time against a simulated channel.

Theory of operation
-------------------
A heap of ``(time, seq, event)`` holds every scheduled event; ``seq`` (a counter) makes ties first-scheduled,
first-fed, so a run is a pure function of its inputs and seed. Each step takes the earlier of the next event and the
ACD's own ``next_deadline()`` (an ACD timer wins a tie: the ACD's timers were armed before anything scheduled for
that instant could see their effect), feeds ``Tick()`` or the event at that time, and routes every returned action
to the observers (in order) and to the channel adapter, whose ``handle(action, now)`` returns more ``(time, event)``
to schedule. When an event comes due the adapter is asked first (``due(event, now)``): it may drop it (a timer it
has cancelled: a patience that ran out after the caller was connected, an answer for an offer withdrawn) or
schedule follow-ups (the next arrival of a Poisson stream). The loop ends when nothing is scheduled and the ACD has
no timer, or at ``until``.

It is the same ``Acd`` as in production: the driver only decides what time it is.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from engine.errors import SwitchboardError
from engine.events import Action, Event, Tick

Scheduled = tuple[float, Event]


class ChannelAdapter(Protocol):
    """What the driver needs from a simulated channel (``engine.sim.channel.SimulatedChannel``).

    Optionally, for speed, ``handler_for(kind)`` / ``due_for(kind)`` return the callable that ``handle`` / ``due``
    would use for that action / event type, or None when it would do nothing; the driver then calls it directly.
    Observers may likewise have ``handler_for(kind)`` (``engine.stats.Stats`` has).
    """

    def start(self, now: float) -> Iterable[Scheduled]:
        """The first events (agents logging in, the first arrivals)."""

    def due(self, event: Event, now: float) -> Iterable[Scheduled] | None:
        """``event`` comes due: ``None`` drops it, otherwise events to schedule as a consequence."""

    def handle(self, action: Action, now: float) -> Iterable[Scheduled]:
        """React to one ACD action: events to schedule in reply."""


class Acdlike(Protocol):
    def feed(self, event: Event, now: float) -> list[Action]: ...

    def next_deadline(self) -> float | None: ...


class Driver:
    """Run ``acd`` with ``adapter`` in virtual time; every action also goes to each of ``observers``."""

    def __init__(self, acd: Acdlike, adapter: ChannelAdapter,
                 observers: Iterable[Any] = ()) -> None:
        self.acd = acd
        self.adapter = adapter
        self.observers = list(observers)
        self.now = 0.0
        self.events_fed = 0
        self.ticks_fed = 0
        self._heap: list[tuple[float, int, Event]] = []
        self._routes: dict[type, tuple[tuple[Callable[[Any], Any], ...], Callable[..., Any] | None]] = {}
        self._due_routes: dict[type, Callable[..., Any] | None] = {}
        self._seq = 0
        self._started = False

    def schedule(self, at: float, event: Event) -> None:
        """Feed ``event`` at virtual time ``at`` (not before the current time)."""
        if at < self.now:
            raise SwitchboardError(f"cannot schedule {type(event).__name__} at {at} before now ({self.now})")
        self._seq += 1
        heapq.heappush(self._heap, (at, self._seq, event))

    def run(self, until: float | None = None) -> float:
        """Run until nothing is left to do, or until virtual time ``until``. Returns the virtual time reached."""
        heap = self._heap
        push, pop = heapq.heappush, heapq.heappop
        acd = self.acd
        feed = acd.feed
        next_deadline = acd.next_deadline
        routes = self._routes
        due_routes = self._due_routes
        route_for = self._route_for
        due_for = self._due_for
        tick = Tick()
        seq = self._seq
        now = self.now
        if not self._started:
            self._started = True
            for at, event in self.adapter.start(now):
                seq += 1
                push(heap, (at, seq, event))
        limit = float("inf") if until is None else until
        events = ticks = 0
        last_tick = -1.0
        repeats = 0
        try:
            while True:
                deadline = next_deadline()
                if heap:
                    at = heap[0][0]
                    if deadline is not None and deadline <= at:
                        event, at = tick, deadline
                    else:
                        if at > limit:
                            now = max(now, limit)
                            break
                        event = pop(heap)[2]
                        kind = type(event)
                        due = due_routes[kind] if kind in due_routes else due_for(kind)
                        if due is not None:
                            follow = due(event, at)
                            if follow is None:
                                continue
                            for t, e in follow:
                                seq += 1
                                push(heap, (t, seq, e))
                elif deadline is not None:
                    event, at = tick, deadline
                else:
                    break
                if event is tick:
                    if at > limit:
                        now = max(now, limit)
                        break
                    if at == last_tick:
                        repeats += 1
                        if repeats > 1000:
                            raise SwitchboardError(f"the ACD's timer at {at} does not fire: stuck")
                    else:
                        last_tick, repeats = at, 0
                    ticks += 1
                else:
                    events += 1
                if at > now:
                    now = at
                actions = feed(event, now)
                for action in actions:
                    action_kind = type(action)
                    observers, handle = routes[action_kind] if action_kind in routes else route_for(action_kind)
                    for observer in observers:
                        observer(action)
                    if handle is not None:
                        for t, e in handle(action, now):
                            seq += 1
                            push(heap, (t, seq, e))
        finally:
            self._seq = seq
            self.now = now
            self.events_fed += events
            self.ticks_fed += ticks
        return self.now

    def _route_for(self, kind: type) -> tuple[tuple[Callable[[Any], Any], ...], Callable[..., Any] | None]:
        """Who gets actions of type ``kind``: observers and adapter may narrow it with ``handler_for(kind)``."""
        observers = []
        for observer in self.observers:
            narrow = getattr(observer, "handler_for", None)
            if narrow is None:
                observers.append(observer)
            else:
                handler = narrow(kind)
                if handler is not None:
                    observers.append(handler)
        narrow = getattr(self.adapter, "handler_for", None)
        handle = self.adapter.handle if narrow is None else narrow(kind)
        route = self._routes[kind] = (tuple(observers), handle)
        return route

    def _due_for(self, kind: type) -> Callable[..., Any] | None:
        narrow = getattr(self.adapter, "due_for", None)
        due = self.adapter.due if narrow is None else narrow(kind)
        self._due_routes[kind] = due
        return due

    @property
    def pending(self) -> int:
        """Events still scheduled (cancelled timers included until they come due)."""
        return len(self._heap)
