"""A simulated carrier: the phone network's answer to the dialer's calls, as a channel adapter for the driver.

Each ``Dial`` draws one outcome with the probabilities in force at that moment of the shift (scenario phases):
a person answers after the ring time; a machine answers after the ring time and is recognised ``amd_s`` later
(``amd_false_positive`` of the people are wrongly classed as machines, ``truth`` says so); a busy signal comes
after ``busy_s``; the rest ring until the campaign's timeout (or the scenario's ``no_answer_timeout_s``) and
fail as no-answer. A ring time beyond the timeout is a no-answer too. ``CheckCompliance`` is answered at once by
``checker`` (the compliance rules: a ``PluginManager.check_compliance``, or any callable returning a Verdict).
Messages and drops end the call; nothing else is heard.

Randomness: one ``random.Random`` per purpose (outcome, ring, amd) derived from ``seed``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from engine.dialer_events import CallAnswered, CallFailed, CheckCompliance, ComplianceVerdict, Dial
from engine.events import Event
from engine.sim.distributions import Distribution

_NONE: tuple[Any, ...] = ()


class SimulatedCarrier:
    """Callees for ``engine.sim.driver.Driver``; see the module docstring.

    ``outcomes``: ``(start_s, {"human": p, "machine": p, "busy": p})`` periods in increasing order (the first at
    0). ``ring``: ring-time distribution; ``busy_s``, ``amd_s``: fixed delays; ``no_answer_s``: the network's own
    limit when the dial's timeout is longer.
    """

    def __init__(self, *, outcomes: Sequence[tuple[float, dict[str, float]]], ring: Distribution,
                 busy_s: float = 3.0, amd_s: float = 3.0, no_answer_s: float = 25.0,
                 amd_false_positive: float = 0.0, checker: Callable[[dict[str, Any]], Any] | None = None,
                 seed: int = 0) -> None:
        if not outcomes or outcomes[0][0] != 0.0:
            raise ValueError("outcomes must start with a period at 0")
        self._periods = [(float(t), (o.get("human", 0.0), o.get("machine", 0.0), o.get("busy", 0.0)))
                         for t, o in outcomes]
        base = random.Random(seed)
        rngs = {name: random.Random(base.getrandbits(64)) for name in ("outcome", "ring", "amd")}
        self._uniform = rngs["outcome"].random
        self._amd = rngs["amd"].random
        self._ring = ring.sampler(rngs["ring"])
        self.busy_s = busy_s
        self.amd_s = amd_s
        self.no_answer_s = no_answer_s
        self.amd_false_positive = amd_false_positive
        self.checker = checker
        self.dials = 0
        self.checks = 0
        self._handlers = {Dial: self._on_dial, CheckCompliance: self._on_check}

    def handler_for(self, kind: type) -> Any:
        return self._handlers.get(kind)

    def probabilities(self, now: float) -> tuple[float, float, float]:
        """(human, machine, busy) in force at ``now``."""
        current = self._periods[0][1]
        for start, probs in self._periods:
            if start > now:
                break
            current = probs
        return current

    def _on_dial(self, action: Dial, now: float) -> Iterable[tuple[float, Event]]:
        self.dials += 1
        human, machine, busy = self.probabilities(now)
        timeout = min(action.timeout_s, self.no_answer_s)
        u = self._uniform()
        if u < human + machine:
            ring = self._ring()
            if ring < timeout:
                if u < human:
                    if self.amd_false_positive and self._amd() < self.amd_false_positive:
                        return [(now + ring + self.amd_s, CallAnswered(action.call_id, "machine", "human"))]
                    return [(now + ring, CallAnswered(action.call_id, "human", "human"))]
                return [(now + ring + self.amd_s, CallAnswered(action.call_id, "machine", "machine"))]
        elif u < human + machine + busy:
            return [(now + self.busy_s, CallFailed(action.call_id, "busy"))]
        return [(now + timeout, CallFailed(action.call_id, "no-answer"))]

    def _on_check(self, action: CheckCompliance, now: float) -> Iterable[tuple[float, Event]]:
        self.checks += 1
        if self.checker is None:
            return [(now, ComplianceVerdict(action.call_id, True, "no rules", ""))]
        verdict = self.checker(action.request)
        return [(now, ComplianceVerdict(action.call_id, bool(verdict.allowed), verdict.reason, verdict.rule))]


class CombinedAdapter:
    """Several simulated adapters as one for the driver: the first that has a handler for a kind gets it.

    ``first_events`` are scheduled at start (campaign set-up) besides each adapter's own ``start``.
    """

    def __init__(self, adapters: Sequence[Any], first_events: Iterable[tuple[float, Event]] = ()) -> None:
        self.adapters = list(adapters)
        self.first_events = list(first_events)

    def start(self, now: float) -> list[tuple[float, Event]]:
        out = list(self.first_events)
        for adapter in self.adapters:
            start = getattr(adapter, "start", None)
            if start is not None:
                out.extend(start(now))
        return out

    def handler_for(self, kind: type) -> Any:
        handlers = [h for a in self.adapters if (h := a.handler_for(kind)) is not None]
        if not handlers:
            return None
        if len(handlers) == 1:
            return handlers[0]

        def both(action: Any, now: float) -> list[tuple[float, Event]]:
            out: list[tuple[float, Event]] = []
            for handler in handlers:
                out.extend(handler(action, now))
            return out

        return both

    def due_for(self, kind: type) -> Any:
        for adapter in self.adapters:
            narrow = getattr(adapter, "due_for", None)
            if narrow is not None and (due := narrow(kind)) is not None:
                return due
        return None

    def handle(self, action: Any, now: float) -> Iterable[tuple[float, Event]]:
        handler = self.handler_for(type(action))
        return _NONE if handler is None else handler(action, now)

    def due(self, event: Event, now: float) -> Iterable[tuple[float, Event]] | None:
        due = self.due_for(type(event))
        return _NONE if due is None else due(event, now)
