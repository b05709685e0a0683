"""Live figures: what the wallboard, the live stream and ``/metrics`` show, kept from the engine's actions.

Theory of operation
-------------------
``LiveFigures`` is a sans-IO runtime sink: ``handle(action, now)`` is called inline for every action and does O(1)
work (a few dict updates through ``engine.stats.Stats``, the agent's new state, a version bump). ``snapshot(now)``
turns that state into plain data; it costs O(queues + agents + contacts waiting + campaigns) and is meant to be
called a few times a second at most (the admin API's publisher), never per action.

It reads the routing configuration as it is now (queue names, service-level thresholds and targets, agents'
names, teams and skills, campaigns) from the center it was built for (``engine.center.Center`` or
``engine.acd.Acd``), and counts only from actions, so feeding a center by hand and showing its actions to a
``LiveFigures`` is a complete test, in virtual time.

Period: the counters cover **the current day**: contacts that arrived since the last midnight in ``timezone``
(IANA, default UTC). At midnight they start again from zero (``Stats.restart``); contacts in flight then count
in no day's live figures (the historical reports, ``engine.reports``, hold the days). A ``LiveFigures`` made
after a restart counts from then on: contacts already in flight are tracked (they wait, they are answered) but not
counted. The campaigns' figures come from the dialer's own 15-minute counters, which survive a restart: those of
the intervals since the same midnight are summed.

Definitions, per queue (a contact counts in the queue it arrived in, as in ``engine.stats``; it *waits* in the
queue it waits in now):

- ``waiting``: contacts waiting now (queued or ringing an agent); ``longest_wait_s``: the longest of their waits
  (now minus arrival); ``oldest_arrival``: that contact's arrival, so a client can tick the wait itself.
- ``offered``: contacts that arrived in the period; ``answered``: connected to an agent (once each);
  ``abandoned``: the caller left before being connected; ``unserved``: ended by the ACD without an agent (closed,
  rejected, max wait without an overflow).
- ``service_level``: contacts answered within the queue's ``service_level_s`` (read at the answer) divided by
  ``answered + abandoned + unserved``: over the contacts whose wait is over, an abandoned one counting as
  missed; contacts still waiting count once they are answered or leave (``longest_wait_s`` shows them). It is
  the historical reports' service level for the same contacts. ``below_target``: it is below the queue's
  ``service_level_target``. ``None`` while no contact's wait is over.
- ``asa_s``: mean wait of the answered ones; ``abandon_rate``: abandoned / (answered + abandoned + unserved).
- ``staffed``: agents logged in who can serve the queue (skills and channel capacity); ``available``: of those,
  the ones ready for a contact now.

Per agent: ``state`` (``engine.acd.AGENT_STATES``), ``reason`` (of not-ready), ``since`` (engine time the state
began; ``None`` for an agent never logged in since it was configured) and ``time_in_state_s`` (``None`` likewise).
Per campaign: mode (configured, and ``mode_now``), dials, humans reached, machines, abandoned, completed,
``connect_rate`` (humans / dials), ``abandon_rate`` (abandoned / humans, what the abandonment target caps), the
target, and the calls in progress. Totals: the same counters over all queues.
Ratios with a zero denominator are ``None``.

Change tracking for publishers: ``version`` grows with every action; ``take_agent_changes()`` returns the agents
whose state changed since the last call, each once with its newest state (coalesced).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from engine.config import agent_serves, check_timezone
from engine.events import Action, AgentStateChanged, ContactRecord, ContactStateChanged
from engine.stats import Stats

if TYPE_CHECKING:
    from engine.stats import _Figures

WAITING_STATES = frozenset(("queued", "offered"))
"""Contact states (``engine.acd``) in which a contact recovered in flight is still waiting."""
CAMPAIGN_KEYS = ("dials", "humans", "machines", "busy", "no_answer", "failed", "abandoned", "connects", "completed")


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


class DayPeriod:
    """Days that begin at midnight in ``timezone`` (an IANA name): ``start_of(t)`` and ``end_of(start)`` in Unix
    seconds, right across daylight-saving changes (a day may last 23 or 25 hours)."""

    def __init__(self, timezone: str = "UTC") -> None:
        check_timezone(timezone, "live figures")
        self.zone = ZoneInfo(timezone)
        self.timezone = timezone

    def start_of(self, t: float) -> float:
        local = datetime.fromtimestamp(t, self.zone)
        return datetime(local.year, local.month, local.day, tzinfo=self.zone).timestamp()

    def end_of(self, start: float) -> float:
        day = datetime.fromtimestamp(start, self.zone).date() + timedelta(days=1)
        return datetime(day.year, day.month, day.day, tzinfo=self.zone).timestamp()


class LiveFigures:
    """See the module docstring. ``center``: the ``Center`` (or ``Acd``) whose actions this is shown."""

    def __init__(self, center: Any, *, timezone: str = "UTC") -> None:
        self.center = center
        self.period = DayPeriod(timezone)
        self.stats = Stats(service_level_of=lambda queue_id: center.queues[queue_id].service_level_s)
        self.agents: dict[str, tuple[str, str, float | None]] = {}  # agent -> (state, reason, since)
        self.version = 0
        self.period_start = -math.inf
        self._period_end = -math.inf
        self._agent_changes: dict[str, tuple[str, str, float]] = {}
        self._serving_key: tuple[list[Any], list[Any]] = ([], [])
        self._serving: dict[str, tuple[str, ...]] = {}
        self._seed()

    def _seed(self) -> None:
        """What the center already holds (a recovered one): its agents' states, its contacts in flight."""
        for agent_id in self.center.agents:
            state, reason, since = self.center.agent_state(agent_id)
            never = state == "logged-out" and since == 0.0  # the ACD's "since" of an agent never logged in
            self.agents[agent_id] = (state, reason, None if never else since)
            self.stats.observe(AgentStateChanged(agent_id, state, reason, since))
        for contact_id, c in self.center.contacts.items():
            waiting = c.queue if c.state in WAITING_STATES and c.queue else None
            self.stats.track(contact_id, c.arrived, c.queue, waiting)

    # ------------------------------------------------------------------------------------------ intake ----

    def handle(self, action: Action, now: float) -> None:
        """The runtime's sink interface: take one action (O(1); a day's change costs O(contacts in flight))."""
        if now >= self._period_end:
            self._roll(now)
        kind = type(action)
        if kind is AgentStateChanged:
            entry = (action.state, action.reason, action.at)  # type: ignore[attr-defined]
            self.agents[action.agent_id] = entry  # type: ignore[attr-defined]
            self._agent_changes[action.agent_id] = entry  # type: ignore[attr-defined]
            self.stats.observe(action)
        elif kind is ContactStateChanged or kind is ContactRecord:
            self.stats.observe(action)
        self.version += 1

    def _roll(self, now: float) -> None:
        start = self.period.start_of(now)
        if start != self.period_start:
            self.stats.restart(start)
            self.period_start = start
        self._period_end = self.period.end_of(start)

    def take_agent_changes(self) -> list[tuple[str, str, str, float]]:
        """``(agent, state, reason, since)`` of every agent whose state changed since the last call, once each."""
        changes = [(agent_id, *entry) for agent_id, entry in self._agent_changes.items()]
        self._agent_changes = {}
        return changes

    # ---------------------------------------------------------------------------------------- reading ----

    def _serving_agents(self) -> dict[str, tuple[str, ...]]:
        """queue -> the agents who can serve it, recomputed only when an agent's or a queue's config changed."""
        agents = [a.config for a in self.center.agents.values()]
        queues = list(self.center.queues.values())
        old_agents, old_queues = self._serving_key
        if len(agents) != len(old_agents) or len(queues) != len(old_queues) or \
                any(a is not b for a, b in zip(agents, old_agents, strict=True)) or \
                any(a is not b for a, b in zip(queues, old_queues, strict=True)):
            self._serving = {q.id: tuple(a.id for a in agents if agent_serves(a, q)) for q in queues}
            self._serving_key = (agents, queues)
        return self._serving

    @staticmethod
    def _counts(f: _Figures | None) -> dict[str, Any]:
        if f is None:
            return {"offered": 0, "answered": 0, "abandoned": 0, "unserved": 0, "service_level": None,
                    "asa_s": None, "abandon_rate": None}
        over = f.answered + f.abandoned + f.unserved
        return {"offered": f.offered, "answered": f.answered, "abandoned": f.abandoned, "unserved": f.unserved,
                "service_level": _ratio(f.within_sl, over), "asa_s": _ratio(f.wait_sum, f.answered),
                "abandon_rate": _ratio(f.abandoned, over)}

    def snapshot(self, now: float, *, agents: bool = True) -> dict[str, Any]:
        """The figures at engine time ``now`` as plain data: ``at``, ``period``, ``totals``, ``queues``,
        ``agents`` (left out with ``agents=False``: a publisher that renders agents itself) and ``campaigns``."""
        if now >= self._period_end:
            self._roll(now)
        serving = self._serving_agents()
        queues: dict[str, Any] = {}
        longest_all = 0.0
        for queue_id, q in self.center.queues.items():
            waiting = self.stats.waiting.get(queue_id)
            oldest = min(waiting.values()) if waiting else None
            longest = max(0.0, now - oldest) if oldest is not None else 0.0
            longest_all = max(longest_all, longest)
            figures = self._counts(self.stats.queues.get(queue_id))
            members = serving.get(queue_id, ())
            states = [self.agents.get(a, ("logged-out", "", None))[0] for a in members]
            sl = figures["service_level"]
            queues[queue_id] = {
                "name": q.name or q.id, "channel": q.channel, "waiting": len(waiting) if waiting else 0,
                "longest_wait_s": longest, "oldest_arrival": oldest, **figures,
                "service_level_s": q.service_level_s, "service_level_target": q.service_level_target,
                "below_target": sl is not None and sl < q.service_level_target,
                "staffed": sum(1 for s in states if s != "logged-out"),
                "available": sum(1 for s in states if s == "available"),
            }
        by_state = {s: n for s, n in sorted(self.stats.agent_counts.items()) if n}
        totals = {"waiting": sum(q["waiting"] for q in queues.values()), "longest_wait_s": longest_all,
                  **self._counts(self.stats.overall), "agents": by_state}
        out: dict[str, Any] = {
            "at": now, "period": {"kind": "day", "timezone": self.period.timezone, "start": self.period_start},
            "totals": totals, "queues": queues, "campaigns": self._campaigns(),
        }
        if agents:
            out["agents"] = {a: self.agent_entry(a, now) for a in self.center.agents}
        return out

    def agent_entry(self, agent_id: str, now: float | None = None) -> dict[str, Any]:
        """One agent's live entry (``time_in_state_s`` only when ``now`` is given). ``KeyError`` if unknown."""
        config = self.center.agents[agent_id].config
        state, reason, since = self.agents.get(agent_id, ("logged-out", "", None))  # added live, never logged in
        entry: dict[str, Any] = {"name": config.name or agent_id, "teams": list(config.teams), "state": state,
                                 "reason": reason, "since": since}
        if now is not None:
            entry["time_in_state_s"] = None if since is None else max(0.0, now - since)
        return entry

    def agent_teams(self, agent_id: str) -> tuple[str, ...]:
        found = self.center.agents.get(agent_id)
        return tuple(found.config.teams) if found is not None else ()

    def _campaigns(self) -> dict[str, Any]:
        dialer = getattr(self.center, "dialer", None)
        if dialer is None:
            return {}
        in_progress: dict[str, int] = {}
        for campaign, _lead, _phase in dialer.calls_in_progress().values():
            in_progress[campaign] = in_progress.get(campaign, 0) + 1
        out = {}
        for config in dialer.campaigns():
            counts = dict.fromkeys(CAMPAIGN_KEYS, 0.0)
            for start, bucket in dialer.figures(config.id).intervals.items():
                if start >= self.period_start:
                    for key in CAMPAIGN_KEYS:
                        counts[key] += bucket.get(key, 0)
            out[config.id] = {
                "name": config.name or config.id, "queue": config.queue, "active": config.active,
                "mode": config.mode, "mode_now": dialer.mode_now(config.id),
                **{k: int(v) for k, v in counts.items()},
                "connect_rate": _ratio(counts["humans"], counts["dials"]),
                "abandon_rate": _ratio(counts["abandoned"], counts["humans"]),
                "abandon_target": config.abandon_target, "calls_in_progress": in_progress.get(config.id, 0),
            }
        return out

