"""Contact-center statistics computed from the ACD's observer actions only.

``Stats.observe(action)`` takes every action the ACD returns (it ignores all but ``ContactStateChanged``,
``AgentStateChanged`` and ``ContactRecord``) in O(1); ``Stats.snapshot(now)`` returns the figures so far, per
queue and overall. The same object serves the simulator's reports and the live wallboard.

Definitions (``engine.staffing`` uses the same, so simulation and theory compare like with like):

- A contact counts in the figures if it arrived (its first state change) at or after ``warmup`` and before
  ``until``; it counts in the queue it arrived in, whatever happens to it later (overflow, transfer).
- ``offered``: contacts that arrived. ``answered``: those connected to an agent (at most once each).
  ``abandoned``: those whose caller left before being connected. ``unserved``: those the ACD ended without an agent
  (closed, rejected, max-wait).
- A contact's **wait** is the time from its arrival to its first connection (for answered contacts), or to when it
  left the queue (abandoned, unserved). Ringing an agent counts as waiting.
- ``p_wait``: the fraction of offered contacts that waited more than 0 s: answered after a wait > 0, abandoned or
  ended unserved after > 0 s, or still waiting (arrived before ``now``). This is Erlang's P(wait) = P(W > 0): the
  probability of not being answered on arrival.
- ``service_level_20s`` (and one key per threshold given): contacts answered within 20 s (wait <= 20) **divided by
  offered**, i.e. over all arrivals, abandoned ones counting as missed; Erlang C's P(W <= 20).
- With ``service_level_of(queue)`` (each queue's own threshold, read when the contact is answered; 20 s for a
  queue it does not know), every figure also counts ``within_sl``: contacts answered within the threshold of the
  queue they arrived in (``engine.live`` shows it against each queue's target).
- ``asa_s``: mean wait of the answered contacts. ``abandon_rate``: abandoned / offered. ``mean_abandon_wait_s``.
- ``aht_s``: mean handle time (talk plus wrap-up) of the contacts completed; ``talk_s``: mean talk time.
- ``occupancy``: the agents' time reserved (ringing), on a contact or in wrap-up, divided by that time plus their
  available time, over ``[warmup, min(now, until)]``. Not-ready and logged-out time are in neither.
- ``waiting_now`` / ``longest_wait_s``: contacts waiting now (queued or ringing) and the longest current wait, in
  the queue they wait in now, whatever their arrival time (the wallboard's live view, not cut by the warm-up).

Ratios with a zero denominator are ``None``.

A long-running observer (the live figures) starts a new window with ``restart(at)`` (counters from zero, the
contacts in flight no longer counted, who waits and the agents' states kept) and learns of contacts that were in
flight before it started observing with ``track``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from engine.events import AgentStateChanged, ContactRecord, ContactStateChanged

BUSY_STATES = frozenset(("reserved", "on-contact", "wrap-up"))
IDLE_STATES = frozenset(("available",))
_WAIT_ENDS_UNSERVED = frozenset(("closed", "rejected", "max-wait"))
_WAIT_STARTS = frozenset(("queued", "requeued", "step"))


class _Figures:
    """Running sums for one queue (or overall)."""

    __slots__ = ("offered", "answered", "abandoned", "unserved", "waited", "wait_sum", "within",
                 "abandon_wait_sum", "handled", "handle_sum", "talk_sum", "transferred", "within_sl")

    def __init__(self, thresholds: int) -> None:
        self.offered = 0
        self.answered = 0
        self.abandoned = 0
        self.unserved = 0
        self.waited = 0
        self.wait_sum = 0.0
        self.within = [0] * thresholds
        self.abandon_wait_sum = 0.0
        self.handled = 0
        self.handle_sum = 0.0
        self.talk_sum = 0.0
        self.transferred = 0
        self.within_sl = 0


class _Contact:
    __slots__ = ("arrived", "figures", "answered", "waiting_in", "queue")

    def __init__(self, arrived: float, figures: tuple[_Figures, ...], queue: str) -> None:
        self.arrived = arrived
        self.figures = figures  # () when outside the window
        self.answered = False
        self.waiting_in: str | None = None
        self.queue = queue  # the queue it arrived in (whose service-level threshold applies)


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


class Stats:
    """Incremental statistics over a window of arrivals ``[warmup, until)``; see the module docstring."""

    def __init__(self, warmup: float = 0.0, until: float = math.inf,
                 sl_thresholds: tuple[float, ...] = (20.0,),
                 service_level_of: Callable[[str], float] | None = None) -> None:
        self.warmup = warmup
        self.until = until
        self.thresholds = tuple(sl_thresholds)
        self.service_level_of = service_level_of
        self.overall = _Figures(len(self.thresholds))
        self.queues: dict[str, _Figures] = {}
        self.contacts: dict[str, _Contact] = {}
        self.waiting: dict[str, dict[str, float]] = {}  # queue -> contact -> arrival
        self.agents: dict[str, tuple[str, float]] = {}  # agent -> (state, since)
        self.agent_counts: dict[str, int] = {}
        self.busy_s = 0.0
        self.idle_s = 0.0

    # ----------------------------------------------------------------------------------------- feeding ----

    def observe(self, action: Any) -> None:
        """Take one ACD action (anything that is not an observer action is ignored)."""
        kind = type(action)
        if kind is ContactStateChanged:
            self._contact_state(action)
        elif kind is AgentStateChanged:
            self._agent_state(action)
        elif kind is ContactRecord:
            self._record(action)

    __call__ = observe

    def handler_for(self, kind: type) -> Any:
        """The method ``observe`` uses for actions of type ``kind``, None if it ignores them (for fast dispatch)."""
        return {ContactStateChanged: self._contact_state, AgentStateChanged: self._agent_state,
                ContactRecord: self._record}.get(kind)

    def _figures_for(self, queue: str) -> _Figures:
        figures = self.queues.get(queue)
        if figures is None:
            figures = self.queues[queue] = _Figures(len(self.thresholds))
        return figures

    def _stop_waiting(self, cid: str, c: _Contact) -> None:
        if c.waiting_in is not None:
            self.waiting[c.waiting_in].pop(cid, None)
            c.waiting_in = None

    def _contact_state(self, a: ContactStateChanged) -> None:
        cid, state, at = a.contact_id, a.state, a.at
        c = self.contacts.get(cid)
        if c is None:
            if self.warmup <= at < self.until:
                figs: tuple[_Figures, ...] = (self.overall, self._figures_for(a.queue))
                for f in figs:
                    f.offered += 1
            else:
                figs = ()
            c = self.contacts[cid] = _Contact(at, figs, a.queue)
        if state in _WAIT_STARTS or state == "callback-scheduled":
            if c.waiting_in != a.queue:
                self._stop_waiting(cid, c)
                waiting = self.waiting.get(a.queue)
                if waiting is None:
                    waiting = self.waiting[a.queue] = {}
                waiting[cid] = c.arrived
                c.waiting_in = a.queue
        elif state == "connected":
            self._stop_waiting(cid, c)
            if not c.answered:
                c.answered = True
                wait = at - c.arrived
                for f in c.figures:
                    f.answered += 1
                    f.wait_sum += wait
                    if wait > 0:
                        f.waited += 1
                    for i, t in enumerate(self.thresholds):
                        if wait <= t:
                            f.within[i] += 1
                if c.figures and self.service_level_of is not None and wait <= self._queue_threshold(c.queue):
                    for f in c.figures:
                        f.within_sl += 1
        elif state == "completed":
            detail = a.detail
            for f in c.figures:
                f.handled += 1
                f.handle_sum += detail.get("handle_s", 0.0)
                f.talk_sum += detail.get("talk_s", 0.0)
        elif state == "abandoned":
            self._stop_waiting(cid, c)
            wait = at - c.arrived
            for f in c.figures:
                f.abandoned += 1
                f.abandon_wait_sum += wait
                if wait > 0 and not c.answered:
                    f.waited += 1
        elif state in _WAIT_ENDS_UNSERVED:
            self._stop_waiting(cid, c)
            for f in c.figures:
                f.unserved += 1
                if at > c.arrived and not c.answered:
                    f.waited += 1
        elif state == "transferred":
            for f in c.figures:
                f.transferred += 1

    def _queue_threshold(self, queue: str) -> float:
        assert self.service_level_of is not None
        try:
            return float(self.service_level_of(queue))
        except KeyError:
            return 20.0

    def _record(self, a: ContactRecord) -> None:
        c = self.contacts.pop(a.contact_id, None)
        if c is not None:
            self._stop_waiting(a.contact_id, c)

    def _agent_state(self, a: AgentStateChanged) -> None:
        previous = self.agents.get(a.agent_id)
        counts = self.agent_counts
        if previous is not None:
            state, since = previous
            counts[state] -= 1
            self._accumulate(state, since, a.at)
        self.agents[a.agent_id] = (a.state, a.at)
        counts[a.state] = counts.get(a.state, 0) + 1

    def _accumulate(self, state: str, since: float, until: float) -> None:
        start = since if since > self.warmup else self.warmup
        end = until if until < self.until else self.until
        if end <= start:
            return
        if state in BUSY_STATES:
            self.busy_s += end - start
        elif state in IDLE_STATES:
            self.idle_s += end - start

    # ---------------------------------------------------------------------------------------- windows ----

    def restart(self, at: float) -> None:
        """Begin a new window of arrivals ``[at, until)``: every counter back to zero, the contacts in flight no
        longer counted (they arrived before ``at``); who waits where and the agents' states are kept. O(contacts
        in flight)."""
        self.warmup = at
        self.overall = _Figures(len(self.thresholds))
        self.queues = {}
        for c in self.contacts.values():
            c.figures = ()
        self.busy_s = 0.0
        self.idle_s = 0.0

    def track(self, contact_id: str, arrived: float, queue: str, waiting_in: str | None) -> None:
        """A contact in flight before observation began (a restart): counted in no figure, but waiting in
        ``waiting_in`` (None: not waiting) from ``arrived`` until an action says otherwise."""
        c = self.contacts[contact_id] = _Contact(arrived, (), queue)
        if waiting_in is not None:
            self.waiting.setdefault(waiting_in, {})[contact_id] = arrived
            c.waiting_in = waiting_in

    # ---------------------------------------------------------------------------------------- reporting ----

    def _figures_dict(self, f: _Figures, waiting: dict[str, float] | None, now: float) -> dict[str, Any]:
        waited = f.waited
        if waiting:
            lo, hi = self.warmup, self.until
            waited += sum(1 for arrived in waiting.values() if lo <= arrived < hi and arrived < now)
        out: dict[str, Any] = {
            "offered": f.offered,
            "answered": f.answered,
            "abandoned": f.abandoned,
            "unserved": f.unserved,
            "transferred": f.transferred,
            "p_wait": _ratio(waited, f.offered),
            "asa_s": _ratio(f.wait_sum, f.answered),
            "abandon_rate": _ratio(f.abandoned, f.offered),
            "mean_abandon_wait_s": _ratio(f.abandon_wait_sum, f.abandoned),
            "aht_s": _ratio(f.handle_sum, f.handled),
            "talk_s": _ratio(f.talk_sum, f.handled),
        }
        for i, t in enumerate(self.thresholds):
            out[f"service_level_{t:g}s"] = _ratio(f.within[i], f.offered)
        return out

    @staticmethod
    def _live(waiting: dict[str, float] | None, now: float) -> dict[str, Any]:
        if not waiting:
            return {"waiting_now": 0, "longest_wait_s": 0.0}
        return {"waiting_now": len(waiting), "longest_wait_s": max(0.0, now - min(waiting.values()))}

    def snapshot(self, now: float) -> dict[str, Any]:
        """The figures at virtual or wall time ``now``: overall at the top level, per queue under ``queues``."""
        all_waiting: dict[str, float] = {}
        for waiting in self.waiting.values():
            all_waiting.update(waiting)
        out = self._figures_dict(self.overall, all_waiting, now)
        out.update(self._live(all_waiting, now))
        busy, idle = self.busy_s, self.idle_s
        for state, since in self.agents.values():
            start = max(since, self.warmup)
            end = min(now, self.until)
            if end > start:
                if state in BUSY_STATES:
                    busy += end - start
                elif state in IDLE_STATES:
                    idle += end - start
        out["occupancy"] = _ratio(busy, busy + idle)
        out["agents"] = {state: n for state, n in sorted(self.agent_counts.items()) if n}
        queues = {}
        for name in sorted(self.queues.keys() | self.waiting.keys()):
            figures = self.queues.get(name) or _Figures(len(self.thresholds))
            queue_waiting = self.waiting.get(name)
            q = self._figures_dict(figures, queue_waiting, now)
            q.update(self._live(queue_waiting, now))
            queues[name] = q
        out["queues"] = queues
        return out
