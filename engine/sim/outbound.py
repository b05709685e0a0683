"""One outbound shift in virtual time: the production ACD and dialer (``engine.center.Center``) against simulated
agents (``SimulatedChannel``) and a simulated carrier (``SimulatedCarrier``), as ``switchboard bench dialer``
and the tests run it.

``run_shift(scenario, mode=...)`` builds a center of ``agents`` agents serving one campaign queue (and,
with ``inbound_rate``, an inbound queue of higher priority: blended work), loads a generated lead list, runs the
shift and returns an ``OutboundResult`` with the figures the issue names: ``occupancy`` (time on contacts,
wrap-up included, ÷ staffed time), ``abandon_rate`` (abandoned ÷ answered by a person), the worst rolling hour,
contacts per agent hour, mean agent wait between calls, and per-interval series for plots.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from engine.acd import Acd
from engine.center import Center
from engine.dialer import Dialer
from engine.dialer_events import LeadsAdded, LeadUpdated, UpsertCampaign
from engine.errors import ConfigError
from engine.events import AgentStateChanged, ContactStateChanged
from engine.model import AgentConfig, CampaignConfig, CenterConfig, Lead, QueueConfig
from engine.sim.carrier import CombinedAdapter, SimulatedCarrier
from engine.sim.channel import SimulatedChannel
from engine.sim.driver import Driver
from engine.sim.scenario import Scenario

SHIFT_START = datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Europe/London")).timestamp()
"""Virtual time of the shift's start: a Monday, 09:00 in London (the generated leads' zone)."""
CAMPAIGN = "campaign"
OUTBOUND_QUEUE = "outbound"
INBOUND_QUEUE = "inbound"
BUSY_STATES = frozenset({"reserved", "on-contact", "wrap-up"})


@dataclass
class OutboundResult:
    """The figures of one simulated shift (see the module docstring); ``series``: per-interval lists."""

    mode: str
    power_ratio: float | None
    agents: int
    hours: float
    dials: int
    humans: int
    abandoned: int
    connects: int
    occupancy: float
    abandon_rate: float
    max_hourly_abandon_rate: float
    contacts_per_agent_hour: float
    mean_agent_wait_s: float
    connect_rate: float
    machine_rate: float
    abandon_rate_uk: float
    inbound_answered: int = 0
    progressive_fallback_s: float = 0.0
    series: dict[str, list[float]] = field(default_factory=dict)
    estimates: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "series"}
        for key, value in data.items():
            if isinstance(value, float):
                data[key] = round(value, 6)
        return data


class _Watch:
    """Observer of the run: agent busy/staffed time per interval, people answered and abandoned with times."""

    def __init__(self, start: float, interval_s: float, intervals: int) -> None:
        self.start = start
        self.interval_s = interval_s
        self.busy = [0.0] * intervals
        self.staffed = [0.0] * intervals
        self.available = 0.0
        self._agent: dict[str, tuple[str, float]] = {}
        self.humans: list[tuple[float, bool]] = []  # (time, abandoned)
        self.inbound_answered = 0
        self.outbound_connects = 0
        self.fallback_s = 0.0

    def handler_for(self, kind: type) -> Any:
        if kind is AgentStateChanged:
            return self._on_agent
        if kind is ContactStateChanged:
            return self._on_contact
        if kind is LeadUpdated:
            return self._on_lead
        return None

    def _add(self, series: list[float], a: float, b: float) -> None:
        size = self.interval_s
        while a < b:
            index = int((a - self.start) // size)
            end = min(b, self.start + (index + 1) * size)
            if 0 <= index < len(series):
                series[index] += end - a
            a = end

    def _on_agent(self, action: AgentStateChanged) -> None:
        previous = self._agent.get(action.agent_id)
        if previous is not None:
            self.close(action.agent_id, previous, action.at)
        self._agent[action.agent_id] = (action.state, action.at)

    def close(self, agent_id: str, previous: tuple[str, float], at: float) -> None:
        state, since = previous
        if state != "logged-out":
            self._add(self.staffed, since, at)
            if state in BUSY_STATES:
                self._add(self.busy, since, at)
            elif state == "available":
                self.available += at - since

    def finish(self, at: float) -> None:
        for agent_id, previous in list(self._agent.items()):
            self.close(agent_id, previous, at)
            self._agent[agent_id] = (previous[0], at)

    def _on_contact(self, action: ContactStateChanged) -> None:
        if action.state != "connected":
            return
        if action.queue == OUTBOUND_QUEUE:
            if not action.contact_id.startswith(CAMPAIGN):
                return
            self.outbound_connects += 1
            self.humans.append((action.at, False))
        else:
            self.inbound_answered += 1

    def _on_lead(self, action: LeadUpdated) -> None:
        if action.outcome == "abandoned":
            self.humans.append((action.at, True))


def max_rolling_rate(events: list[tuple[float, bool]], window_s: float, start: float, end: float) -> float:
    """The worst abandonment rate over every window ``[t - window_s, t]`` with ``start + window_s <= t <= end``
    (evaluated at each event time and at the first window's end)."""
    if not events:
        return 0.0
    times = [t for t, _ in events]
    cumulative = [0]
    for _, abandoned in events:
        cumulative.append(cumulative[-1] + (1 if abandoned else 0))
    worst = 0.0
    candidates = [start + window_s] + [t for t in times if start + window_s <= t <= end]
    for t in candidates:
        lo = bisect.bisect_right(times, t - window_s)
        hi = bisect.bisect_right(times, t)
        people = hi - lo
        if people:
            worst = max(worst, (cumulative[hi] - cumulative[lo]) / people)
    return worst


def build_leads(count: int, *, zone: str = "Europe/London") -> list[dict[str, Any]]:
    """``count`` distinct leads in ``zone`` with numbers in the UK drama range (never a real subscriber)."""
    return [Lead(id=f"L{i}", campaign=CAMPAIGN, phone=f"+44{7700000000 + i}", timezones=(zone,),
                 priority=0, value=float(i % 7)).to_dict() for i in range(count)]


@dataclass
class ShiftSetup:
    """One outbound shift, ready to run: the center (ACD and dialer) and the simulated world around it (the
    carrier and the agents, as one channel adapter whose first events set the campaign up and load its leads)."""

    center: Center
    dialer: Dialer
    adapter: CombinedAdapter
    agents: int
    hours: float
    start: float = SHIFT_START


def shift_setup(scenario: Scenario, *, mode: str, power_ratio: float = 2.0, agents: int | None = None,
                hours: float | None = None, seed: int | None = None, inbound_rate: float = 0.0,
                checker: Callable[[dict[str, Any]], Any] | None = None, amd_false_positive: float = 0.0,
                pacer_factory: Callable[[CampaignConfig], Any] | None = None) -> ShiftSetup:
    """Build the shift ``run_shift`` runs (see there for the arguments); ``ConfigError`` for a scenario that
    lacks what an outbound run needs."""
    agents = agents if agents is not None else scenario.agents
    hours = hours if hours is not None else scenario.shift_hours
    seed = seed if seed is not None else (scenario.seed or 0)
    if not agents or not hours:
        raise ConfigError(f"{scenario.path}: [scenario] agents and shift_hours are needed for an outbound run")
    timing = scenario.timing
    for key in ("ring_s", "talk_s", "wrap_s"):
        if key not in timing:
            raise ConfigError(f"{scenario.path}: [timing] {key} is needed for an outbound run")
    cap = scenario.abandon_target if scenario.abandon_target is not None else 0.03
    grace = scenario.abandon_grace_s if scenario.abandon_grace_s is not None else 2.0
    no_answer = timing["no_answer_timeout_s"].mean if "no_answer_timeout_s" in timing else 25.0
    agent_ids = [f"a{i + 1}" for i in range(agents)]
    queues = [QueueConfig(OUTBOUND_QUEUE, skills={"sales": 1}, ring_timeout_s=10.0, wrap_up_s=3600.0,
                          priority=0)]
    if inbound_rate:
        queues.append(QueueConfig(INBOUND_QUEUE, skills={"sales": 1}, ring_timeout_s=20.0, wrap_up_s=3600.0,
                                  priority=10))
    center_config = CenterConfig(skills=("sales",), agents=tuple(AgentConfig(a, skills={"sales": 5})
                                                                 for a in agent_ids), queues=tuple(queues))
    campaign = CampaignConfig(CAMPAIGN, OUTBOUND_QUEUE, mode=mode, power_ratio=power_ratio, abandon_target=cap,
                              abandon_grace_s=grace, ring_timeout_s=no_answer, max_attempts=8,
                              min_interval_s=1800.0, daily_cap=4)
    dialer = Dialer(center_config, pacer_factory=pacer_factory or _scenario_pacer(scenario, no_answer))
    center = Center(Acd(center_config), dialer)
    shift_s = hours * 3600.0
    outcomes = [(0.0, dict(scenario.outcomes))]  # the carrier's periods, on the virtual clock
    for phase in scenario.phases:
        if phase.outcomes:
            outcomes.append((SHIFT_START + phase.at_hour * 3600.0, {**outcomes[-1][1], **phase.outcomes}))
    carrier = SimulatedCarrier(outcomes=outcomes, ring=timing["ring_s"],
                               busy_s=timing["busy_s"].mean if "busy_s" in timing else 3.0,
                               amd_s=timing["amd_s"].mean if "amd_s" in timing else 3.0, no_answer_s=no_answer,
                               amd_false_positive=amd_false_positive, checker=checker, seed=seed)
    channel = SimulatedChannel(agents=agent_ids, talk=timing["talk_s"], wrap=timing["wrap_s"],
                               arrival_rates={INBOUND_QUEUE: inbound_rate} if inbound_rate else None,
                               arrivals_until=SHIFT_START + shift_s, seed=seed + 1, disposition="resolved",
                               contact_prefix="in")
    lead_count = int(agents * hours * 150) + 1000
    first = [(SHIFT_START, UpsertCampaign(campaign)),
             (SHIFT_START, LeadsAdded(CAMPAIGN, tuple(build_leads(lead_count))))]
    adapter = CombinedAdapter([carrier, channel], first)
    return ShiftSetup(center, dialer, adapter, agents, hours)


def run_shift(scenario: Scenario, *, mode: str, power_ratio: float = 2.0, agents: int | None = None,
              hours: float | None = None, seed: int | None = None, inbound_rate: float = 0.0,
              checker: Callable[[dict[str, Any]], Any] | None = None,
              amd_false_positive: float = 0.0, pacer_factory: Callable[[CampaignConfig], Any] | None = None,
              progress: Callable[[float], None] | None = None, interval_s: float = 900.0) -> OutboundResult:
    """Simulate one shift of ``scenario`` in ``mode``; see the module docstring. ``progress(fraction)`` is called
    as virtual time advances (for a progress bar)."""
    setup = shift_setup(scenario, mode=mode, power_ratio=power_ratio, agents=agents, hours=hours, seed=seed,
                        inbound_rate=inbound_rate, checker=checker, amd_false_positive=amd_false_positive,
                        pacer_factory=pacer_factory)
    center, dialer, adapter, agents, hours = setup.center, setup.dialer, setup.adapter, setup.agents, setup.hours
    shift_s = hours * 3600.0
    intervals = int(math.ceil(shift_s / interval_s))
    watch = _Watch(SHIFT_START, interval_s, intervals)
    driver = Driver(center, adapter, observers=[watch])
    driver.now = SHIFT_START  # the adapters start at the driver's time: agents log in at the shift's start
    step = shift_s / 100.0
    t = SHIFT_START
    end = SHIFT_START + shift_s
    fallback = 0.0
    while t < end:
        t = min(end, t + step)
        driver.run(until=t)
        if dialer.mode_now(CAMPAIGN) != mode:
            fallback += step
        if progress is not None:
            progress((t - SHIFT_START) / shift_s)
    watch.finish(end)
    figures = dialer.figures(CAMPAIGN)
    totals = figures.total
    rates = figures.rates()
    humans = [h for h in watch.humans if h[0] <= end]
    abandoned = sum(1 for _, a in humans if a)
    staffed = sum(watch.staffed) or 1.0
    connects = watch.outbound_connects
    series = {
        "hour": [(i + 0.5) * interval_s / 3600.0 for i in range(intervals)],
        "occupancy": [b / s if s else 0.0 for b, s in zip(watch.busy, watch.staffed, strict=True)],
        "abandon_rate": _interval_rates(humans, SHIFT_START, interval_s, intervals),
    }
    return OutboundResult(
        mode=mode, power_ratio=power_ratio if mode == "power" else None, agents=agents, hours=hours,
        dials=int(totals["dials"]), humans=len(humans), abandoned=abandoned, connects=connects,
        occupancy=sum(watch.busy) / staffed, abandon_rate=abandoned / len(humans) if humans else 0.0,
        max_hourly_abandon_rate=max_rolling_rate(humans, 3600.0, SHIFT_START, end),
        contacts_per_agent_hour=connects / (agents * hours),
        mean_agent_wait_s=watch.available / connects if connects else 0.0,
        connect_rate=rates["connect_rate"], machine_rate=rates["machine_rate"],
        abandon_rate_uk=rates["abandon_rate_uk"], inbound_answered=watch.inbound_answered,
        progressive_fallback_s=fallback, series=series, estimates=dialer.pacer(CAMPAIGN).estimates())


def _interval_rates(humans: list[tuple[float, bool]], start: float, size: float, count: int) -> list[float]:
    people = [0] * count
    lost = [0] * count
    for t, abandoned in humans:
        i = int((t - start) // size)
        if 0 <= i < count:
            people[i] += 1
            lost[i] += abandoned
    return [lost[i] / people[i] if people[i] else 0.0 for i in range(count)]


def _scenario_pacer(scenario: Scenario, no_answer: float) -> Callable[[CampaignConfig], Any]:
    """Pacers start from neutral priors (not the scenario's truth): they must learn the shift as it goes."""
    from engine import core

    def factory(config: CampaignConfig) -> Any:
        return core.Pacer(p_human=0.25, p_machine=0.15, p_busy=0.05, ring_s=(10.0, 5.0), talk_s=(120.0, 60.0),
                          wrap_s=(15.0, 1.0), no_answer_s=no_answer)

    return factory
