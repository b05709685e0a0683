"""The live stream's publisher: one task turns the live figures into frames for every subscriber, cheaply.

Theory of operation
-------------------
The engine never waits for a client. ``engine.live.LiveFigures`` is updated inline with every action (O(1)); the
``LiveHub`` task wakes every ``interval_s`` (250 ms) and, when there is a subscriber and something changed since
its last frame (``LiveFigures.version``), or a new subscriber waits for its first frame, or ``heartbeat_s``
passed (waits and times in state grow without actions), it builds **one** snapshot and serialises it once per
*view*: admin; supervisor of a set of teams; agent. Each agent's entry is serialised once and reused until the
agent's state or configuration changes, so a frame costs O(queues + campaigns + agents whose state changed) in
JSON plus a join per view. Agent-state changes since the last cycle go out first, coalesced (each agent once,
with its newest state), as an ``agents`` frame, to the views that may see those agents.

Each subscriber has a ``Mailbox``: the newest snapshot frame (a newer one replaces one not yet sent: a slow client
gets fewer frames, never older ones) and at most ``max_events`` event frames (the oldest dropped past that; the
next snapshot carries every agent's state anyway). Putting never blocks; the socket's own task takes the mail and
sends it, so a slow or dead client holds up only itself.

Frames (JSON text; ``at`` is the engine time the figures describe, ``seq`` the last journaled event then, so a
client measures lag against either)::

    {"type": "snapshot", "seq", "at", "period", "totals", "queues", "campaigns", "agents": {id: {name, teams,
     state, reason, since}}}       (time in state = at - since, since null if never logged in; the client ticks it)
    {"type": "agents", "seq", "at", "changes": [{"agent_id", "state", "reason", "since"}, ...]}

What a view holds: ``admin`` everything; ``supervisor`` every queue and campaign and the agents of its teams; an
``agent`` the queues, the totals and itself (no campaign). ``sees_campaigns`` and ``Principal.sees_agent`` are the
rules, shared with ``GET /v1/stats`` and ``/metrics``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import trio

from admin_api.auth import Principal
from engine.live import LiveFigures

log = logging.getLogger("switchboard.api.live")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def sees_campaigns(role: str) -> bool:
    """Whether a caller of ``role`` sees the campaigns' figures (staff only)."""
    return role in ("admin", "supervisor")


def view_of(principal: Principal) -> Principal:
    """The canonical principal of what ``principal`` may see: callers with equal views share their frames."""
    if principal.role == "admin":
        return Principal("view", "admin")
    if principal.role == "supervisor":
        return Principal("view", "supervisor", teams=tuple(sorted(set(principal.teams))))
    return Principal("view", principal.role, agent_id=principal.agent_id)


def cut(snapshot: dict[str, Any], principal: Principal) -> dict[str, Any]:
    """A ``LiveFigures.snapshot`` cut to what ``principal`` may see (see the module docstring)."""
    out = dict(snapshot)
    out["agents"] = {a: e for a, e in snapshot.get("agents", {}).items() if principal.sees_agent(a, e["teams"])}
    if not sees_campaigns(principal.role):
        out["campaigns"] = {}
    return out


class Mailbox:
    """One subscriber's frames waiting to be sent: the newest snapshot and a few events (see the module
    docstring). ``replaced``: snapshots never sent because a newer one came; ``dropped``: events dropped."""

    def __init__(self, view: Principal, max_events: int = 32) -> None:
        self.view = view
        self.max_events = max_events
        self.replaced = 0
        self.dropped = 0
        self._snapshot: str | None = None
        self._events: deque[str] = deque()
        self._ready = trio.Event()

    def put(self, event: str | None, snapshot: str | None) -> None:
        """Add frames (never blocks)."""
        if event is not None:
            if len(self._events) >= self.max_events:
                self._events.popleft()
                self.dropped += 1
            self._events.append(event)
        if snapshot is not None:
            if self._snapshot is not None:
                self.replaced += 1
            self._snapshot = snapshot
        if event is not None or snapshot is not None:
            self._ready.set()

    async def take(self) -> list[str]:
        """Wait for mail; return it in the order to send (events, then the snapshot)."""
        await self._ready.wait()
        self._ready = trio.Event()
        out = list(self._events)
        self._events.clear()
        if self._snapshot is not None:
            out.append(self._snapshot)
            self._snapshot = None
        return out


@dataclass(eq=False)
class LiveHub:
    """The publisher (see the module docstring). ``clock``: the engine's time; ``seq``: the last journaled event.
    ``frames_built``: publishing cycles; ``last_build_s``: how long the last one took; ``errors``: cycles that
    raised (logged; the next cycle tries again)."""

    live: LiveFigures
    clock: Callable[[], float]
    seq: Callable[[], int]
    _: KW_ONLY
    interval_s: float = 0.25
    heartbeat_s: float = 2.0
    max_events: int = 32
    subscribers: set[Mailbox] = field(default_factory=set, init=False)
    frames_built: int = field(default=0, init=False)
    errors: int = field(default=0, init=False)
    last_build_s: float = field(default=0.0, init=False)
    _replaced_gone: int = field(default=0, init=False)
    _fresh: bool = field(default=False, init=False)
    _subscribed: trio.Event = field(default_factory=trio.Event, init=False)
    _agent_json: dict[str, tuple[Any, Any, str]] = field(default_factory=dict, init=False)
    """agent -> (its state entry, its config, its serialised fragment)"""

    @contextmanager
    def subscribe(self, principal: Principal) -> Iterator[Mailbox]:
        """``with hub.subscribe(principal) as mailbox``: frames for what ``principal`` may see, from the next
        cycle (within ``interval_s``, whether or not anything changed), until the block ends."""
        box = Mailbox(view_of(principal), self.max_events)
        self.subscribers.add(box)
        self._fresh = True
        self._subscribed.set()
        try:
            yield box
        finally:
            self.subscribers.discard(box)
            self._replaced_gone += box.replaced

    @property
    def replaced(self) -> int:
        """Snapshots that subscribers (connected now or gone) never got because a newer one replaced them."""
        return self._replaced_gone + sum(box.replaced for box in self.subscribers)

    async def run(self) -> None:
        """Publish until cancelled (see the module docstring)."""
        published = -1
        last = -math.inf
        while True:
            if not self.subscribers:
                self._subscribed = trio.Event()
                await self._subscribed.wait()
                self.live.take_agent_changes()  # changes nobody heard of: the first snapshot holds them
            await trio.sleep(self.interval_s)
            now = trio.current_time()
            if self.live.version != published or self._fresh or now - last >= self.heartbeat_s:
                published = self.live.version
                self._fresh = False
                last = now
                try:
                    self.publish()
                except Exception:  # a bug here must cost the wallboard a frame, never the server
                    self.errors += 1
                    log.exception("live stream: publishing failed; trying again next cycle")

    # ------------------------------------------------------------------------------------------ frames ----

    def publish(self) -> None:
        """Build this cycle's frames and put them in every mailbox (synchronous: one consistent state)."""
        started = time.perf_counter()
        at, seq = self.clock(), self.seq()
        changes = self.live.take_agent_changes()
        snapshot = self.live.snapshot(at, agents=False)
        head = _dumps({"type": "snapshot", "seq": seq, "at": at, "period": snapshot["period"],
                       "totals": snapshot["totals"], "queues": snapshot["queues"]})[:-1]
        campaigns = _dumps(snapshot["campaigns"])
        fragments = self._agent_fragments()
        teams = {agent_id: self.live.agent_teams(agent_id) for agent_id, *_ in changes}
        by_view: dict[Principal, tuple[str | None, str]] = {}
        for box in list(self.subscribers):
            frames = by_view.get(box.view)
            if frames is None:
                frames = by_view[box.view] = self._frames(box.view, head, campaigns, fragments, changes, teams,
                                                          at, seq)
            box.put(*frames)
        self.frames_built += 1
        self.last_build_s = time.perf_counter() - started

    def _agent_fragments(self) -> dict[str, tuple[tuple[str, ...], str]]:
        """agent -> (teams, ``"id":{...}``), re-serialised only for agents whose state or config changed."""
        out = {}
        cache = self._agent_json
        states = self.live.agents
        for agent_id, agent in self.live.center.agents.items():
            entry, config = states.get(agent_id), agent.config
            cached = cache.get(agent_id)
            if cached is None or cached[0] is not entry or cached[1] is not config:
                fragment = _dumps(agent_id) + ":" + _dumps(self.live.agent_entry(agent_id))
                cached = cache[agent_id] = (entry, config, fragment)
            out[agent_id] = (tuple(config.teams), cached[2])
        if len(cache) > len(out):
            for gone in set(cache) - set(out):
                del cache[gone]
        return out

    @staticmethod
    def _frames(view: Principal, head: str, campaigns: str, fragments: dict[str, tuple[tuple[str, ...], str]],
                changes: list[tuple[str, str, str, float]], teams: dict[str, tuple[str, ...]], at: float,
                seq: int) -> tuple[str | None, str]:
        if view.role == "admin":
            agents = ",".join(f for _, f in fragments.values())
        elif view.role == "supervisor":
            agents = ",".join(f for a, (t, f) in fragments.items() if view.sees_agent(a, t))
        else:
            own = fragments.get(view.agent_id or "")
            agents = own[1] if own is not None else ""
        snapshot = f'{head},"campaigns":{campaigns if sees_campaigns(view.role) else "{}"},"agents":{{{agents}}}}}'
        seen = [{"agent_id": a, "state": s, "reason": r, "since": t} for a, s, r, t in changes
                if view.sees_agent(a, teams.get(a, ()))]
        event = _dumps({"type": "agents", "seq": seq, "at": at, "changes": seen}) if seen else None
        return event, snapshot
