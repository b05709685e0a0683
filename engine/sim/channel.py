"""Simulated callers and agents, as a channel adapter the driver plugs into the ACD.

The ACD does not know it is simulated: it receives the events a real telephony channel and real agent desktops
would send, and its actions are answered as they would be:

- arrivals: a Poisson stream per queue (``arrival_rates``, per second; piecewise constant over scenario phases,
  which stays exact because the exponential is memoryless) and/or a fixed list of ``(time, queue)`` arrivals;
- callers: at arrival each draws a patience; unless an agent is connected first, it hangs up then (abandon);
- agents: logged in and ready at time 0; an ``OfferContact`` is accepted after ``answer`` seconds (0 by default),
  a ``Bridge`` lasts ``talk`` seconds and ends with ``AgentHungUp``; if ``wrap`` is given, the agent ends each
  wrap-up itself with ``WrapUpDone`` after that long (otherwise the queue's ``wrap_up_s`` timer does);
- announcements, prompts and callback offers are heard and ignored (nobody asks for a callback).

Randomness: one ``random.Random(seed)`` per purpose (arrivals, patience, talk, wrap, answer), so changing, say, the
talk-time distribution does not change the arrival times of the same seed.

Cancelled timers are not removed from the driver's heap: ``due`` drops them when they come due (a patience that
expires after the caller was connected, an answer to an offer that was withdrawn, a hang-up after an unbridge).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from engine.events import (
    Action,
    AgentHungUp,
    AgentLogin,
    AgentReady,
    Bridge,
    CancelOffer,
    ContactArrived,
    ContactRecord,
    ContactStateChanged,
    CustomerHungUp,
    Event,
    HangUp,
    OfferAccepted,
    OfferContact,
    Unbridge,
    WrapUpDone,
)
from engine.sim.distributions import Distribution
from engine.survey import StartSurvey, SurveyAnswered

_NONE: tuple[Any, ...] = ()


class Params:
    """Samplers in force for one period of the shift."""

    __slots__ = ("rates", "talk", "patience", "wrap", "answer")

    def __init__(self, rates: dict[str, float], talk: Any, patience: Any, wrap: Any, answer: Any) -> None:
        self.rates = rates
        self.talk = talk
        self.patience = patience
        self.wrap = wrap
        self.answer = answer


class SimulatedChannel:
    """Callers and agents for ``engine.sim.driver.Driver``.

    ``agents``: ids to log in and make ready at time 0. ``arrival_rates``: queue -> Poisson rate per second.
    ``talk`` (required), ``patience`` (None = callers never abandon), ``wrap`` (None = the queue's timer ends
    wrap-up), ``answer`` (None = accept offers at once): distributions. ``phases``: ``(start_s, changes)`` in
    increasing order, where ``changes`` may hold ``arrival_rates`` (dict) and any of ``talk``, ``patience``,
    ``wrap``, ``answer``. ``arrivals_until``: no arrival at or after this time. ``scheduled``: extra arrivals,
    ``(time, queue)``. ``disposition``: what agents set at ``WrapUpDone``. ``survey_response``: the share of
    customers who answer a satisfaction survey (``StartSurvey``), 5 to 25 s after it starts, with a score drawn
    from ``survey_scores`` (weights of 1..5).
    """

    def __init__(self, *, agents: Sequence[str], talk: Distribution, arrival_rates: dict[str, float] | None = None,
                 patience: Distribution | None = None, wrap: Distribution | None = None,
                 answer: Distribution | None = None, arrivals_until: float = math.inf,
                 scheduled: Iterable[tuple[float, str]] = (), phases: Sequence[tuple[float, dict[str, Any]]] = (),
                 seed: int = 0, disposition: str = "resolved", contact_prefix: str = "c",
                 survey_response: float = 0.0,
                 survey_scores: Sequence[float] = (0.05, 0.05, 0.15, 0.35, 0.4)) -> None:
        self.agents = list(agents)
        self.arrivals_until = arrivals_until
        self.scheduled = sorted(scheduled)
        self.disposition = disposition
        self.prefix = contact_prefix
        base = random.Random(seed)
        # Independent streams per purpose, derived from the one seed.
        self._rng = {name: random.Random(base.getrandbits(64))
                     for name in ("arrivals", "patience", "talk", "wrap", "answer", "survey")}
        if not 0.0 <= survey_response <= 1.0 or len(survey_scores) != 5 or min(survey_scores) < 0 \
                or sum(survey_scores) <= 0:
            raise ValueError("survey_response must be in [0, 1] and survey_scores five weights >= 0")
        self.survey_response = survey_response
        self.survey_scores = tuple(survey_scores)
        self._periods: list[tuple[float, Params]] = []
        current = {"arrival_rates": dict(arrival_rates or {}), "talk": talk, "patience": patience, "wrap": wrap,
                   "answer": answer}
        self._periods.append((0.0, self._params(current)))
        for start, changes in phases:
            for key in changes:
                if key not in current:
                    raise ValueError(f"phase change of unknown parameter {key!r}")
            current = {**current, **changes}
            if "arrival_rates" in changes:
                current["arrival_rates"] = {**self._periods[-1][1].rates, **changes["arrival_rates"]}
            self._periods.append((float(start), self._params(current)))
        self._period = 0
        self._params_now = self._periods[0][1]
        self._next_change = self._periods[1][0] if len(self._periods) > 1 else math.inf
        self._uniform = self._rng["arrivals"].random
        self._count = 0
        self._poisson_of: dict[str, str] = {}  # contact id -> queue of the Poisson stream it continues
        # The timers this adapter may cancel, by contact id.
        self.waiting: set[str] = set()  # callers in line or ringing, whose patience timer is live
        self.ringing: dict[str, str] = {}  # contact -> agent to answer
        self.talking: dict[str, str] = {}  # contact -> agent to hang up
        self.wrapping: dict[str, str] = {}  # contact -> agent to finish wrap-up
        self.arrived = 0
        self._due: dict[type, Callable[[Any, float], Iterable[tuple[float, Event]] | None]] = {
            ContactArrived: self._due_arrival,
            CustomerHungUp: self._due_customer_hangup,
            OfferAccepted: self._due_accept,
            AgentHungUp: self._due_agent_hangup,
            WrapUpDone: self._due_wrap_done,
        }
        self._handlers: dict[type, Callable[[Any, float], Iterable[tuple[float, Event]]]] = {
            OfferContact: self._on_offer,
            Bridge: self._on_bridge,
            CancelOffer: self._on_cancel_offer,
            Unbridge: self._on_unbridge,
            HangUp: self._on_hangup,
            ContactStateChanged: self._on_contact_state,
            ContactRecord: self._on_record,
            StartSurvey: self._on_start_survey,
        }

    def _params(self, values: dict[str, Any]) -> Params:
        def bind(dist: Distribution | None, stream: str) -> Any:
            return None if dist is None else dist.sampler(self._rng[stream])

        for queue, rate in values["arrival_rates"].items():
            if not (rate >= 0 and math.isfinite(rate)):
                raise ValueError(f"arrival rate of queue {queue!r} must be >= 0, got {rate!r}")
        return Params(dict(values["arrival_rates"]), bind(values["talk"], "talk"),
                      bind(values["patience"], "patience"), bind(values["wrap"], "wrap"),
                      bind(values["answer"], "answer"))

    def _advance(self, now: float) -> Params:
        while now >= self._next_change:
            self._period += 1
            self._params_now = self._periods[self._period][1]
            self._next_change = (self._periods[self._period + 1][0] if self._period + 1 < len(self._periods)
                                 else math.inf)
        return self._params_now

    def _rate_at(self, t: float) -> tuple[dict[str, float], float]:
        """(rates in force at t, time the next change happens)."""
        i = 0
        for k, (start, _) in enumerate(self._periods):
            if start <= t:
                i = k
        nxt = self._periods[i + 1][0] if i + 1 < len(self._periods) else math.inf
        return self._periods[i][1].rates, nxt

    def _next_arrival(self, queue: str, after: float) -> float | None:
        """Time of the next Poisson arrival of ``queue`` strictly after ``after`` (None: none before the end)."""
        t = after
        log, uniform = math.log, self._uniform
        while t < self.arrivals_until:
            rates, change = self._rate_at(t)
            rate = rates.get(queue, 0.0)
            if rate > 0:
                candidate = t - log(1.0 - uniform()) / rate
                if candidate < change:
                    return candidate if candidate < self.arrivals_until else None
            if change == math.inf:
                return None
            t = change  # memoryless: start afresh at the change with the new rate
        return None

    def _arrival(self, at: float, queue: str, poisson: bool) -> tuple[float, Event]:
        self._count += 1
        contact_id = f"{self.prefix}{self._count}"
        event = ContactArrived(contact_id, queue=queue)
        if poisson:
            self._poisson_of[contact_id] = queue
        return at, event

    # -------------------------------------------------------------------------------------------- driver ----

    def start(self, now: float) -> list[tuple[float, Event]]:
        out: list[tuple[float, Event]] = []
        for agent in self.agents:
            out.append((now, AgentLogin(agent)))
            out.append((now, AgentReady(agent)))
        for queue in sorted(self._periods[0][1].rates.keys() | {q for _, p in self._periods for q in p.rates}):
            t = self._next_arrival(queue, now)
            if t is not None:
                out.append(self._arrival(t, queue, True))
        for at, queue in self.scheduled:
            if at < self.arrivals_until:
                out.append(self._arrival(at, queue, False))
        return out

    def due(self, event: Event, now: float) -> Iterable[tuple[float, Event]] | None:
        if now >= self._next_change:
            self._advance(now)
        handler = self._due.get(type(event))
        if handler is None:
            return _NONE
        return handler(event, now)

    def due_for(self, kind: type) -> Any:
        """The ``due`` handler for events of type ``kind`` (None: always due, nothing follows)."""
        return self._due.get(kind)

    def handler_for(self, kind: type) -> Any:
        """The ``handle`` handler for actions of type ``kind`` (None: ignored)."""
        return self._handlers.get(kind)

    def handle(self, action: Action, now: float) -> Iterable[tuple[float, Event]]:
        handler = self._handlers.get(type(action))
        if handler is None:
            return _NONE
        return handler(action, now)

    def _on_start_survey(self, action: StartSurvey, now: float) -> list[tuple[float, Event]]:
        rng = self._rng["survey"]
        if not self.survey_response or rng.random() >= self.survey_response:
            return []
        score = rng.choices(range(1, 6), weights=self.survey_scores)[0]
        return [(now + 5.0 + 20.0 * rng.random(), SurveyAnswered(action.contact_id, score))]

    # ------------------------------------------------------------------------------------------- due ----

    def _due_arrival(self, event: ContactArrived, now: float) -> list[tuple[float, Event]]:
        out = []
        cid = event.contact_id
        self.arrived += 1
        queue = self._poisson_of.pop(cid, None)
        if queue is not None:
            t = self._next_arrival(queue, now)
            if t is not None:
                out.append(self._arrival(t, queue, True))
        patience = self._params_now.patience
        if patience is not None:
            self.waiting.add(cid)
            out.append((now + patience(), CustomerHungUp(cid)))
        return out

    def _due_customer_hangup(self, event: CustomerHungUp, now: float) -> Iterable[tuple[float, Event]] | None:
        if event.contact_id in self.waiting:
            self.waiting.discard(event.contact_id)
            return _NONE
        return None

    def _due_accept(self, event: OfferAccepted, now: float) -> Iterable[tuple[float, Event]] | None:
        if self.ringing.get(event.contact_id) == event.agent_id:
            del self.ringing[event.contact_id]
            return _NONE
        return None

    def _due_agent_hangup(self, event: AgentHungUp, now: float) -> Iterable[tuple[float, Event]] | None:
        if self.talking.get(event.contact_id) == event.agent_id:
            del self.talking[event.contact_id]
            return _NONE
        return None

    def _due_wrap_done(self, event: WrapUpDone, now: float) -> Iterable[tuple[float, Event]] | None:
        if self.wrapping.get(event.contact_id) == event.agent_id:
            del self.wrapping[event.contact_id]
            return _NONE
        return None

    # --------------------------------------------------------------------------------------- actions ----

    def _on_offer(self, action: OfferContact, now: float) -> list[tuple[float, Event]]:
        self.ringing[action.contact_id] = action.agent_id
        answer = self._params_now.answer
        delay = answer() if answer is not None else 0.0
        return [(now + delay, OfferAccepted(action.agent_id, action.contact_id))]

    def _on_cancel_offer(self, action: CancelOffer, now: float) -> tuple[Any, ...]:
        if self.ringing.get(action.contact_id) == action.agent_id:
            del self.ringing[action.contact_id]
        return _NONE

    def _on_bridge(self, action: Bridge, now: float) -> list[tuple[float, Event]]:
        self.waiting.discard(action.contact_id)  # connected: patience no longer matters
        self.talking[action.contact_id] = action.agent_id
        return [(now + self._params_now.talk(), AgentHungUp(action.agent_id, action.contact_id))]

    def _on_unbridge(self, action: Unbridge, now: float) -> tuple[Any, ...]:
        if self.talking.get(action.contact_id) == action.agent_id:
            del self.talking[action.contact_id]
        return _NONE

    def _on_hangup(self, action: HangUp, now: float) -> tuple[Any, ...]:
        self.waiting.discard(action.contact_id)  # the ACD ended the caller's side
        return _NONE

    def _on_contact_state(self, action: ContactStateChanged, now: float) -> Iterable[tuple[float, Event]]:
        if action.state == "wrap-up":
            wrap = self._params_now.wrap
            if wrap is not None:
                self.wrapping[action.contact_id] = action.agent_id
                return [(now + wrap(), WrapUpDone(action.agent_id, action.contact_id, self.disposition))]
        return _NONE

    def _on_record(self, action: ContactRecord, now: float) -> tuple[Any, ...]:
        self.waiting.discard(action.contact_id)
        return _NONE
