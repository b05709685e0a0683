"""The outbound dialer: a sans-IO state machine that decides which leads to dial, when, and how many at once.

Theory of operation
-------------------
``Dialer.feed(event, now)`` takes one dialer event (``engine.dialer_events``) and returns actions;
``Dialer.observe(action, now)`` takes one action of the ACD (agent and contact state changes, records), because
the dialer's agents are the ACD's agents (blended work: one pool) and a call that reaches a person is routed to
an agent by the ACD. ``engine.center.Center`` wires the two. Like the ACD it reads no clock and draws no random
number: replaying the journal gives the same dials.

A lead's dial, as a table (state x event -> state, actions)::

    pool      --pace: chosen------------------> checking     CheckCompliance
    checking  --ComplianceVerdict(allowed)----> ringing      Dial                      (never two at once per lead)
    checking  --ComplianceVerdict(refused)----> pool/out     DialSkipped (rescheduled by rule, or removed)
    ringing   --CallFailed(busy|no-answer)----> pool         LeadUpdated (retry by outcome)
    ringing   --CallAnswered(machine)---------> pool         PlayMessage or DropCall by campaign rule
    ringing   --CallAnswered(human|unknown)---> waiting      ContactArrived to the ACD, grace timer armed
    waiting   --ACD connected-----------------> connected    (the ACD bridges; talk and wrap-up are the ACD's)
    waiting   --grace timer (2 s)-------------> out          PlayMessage(abandon), CustomerHungUp to the ACD;
                                                             counted abandoned; not dialled again that day
    connected --ACD ContactRecord-------------> done/pool    LeadUpdated (disposition)

Pacing runs on a timer every ``PACE_INTERVAL_S`` per active campaign. Agents are classed from the ACD's state
changes: *idle* (available, serving the campaign's queue), *busy outbound* (talking or wrapping up a call of the
campaign: they will be free soon, and the pacer knows when to expect them), or unavailable (inbound work,
not-ready: blending never counts an inbound agent as coming free). Then per mode:

- progressive: one line per idle agent (lines in flight and people waiting count against it);
- power: ``power_ratio`` lines per idle agent;
- predictive: ``engine.core.Pacer.lines_to_dial`` (the arithmetic in the compiled core), under a marginal
  abandonment threshold moved by the ``AbandonController``: every person answered nudges the threshold up, every
  abandonment pulls it down (a stochastic approximation that settles where the realised rate equals the
  controller's target, below the cap), throttled as the room under the cap in the rolling hour or the shift runs
  out; when one more abandonment would break the cap the campaign falls back to progressive until it has room;
- preview: leads are offered to agents through the ACD as callbacks (the agent sees the lead and its CRM data and
  accepts = dial, or declines / lets it time out = back to the pool for another agent); agent-scheduled callbacks
  go the same way in every mode, first to their agent.

Compliance is asked at the moment of dialling (``CheckCompliance`` -> ``ComplianceVerdict``), after the lead was
chosen: a DNC entry added while the lead waited stops its dial.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from engine import core
from engine.dialer_events import (
    ANSWERS,
    FAILURES,
    CallAnswered,
    CalleeHungUp,
    CallFailed,
    CheckCompliance,
    ComplianceVerdict,
    Dial,
    DialSkipped,
    DropCall,
    LeadsAdded,
    LeadUpdated,
    PlayMessage,
    ScheduleCallback,
    UpsertCampaign,
)
from engine.errors import AcdError, ConfigError
from engine.events import (
    Action,
    AgentStateChanged,
    ContactArrived,
    ContactRecord,
    ContactStateChanged,
    CustomerHungUp,
    Event,
    Tick,
    UpsertAgent,
    UpsertQueue,
)
from engine.model import DIAL_MODES, AgentConfig, CampaignConfig, CenterConfig, Lead, QueueConfig

PACE_INTERVAL_S = 1.0
"""How often each campaign's pacer decides."""
RECENT_DIALS_S = 48 * 3600.0
"""How far back dials to a number are kept for the daily cap (two days covers every local day)."""
RETRY_REFUSED_S: dict[str, float] = {"calling-hours": 900.0, "min-interval": 0.0, "daily-cap": 0.0,
                                     "plugin-fault": 300.0}
"""Delay before a lead refused by a rule is looked at again (0: computed from the rule: end of interval, next
day). Rules not named here: one hour. ``dnc``, ``blocked`` and ``max-attempts`` end the lead."""
FINAL_RULES = {"dnc": "dnc", "blocked": "dnc", "max-attempts": "exhausted"}
INTERVAL_S = 900.0
"""Interval of the per-campaign figures (15 minutes)."""

_UNSERVED = frozenset({"closed", "rejected", "max-wait", "abandoned"})
_OUTCOME_CODE = {"human": core.OUTCOME_HUMAN, "machine": core.OUTCOME_MACHINE, "busy": core.OUTCOME_BUSY,
                 "no-answer": core.OUTCOME_NO_ANSWER, "failed": core.OUTCOME_NO_ANSWER}


class AbandonController:
    """Keeps one campaign's abandonment under its cap: the predictive pacer's threshold, its throttle, and the
    fallback.

    The cap holds over the shift and over every rolling ``window_s``. The rate aimed at (``target(now)``) is
    ``set_point`` x the cap, lowered when the campaign reaches few people per window: over a rolling hour the count
    of abandonments is noisy (about Poisson), so the target is the rate whose expected count plus ``z`` standard
    deviations stays within ``near`` x the cap's count. A 50-agent campaign aims near 2.3 % of 3 %, a 10-agent one
    near 1.9 %: the smaller the volume, the more margin its worst hour needs.

    ``threshold(now)`` is the marginal abandonment probability the pacer may accept for one more line: learnt
    (every person reached nudges it up, every abandonment pulls it down, settling where the realised rate equals
    the target), then throttled in proportion to the room left under the cap in the rolling window and the shift,
    counted in abandonments: full with ``throttle_room`` or more, down to 2 % of it as the room runs out.
    ``fallback(now)`` says one more abandonment would break the cap itself: dial progressively until there is
    room.
    """

    def __init__(self, cap: float, *, set_point: float = 0.8, gain: float = 0.05, threshold: float = 0.01,
                 window_s: float = 3600.0, near: float = 0.93, z: float = 1.0, throttle_room: float = 4.0) -> None:
        self.cap = cap
        self.set_point = set_point
        self.gain = gain
        self.log_threshold = math.log(threshold)
        self.window_s = window_s
        self.near = near
        self.z = z
        self.throttle_room = throttle_room
        self.humans = 0
        self.abandoned = 0
        self.started: float | None = None
        self._window: deque[tuple[float, bool]] = deque()
        self._window_abandoned = 0

    def target(self, now: float) -> float:
        """The abandonment rate aimed at (see the class docstring)."""
        aim = self.set_point * self.cap
        if self.started is None or now <= self.started:
            return aim
        per_window = self.humans * self.window_s / max(now - self.started, self.window_s / 4)
        room = self.near * self.cap * per_window  # abandonments a window may hold
        if room <= 0:
            return aim
        root = (-self.z + math.sqrt(self.z * self.z + 4.0 * room)) / 2.0  # lambda + z sqrt(lambda) = room
        return min(aim, root * root / per_window)

    def threshold(self, now: float | None = None) -> float:
        """The learnt threshold; with ``now``, throttled by the room left under the cap."""
        learnt = math.exp(self.log_threshold)
        if now is None:
            return learnt
        return learnt * max(0.02, min(1.0, self.room(now) / self.throttle_room))

    def room(self, now: float, *, share: float | None = None) -> float:
        """Abandonments that fit under ``share`` (default ``near``) x the cap, in the rolling window and in the
        shift (the lesser)."""
        share = self.near if share is None else share
        abandoned, humans = self.rolling(now)
        window = share * self.cap * max(humans, 1) - abandoned
        shift = share * self.cap * max(self.humans, 1) - self.abandoned
        return min(window, shift)

    def record(self, now: float, abandoned: bool, *, learn: bool = True) -> None:
        """A person answered: ``abandoned`` if no agent reached them within the grace. ``learn``: the call was
        paced by the threshold (predictive), so its fate moves the threshold; calls dialled progressively in a
        fallback count in the figures only (else the threshold would creep up while it is not in use)."""
        if self.started is None:
            self.started = now
        self.humans += 1
        self._window.append((now, abandoned))
        if abandoned:
            self.abandoned += 1
            self._window_abandoned += 1
        if not learn:
            return
        target = self.target(now)
        if abandoned:
            self.log_threshold -= self.gain * (1.0 - target)
        else:
            self.log_threshold += self.gain * target
        self.log_threshold = min(math.log(0.5), max(math.log(1e-4), self.log_threshold))

    def _trim(self, now: float) -> None:
        window = self._window
        while window and window[0][0] <= now - self.window_s:
            if window.popleft()[1]:
                self._window_abandoned -= 1

    def rolling(self, now: float) -> tuple[int, int]:
        """(abandoned, people answered) over the last ``window_s``."""
        self._trim(now)
        return self._window_abandoned, len(self._window)

    def fallback(self, now: float) -> bool:
        """One more abandonment would break the cap itself (the first one always has room)."""
        return self.abandoned > 0 and self.room(now, share=1.0) < 1.0

    def snapshot(self) -> dict[str, Any]:
        return {"log_threshold": self.log_threshold, "humans": self.humans, "abandoned": self.abandoned,
                "started": self.started, "window": [list(x) for x in self._window]}

    def restore(self, data: dict[str, Any]) -> None:
        self.log_threshold = data["log_threshold"]
        self.humans = data["humans"]
        self.abandoned = data["abandoned"]
        self.started = data.get("started")
        self._window = deque((t, bool(a)) for t, a in data["window"])
        self._window_abandoned = sum(1 for _, a in self._window if a)


class CampaignFigures:
    """Counts of one campaign, for the shift and per 15-minute interval (``intervals[start] -> counts``)."""

    KEYS = ("dials", "humans", "machines", "busy", "no_answer", "failed", "abandoned", "amd_false_positives",
            "connects", "skipped", "talk_s", "wrap_s", "completed")

    def __init__(self) -> None:
        self.total: dict[str, float] = dict.fromkeys(self.KEYS, 0)
        self.intervals: dict[float, dict[str, float]] = {}
        self.dispositions: dict[str, int] = {}

    def add(self, now: float, key: str, amount: float = 1) -> None:
        self.total[key] += amount
        start = math.floor(now / INTERVAL_S) * INTERVAL_S
        bucket = self.intervals.get(start)
        if bucket is None:
            bucket = self.intervals[start] = dict.fromkeys(self.KEYS, 0)
        bucket[key] += amount

    def rates(self, counts: dict[str, float] | None = None) -> dict[str, float]:
        c = self.total if counts is None else counts
        dials = c["dials"] or 1
        humans = c["humans"] or 1
        return {"connect_rate": c["humans"] / dials, "machine_rate": c["machines"] / dials,
                "abandon_rate": c["abandoned"] / humans,
                "abandon_rate_uk": (c["abandoned"] + c["amd_false_positives"]) / humans}


_PHASES = ("checking", "ringing", "waiting", "connected", "preview")


class _Call:
    __slots__ = ("id", "campaign", "lead", "phase", "dialled_at", "answered_at", "connected_at", "ended_at",
                 "agent", "answer", "preview", "mode")

    def __init__(self, call_id: str, campaign: str, lead: Lead, phase: str) -> None:
        self.id = call_id
        self.campaign = campaign
        self.lead = lead
        self.phase = phase  # checking, ringing, waiting, connected, preview
        self.dialled_at = 0.0
        self.answered_at = 0.0
        self.connected_at = 0.0
        self.ended_at = 0.0  # end of the conversation: the start of the agent's wrap-up
        self.agent = ""
        self.answer = ""
        self.preview = False
        self.mode = ""  # the mode the call was dialled in


class _AgentView:
    __slots__ = ("id", "state", "since", "call", "call_phase", "config", "campaigns")

    def __init__(self, config: AgentConfig) -> None:
        self.id = config.id
        self.config = config
        self.state = "logged-out"
        self.since = 0.0
        self.call: str | None = None  # the outbound call it is on or wrapping up
        self.call_phase = ""  # talk | wrap
        self.campaigns: list[_Campaign] = []  # the campaigns it can serve


class _Campaign:
    def __init__(self, config: CampaignConfig, pacer: Any) -> None:
        self.config = config
        self.pacer = pacer
        self.controller = AbandonController(config.abandon_target)
        self.figures = CampaignFigures()
        self.leads: dict[str, Lead] = {}
        # Due leads, one heap per callee zone (the answer rate learnt depends on the local hour, so within a zone
        # the heap order is the choice order): zone -> [(-priority, -value, due, seq, lead id)].
        self.ready: dict[str, list[tuple[int, float, float, int, str]]] = {}
        self.scheduled: list[tuple[float, int, str]] = []  # (due, seq, lead id)
        self.callbacks: list[tuple[float, int, str]] = []  # agent-reserved callbacks: (due, seq, lead id)
        self.queued: set[str] = set()  # lead ids in ready or scheduled (the heaps may hold stale entries)
        self.busy: set[str] = set()  # lead ids being checked, dialled or talked to
        self.calls: set[str] = set()
        self.phases: dict[str, set[str]] = {p: set() for p in _PHASES}  # phase -> call ids in it
        self.agents: set[str] = set()
        self.available: set[str] = set()  # its agents in state available
        self.engaged: set[str] = set()  # its agents on (or wrapping up) one of its calls
        self.next_pace = 0.0
        self.hour_answers = [[1, 4] for _ in range(24)]  # per local hour: [people, dials] (a weak prior)
        self.mode_now = config.mode


class Dialer:
    """The dialer of every campaign of one partition. See the module docstring.

    ``config``: the center's configuration (agents and queues: a campaign's agents are those able to serve its
    queue). ``pacer_factory(campaign)`` makes a ``Pacer`` (``engine.core.Pacer`` with the campaign's priors by
    default). ``call_prefix`` starts every call id.
    """

    def __init__(self, config: CenterConfig, *, pacer_factory: Callable[[CampaignConfig], Any] | None = None,
                 call_prefix: str = "") -> None:
        self._queues: dict[str, QueueConfig] = {q.id: q for q in config.queues}
        self._agents: dict[str, _AgentView] = {a.id: _AgentView(a) for a in config.agents}
        self._campaigns: dict[str, _Campaign] = {}
        self._calls: dict[str, _Call] = {}
        self._recent: dict[str, deque[float]] = {}
        self._timers: list[tuple[float, int, str, str]] = []  # (at, seq, kind, ref)
        self._seq = 0
        self._count = 0
        self._prefix = call_prefix
        self._pacer_factory = pacer_factory or (lambda c: core.Pacer(ring_s=(8.0, 4.0),
                                                                      no_answer_s=c.ring_timeout_s))
        self._handlers: dict[type, Callable[[Any, float], list[Action]]] = {
            Tick: self._on_tick, UpsertCampaign: self._on_upsert_campaign, LeadsAdded: self._on_leads_added,
            ScheduleCallback: self._on_schedule_callback, ComplianceVerdict: self._on_verdict,
            CallAnswered: self._on_answered, CallFailed: self._on_failed, CalleeHungUp: self._on_callee_hung_up,
        }
        self.to_acd: list[Event] = []
        """Events for the ACD produced by the last ``feed``/``observe`` (``Center`` feeds them on)."""

    EVENT_TYPES: tuple[type, ...] = (UpsertCampaign, LeadsAdded, ScheduleCallback, ComplianceVerdict,
                                     CallAnswered, CallFailed, CalleeHungUp)

    # ------------------------------------------------------------------------------------------- interface ----

    def feed(self, event: Event, now: float) -> list[Action]:
        """Apply one dialer event (or a ``Tick``) at ``now``; returns the actions. ``AcdError`` if refused,
        leaving the state untouched."""
        handler = self._handlers.get(type(event))
        if handler is None:
            raise AcdError(f"the dialer does not take {type(event).__name__}")
        return handler(event, now)

    def next_deadline(self) -> float | None:
        deadlines = [c.next_pace for c in self._campaigns.values() if c.config.active]
        if self._timers:
            deadlines.append(self._timers[0][0])
        return min(deadlines) if deadlines else None

    def observe(self, action: Action, now: float) -> list[Action]:
        """Learn from one ACD action (agent and contact states, records) or ACD configuration event."""
        kind = type(action)
        if kind is AgentStateChanged:
            self._observe_agent(cast(AgentStateChanged, action), now)
        elif kind is ContactStateChanged:
            return self._observe_contact(cast(ContactStateChanged, action), now)
        elif kind is ContactRecord:
            return self._observe_record(cast(ContactRecord, action), now)
        elif kind is UpsertAgent:
            config = action.agent  # type: ignore[attr-defined]
            view = self._agents.get(config.id)
            if view is None:
                view = self._agents[config.id] = _AgentView(config)
            view.config = config
            self._regroup()
        elif kind is UpsertQueue:
            queue = action.queue  # type: ignore[attr-defined]
            self._queues[queue.id] = queue
            self._regroup()
        return []

    def validate(self, event: Event) -> None:
        """Raise ``AcdError`` if ``feed(event)`` would refuse it for what it is, whenever it came: an unknown type
        or campaign, a malformed campaign or lead, an answer or outcome that does not exist. (A call event for a
        call that has ended is refused by ``feed``, which leaves the state untouched.)"""
        kind = type(event)
        if kind not in self._handlers:
            raise AcdError(f"the dialer does not take {kind.__name__}")
        if isinstance(event, UpsertCampaign):
            self._check_campaign(event.campaign)
        elif isinstance(event, LeadsAdded):
            self._need(event.campaign)
            for data in event.leads:
                self._parse_lead(event.campaign, data)
        elif isinstance(event, ScheduleCallback):
            self._need(event.campaign)
        elif isinstance(event, CallAnswered) and event.answer not in ANSWERS:
            raise AcdError(f"answer {event.answer!r} is not one of {', '.join(ANSWERS)}")
        elif isinstance(event, CallFailed) and event.outcome not in FAILURES:
            raise AcdError(f"outcome {event.outcome!r} is not one of {', '.join(FAILURES)}")

    # ------------------------------------------------------------------------------------------ snapshots ----

    def snapshot(self) -> dict[str, Any]:
        """The whole state as msgpack-able data; ``Dialer.restore`` rebuilds a dialer that acts identically."""
        campaigns = []
        for c in self._campaigns.values():
            campaigns.append({
                "config": c.config.to_dict(), "pacer": c.pacer.state(), "controller": c.controller.snapshot(),
                "figures": {"total": dict(c.figures.total),
                            "intervals": [[start, dict(counts)] for start, counts in c.figures.intervals.items()],
                            "dispositions": dict(c.figures.dispositions)},
                "leads": [lead.to_dict() for lead in c.leads.values()],
                "ready": [[zone, [list(entry) for entry in heap]] for zone, heap in c.ready.items()],
                "scheduled": [list(entry) for entry in c.scheduled],
                "callbacks": [list(entry) for entry in c.callbacks],
                "queued": sorted(c.queued), "busy": sorted(c.busy), "next_pace": c.next_pace,
                "hour_answers": [list(h) for h in c.hour_answers], "mode_now": c.mode_now,
            })
        calls = [{**{name: getattr(call, name) for name in _Call.__slots__ if name != "lead"},
                  "lead": call.lead.to_dict()} for call in self._calls.values()]
        agents = [[v.id, v.state, v.since, v.call, v.call_phase] for v in self._agents.values()]
        return {"format": 1, "campaigns": campaigns, "calls": calls, "agents": agents,
                "recent": [[phone, list(times)] for phone, times in self._recent.items()],
                "timers": [list(t) for t in self._timers], "counters": [self._seq, self._count],
                "prefix": self._prefix}

    @classmethod
    def restore(cls, data: dict[str, Any], config: CenterConfig, *,
                pacer_factory: Callable[[CampaignConfig], Any] | None = None) -> Dialer:
        """Rebuild the dialer that ``snapshot`` described, for the center configured as ``config`` (the ACD's
        configuration at the time of the snapshot). ``ConfigError`` for data it cannot read."""
        if not isinstance(data, dict) or data.get("format") != 1:
            raise ConfigError("dialer snapshot: unknown format (expected format 1)")
        try:
            return cls._restore(data, config, pacer_factory)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"dialer snapshot: unreadable ({type(exc).__name__}: {exc})") from None

    @classmethod
    def _restore(cls, data: dict[str, Any], config: CenterConfig,
                 pacer_factory: Callable[[CampaignConfig], Any] | None) -> Dialer:
        dialer = cls(config, pacer_factory=pacer_factory, call_prefix=data["prefix"])
        for agent_id, state, since, call, phase in data["agents"]:
            view = dialer._agents.get(agent_id)
            if view is not None:
                view.state, view.since, view.call, view.call_phase = state, since, call, phase
        for saved in data["campaigns"]:
            config_c = CampaignConfig.from_dict(saved["config"])
            c = dialer._campaigns[config_c.id] = _Campaign(config_c, dialer._pacer_factory(config_c))
            c.pacer.set_state(saved["pacer"])
            c.controller.restore(saved["controller"])
            c.figures.total.update(saved["figures"]["total"])
            c.figures.intervals = {start: dict(counts) for start, counts in saved["figures"]["intervals"]}
            c.figures.dispositions = dict(saved["figures"]["dispositions"])
            c.leads = {d["id"]: Lead.from_dict(d) for d in saved["leads"]}
            c.ready = {zone: [(e[0], e[1], e[2], e[3], e[4]) for e in heap] for zone, heap in saved["ready"]}
            c.scheduled = [(e[0], e[1], e[2]) for e in saved["scheduled"]]
            c.callbacks = [(e[0], e[1], e[2]) for e in saved["callbacks"]]
            c.queued, c.busy = set(saved["queued"]), set(saved["busy"])
            c.next_pace = saved["next_pace"]
            c.hour_answers = [list(h) for h in saved["hour_answers"]]
            c.mode_now = saved["mode_now"]
        for saved in data["calls"]:
            call = _Call(saved["id"], saved["campaign"], Lead.from_dict(saved["lead"]), saved["phase"])
            for name in _Call.__slots__:
                if name not in ("id", "campaign", "lead", "phase"):
                    setattr(call, name, saved[name])
            dialer._calls[call.id] = call
            campaign = dialer._campaigns[call.campaign]
            campaign.calls.add(call.id)
            campaign.phases[call.phase].add(call.id)
        dialer._recent = {phone: deque(times) for phone, times in data["recent"]}
        dialer._timers = [(t[0], t[1], t[2], t[3]) for t in data["timers"]]
        dialer._seq, dialer._count = data["counters"]
        dialer._regroup()
        return dialer

    # ---------------------------------------------------------------------------------------- introspection ----

    def pending_checks(self, now: float) -> list[CheckCompliance]:
        """The compliance questions of the calls still waiting for their verdict, asked again at ``now``: after a
        restart the answers to the questions asked before it are lost with the process (``CheckCompliance`` is an
        action, not journaled), so the channel side asks them again."""
        return [CheckCompliance(call.id, self._request(self._campaigns[call.campaign], call.lead, now))
                for call in self._calls.values() if call.phase == "checking"]

    def campaign(self, campaign_id: str) -> CampaignConfig:
        return self._need(campaign_id).config

    def campaigns(self) -> list[CampaignConfig]:
        """Every campaign's configuration, in the order the campaigns were added."""
        return [c.config for c in self._campaigns.values()]

    def figures(self, campaign_id: str) -> CampaignFigures:
        return self._need(campaign_id).figures

    def controller(self, campaign_id: str) -> AbandonController:
        return self._need(campaign_id).controller

    def pacer(self, campaign_id: str) -> Any:
        return self._need(campaign_id).pacer

    def lead(self, campaign_id: str, lead_id: str) -> Lead:
        return self._need(campaign_id).leads[lead_id]

    def calls_in_progress(self) -> dict[str, tuple[str, str, str]]:
        """call id -> (campaign, lead id, phase)."""
        return {c.id: (c.campaign, c.lead.id, c.phase) for c in self._calls.values()}

    def mode_now(self, campaign_id: str) -> str:
        """The mode the campaign dials in at the moment (predictive falls back to progressive near the cap)."""
        return self._need(campaign_id).mode_now

    def _need(self, campaign_id: str) -> _Campaign:
        campaign = self._campaigns.get(campaign_id)
        if campaign is None:
            raise AcdError(f"unknown campaign {campaign_id!r}")
        return campaign

    # ------------------------------------------------------------------------------------------ campaigns ----

    def _check_campaign(self, config: CampaignConfig) -> None:
        if config.mode not in DIAL_MODES:
            raise AcdError(f"campaign {config.id!r}: mode {config.mode!r} is not one of {', '.join(DIAL_MODES)}")
        if config.queue not in self._queues:
            raise AcdError(f"campaign {config.id!r}: unknown queue {config.queue!r}")
        if not (0.0 < config.abandon_target < 1.0):
            raise AcdError(f"campaign {config.id!r}: abandon_target must be in (0, 1)")
        if config.power_ratio < 1.0:
            raise AcdError(f"campaign {config.id!r}: power_ratio must be >= 1")

    def _on_upsert_campaign(self, event: UpsertCampaign, now: float) -> list[Action]:
        config = event.campaign
        self._check_campaign(config)
        existing = self._campaigns.get(config.id)
        if existing is None:
            campaign = self._campaigns[config.id] = _Campaign(config, self._pacer_factory(config))
            campaign.next_pace = now
        else:
            existing.config = config
            existing.controller.cap = config.abandon_target
            existing.mode_now = config.mode
        self._regroup()
        return []

    def _regroup(self) -> None:
        for campaign in self._campaigns.values():
            queue = self._queues.get(campaign.config.queue)
            skills = queue.skills if queue is not None else {}
            campaign.agents = {a.id for a in self._agents.values()
                               if all(a.config.skills.get(s, 0) >= lvl for s, lvl in skills.items())}
        for view in self._agents.values():
            view.campaigns = [c for c in self._campaigns.values() if view.id in c.agents]
        for campaign in self._campaigns.values():
            views = [self._agents[a] for a in campaign.agents]
            campaign.available = {v.id for v in views if v.state == "available"}
            campaign.engaged = {v.id for v in views if v.call is not None and v.call in campaign.calls}

    def _on_leads_added(self, event: LeadsAdded, now: float) -> list[Action]:
        campaign = self._need(event.campaign)
        leads = [self._parse_lead(event.campaign, data) for data in event.leads]
        for lead in leads:
            if lead.id in campaign.busy:
                continue
            campaign.leads[lead.id] = lead
            self._enqueue(campaign, lead, now)
        return []

    @staticmethod
    def _parse_lead(campaign_id: str, data: Any) -> Lead:
        try:
            lead = Lead.from_dict(data)
        except (TypeError, KeyError, ValueError) as exc:
            raise AcdError(f"campaign {campaign_id!r}: malformed lead {data!r:.80}: {exc}") from None
        if lead.campaign != campaign_id:
            raise AcdError(f"lead {lead.id!r} belongs to campaign {lead.campaign!r}, not {campaign_id!r}")
        return lead

    def _enqueue(self, campaign: _Campaign, lead: Lead, now: float) -> None:
        self._seq += 1
        campaign.queued.add(lead.id)
        due = lead.next_attempt
        if lead.agent is not None:
            heapq.heappush(campaign.callbacks, (due or 0.0, self._seq, lead.id))
        elif due is not None and due > now:
            heapq.heappush(campaign.scheduled, (due, self._seq, lead.id))
        else:
            heapq.heappush(campaign.ready.setdefault(_zone_of(lead), []),
                           (-lead.priority, -lead.value, due or 0.0, self._seq, lead.id))

    def _on_schedule_callback(self, event: ScheduleCallback, now: float) -> list[Action]:
        campaign = self._need(event.campaign)
        lead = campaign.leads.get(event.lead_id)
        if lead is None:
            raise AcdError(f"campaign {event.campaign!r}: unknown lead {event.lead_id!r}")
        if event.agent is not None and event.agent not in self._agents:
            raise AcdError(f"unknown agent {event.agent!r}")
        lead = _replace(lead, next_attempt=event.at, agent=event.agent)
        campaign.leads[lead.id] = lead
        if lead.id not in campaign.busy:
            self._enqueue(campaign, lead, now)
        return [LeadUpdated(campaign.config.id, lead.id, "callback-scheduled", "scheduled", lead.attempts,
                            event.at, now, {"agent": event.agent or ""})]

    # ------------------------------------------------------------------------------------------- pacing ----

    def _on_tick(self, event: Tick, now: float) -> list[Action]:
        out: list[Action] = []
        timers = self._timers
        while timers and timers[0][0] <= now:
            _, _, kind, ref = heapq.heappop(timers)
            if kind == "grace":
                self._grace_expired(ref, now, out)
        for campaign in self._campaigns.values():
            if campaign.config.active and campaign.next_pace <= now:
                campaign.next_pace = now + PACE_INTERVAL_S
                self._pace(campaign, now, out)
        return out

    def _classify(self, campaign: _Campaign, now: float) -> tuple[int, list[float], list[float]]:
        """(idle agents, ages of the talks, ages of the wrap-ups) of the campaign's agents on its calls."""
        talk: list[float] = []
        wrap: list[float] = []
        agents = self._agents
        calls = campaign.calls
        for agent_id in campaign.engaged:
            a = agents[agent_id]
            if a.call not in calls:  # offered, then the call ended before it connected
                continue
            (talk if a.call_phase == "talk" else wrap).append(now - a.since)
        return len(campaign.available), talk, wrap

    def _pace(self, campaign: _Campaign, now: float, out: list[Action]) -> None:
        self._release_due(campaign, now)
        config = campaign.config
        idle, talk, wrap = self._classify(campaign, now)
        calls, phases = self._calls, campaign.phases
        ringing = [now - calls[c].dialled_at for c in phases["checking"]]
        ringing += [now - calls[c].dialled_at for c in phases["ringing"]]
        waiting = len(phases["waiting"])
        previews = len(phases["preview"])
        self._dial_callbacks(campaign, now, out)
        mode = config.mode
        if mode == "predictive" and campaign.controller.fallback(now):
            mode = "progressive"
        campaign.mode_now = mode
        if mode == "preview":
            lines = idle - previews
        elif mode == "progressive":
            lines = idle - len(ringing) - waiting
        elif mode == "power":
            lines = int(config.power_ratio * (idle - waiting) + 1e-9) - len(ringing)
        else:
            lines = campaign.pacer.lines_to_dial(idle, talk, wrap, ringing, waiting, config.abandon_grace_s,
                                                 campaign.controller.threshold(now),
                                                 max(0, 4 * len(campaign.agents) - len(ringing)))
        for _ in range(max(0, lines)):
            lead = self._choose(campaign, now)
            if lead is None:
                break
            self._start_call(campaign, lead, now, out, preview=(mode == "preview"))

    def _release_due(self, campaign: _Campaign, now: float) -> None:
        scheduled = campaign.scheduled
        while scheduled and scheduled[0][0] <= now:
            _, _, lead_id = heapq.heappop(scheduled)
            lead = campaign.leads.get(lead_id)
            if lead is None or lead_id in campaign.busy or lead.next_attempt is None or lead.next_attempt > now:
                continue
            self._seq += 1
            heapq.heappush(campaign.ready.setdefault(_zone_of(lead), []),
                           (-lead.priority, -lead.value, lead.next_attempt, self._seq, lead_id))

    def _choose(self, campaign: _Campaign, now: float) -> Lead | None:
        """The next lead to dial: best priority first; among the zones' best leads of that priority, the one
        whose local hour has the best answer rate learnt so far; then customer value, then due time."""
        leads, busy, queued = campaign.leads, campaign.busy, campaign.queued
        best_key: tuple[int, float, float, float, int] | None = None
        best_heap: list[tuple[int, float, float, int, str]] | None = None
        for heap in campaign.ready.values():
            while heap:
                entry = heap[0]
                lead = leads.get(entry[4])
                if lead is None or entry[4] in busy or entry[4] not in queued or lead.agent is not None \
                        or (lead.next_attempt or 0.0) > now:
                    heapq.heappop(heap)  # a stale entry (the lead was chosen, rescheduled or reserved since)
                    continue
                people, dials = campaign.hour_answers[_local_hour(lead, now)]
                key = (entry[0], -people / dials, entry[1], entry[2], entry[3])
                if best_key is None or key < best_key:
                    best_key, best_heap = key, heap
                break
        if best_heap is None:
            return None
        lead_id = heapq.heappop(best_heap)[4]
        queued.discard(lead_id)
        return leads[lead_id]

    def _dial_callbacks(self, campaign: _Campaign, now: float, out: list[Action]) -> None:
        """Agent-scheduled callbacks that are due go to their agent as previews, whatever the mode."""
        callbacks = campaign.callbacks
        while callbacks and callbacks[0][0] <= now:
            _, _, lead_id = heapq.heappop(callbacks)
            lead = campaign.leads.get(lead_id)
            if lead is None or lead.agent is None or lead_id in campaign.busy or lead_id not in campaign.queued:
                continue
            if lead.next_attempt is not None and lead.next_attempt > now:
                continue
            campaign.queued.discard(lead_id)
            self._start_call(campaign, lead, now, out, preview=True)

    def _start_call(self, campaign: _Campaign, lead: Lead, now: float, out: list[Action], *, preview: bool) -> None:
        self._count += 1
        call_id = f"{self._prefix}{campaign.config.id}:{self._count}"
        call = _Call(call_id, campaign.config.id, lead, "checking")
        call.dialled_at = now
        call.preview = preview
        call.mode = campaign.mode_now
        self._calls[call_id] = call
        campaign.calls.add(call_id)
        campaign.phases["checking"].add(call_id)
        campaign.busy.add(lead.id)
        out.append(CheckCompliance(call_id, self._request(campaign, lead, now)))

    def _request(self, campaign: _Campaign, lead: Lead, now: float) -> dict[str, Any]:
        recent = self._recent.get(lead.phone)
        if recent is not None:
            while recent and recent[0] < now - RECENT_DIALS_S:
                recent.popleft()
        return {"number": lead.phone, "campaign": campaign.config.id, "lead": lead.to_dict(),
                "timezones": list(lead.timezones), "now": now, "rules": campaign.config.rules(),
                "recent_dials": list(recent or ())}

    # ---------------------------------------------------------------------------------------- call events ----

    def _call(self, call_id: str, *phases: str) -> _Call:
        call = self._calls.get(call_id)
        if call is None:
            raise AcdError(f"unknown call {call_id!r}")
        if phases and call.phase not in phases:
            raise AcdError(f"call {call_id!r} is {call.phase}, not {' or '.join(phases)}")
        return call

    def _on_verdict(self, event: ComplianceVerdict, now: float) -> list[Action]:
        call = self._call(event.call_id, "checking")
        campaign = self._campaigns[call.campaign]
        out: list[Action] = []
        lead = call.lead
        if not event.allowed:
            campaign.figures.add(now, "skipped")
            self._end_call(call)
            rule = event.rule or "refused"
            status = FINAL_RULES.get(rule)
            retry_at = None if status else self._retry_after_refusal(campaign, lead, rule, now)
            lead = _replace(lead, next_attempt=retry_at)
            campaign.leads[lead.id] = lead
            if status is None:
                self._enqueue(campaign, lead, now)
            out.append(DialSkipped(campaign.config.id, lead.id, lead.phone, rule, event.reason, retry_at, now))
            out.append(LeadUpdated(campaign.config.id, lead.id, f"refused:{rule}", status or "scheduled",
                                   lead.attempts, retry_at, now, {"reason": event.reason}))
            return out
        self._recent.setdefault(lead.phone, deque()).append(now)
        lead = _replace(lead, attempts=lead.attempts + 1, last_attempt=now)
        campaign.leads[lead.id] = lead
        call.lead = lead
        if call.preview:
            self._set_phase(campaign, call, "preview")
            self.to_acd.append(ContactArrived(
                call.id, channel="voice", queue=campaign.config.queue, customer=lead.phone,
                data={"campaign": campaign.config.id, "lead": lead.id, "fields": dict(lead.fields),
                      "preview": True},
                callback_number=lead.phone,
                preferred_agents=(lead.agent,) if lead.agent else (), preferred_timeout_s=300.0))
            return out
        self._set_phase(campaign, call, "ringing")
        call.dialled_at = now
        campaign.figures.add(now, "dials")
        out.append(Dial(call.id, campaign.config.id, lead.id, lead.phone, campaign.config.caller_id,
                        campaign.config.ring_timeout_s))
        return out

    def _retry_after_refusal(self, campaign: _Campaign, lead: Lead, rule: str, now: float) -> float:
        delay = RETRY_REFUSED_S.get(rule, 3600.0)
        if rule == "min-interval" and lead.last_attempt is not None:
            return max(now + 60.0, lead.last_attempt + campaign.config.min_interval_s)
        if rule == "daily-cap":
            return _next_local_day(lead, now, campaign.config.calling_hours[0])
        if rule == "calling-hours":
            return _next_calling_window(lead, now, campaign.config.calling_hours, delay)
        return now + delay

    def _on_answered(self, event: CallAnswered, now: float) -> list[Action]:
        if event.answer not in ANSWERS:
            raise AcdError(f"call {event.call_id!r}: answer {event.answer!r} is not one of {', '.join(ANSWERS)}")
        call = self._call(event.call_id, "ringing")
        campaign = self._campaigns[call.campaign]
        config = campaign.config
        ring_s = now - call.dialled_at
        call.answered_at = now
        call.answer = event.answer
        hour = campaign.hour_answers[_local_hour(call.lead, call.dialled_at)]
        hour[1] += 1
        if event.answer == "machine":
            campaign.pacer.observe_outcome(core.OUTCOME_MACHINE, ring_s)
            campaign.figures.add(now, "machines")
            if event.truth == "human":
                campaign.figures.add(now, "amd_false_positives")
            self._end_call(call)
            out: list[Action] = [PlayMessage(call.id, config.machine_message, "machine") if config.machine == "message"
                                 else DropCall(call.id, "machine")]
            outcome = "machine-message" if config.machine == "message" else "machine"
            out.append(self._reschedule(campaign, call.lead, outcome, now,
                                        done=config.machine == "message"))
            return out
        hour[0] += 1
        campaign.pacer.observe_outcome(core.OUTCOME_HUMAN, ring_s)
        campaign.figures.add(now, "humans")
        self._set_phase(campaign, call, "waiting")
        self._timer(now + config.abandon_grace_s, "grace", call.id)
        lead = call.lead
        self.to_acd.append(ContactArrived(
            call.id, channel="voice", queue=config.queue, priority=0, customer=lead.phone,
            data={"campaign": config.id, "lead": lead.id, "fields": dict(lead.fields), "answer": event.answer}))
        return []

    def _on_failed(self, event: CallFailed, now: float) -> list[Action]:
        if event.outcome not in FAILURES:
            raise AcdError(f"call {event.call_id!r}: outcome {event.outcome!r} is not one of {', '.join(FAILURES)}")
        call = self._call(event.call_id, "ringing")
        campaign = self._campaigns[call.campaign]
        campaign.pacer.observe_outcome(_OUTCOME_CODE[event.outcome], now - call.dialled_at)
        campaign.figures.add(now, event.outcome.replace("-", "_"))
        campaign.hour_answers[_local_hour(call.lead, call.dialled_at)][1] += 1
        self._end_call(call)
        return [self._reschedule(campaign, call.lead, event.outcome, now)]

    def _on_callee_hung_up(self, event: CalleeHungUp, now: float) -> list[Action]:
        call = self._call(event.call_id, "ringing", "waiting")
        campaign = self._campaigns[call.campaign]
        if call.phase == "ringing":
            return self._on_failed(CallFailed(call.id, "no-answer"), now)
        # A person who hangs up before an agent is connected was not served: abandoned, as the law counts it.
        self.to_acd.append(CustomerHungUp(call.id))
        self._abandon(campaign, call, now)
        return [self._reschedule(campaign, call.lead, "abandoned", now)]

    def _grace_expired(self, call_id: str, now: float, out: list[Action]) -> None:
        call = self._calls.get(call_id)
        if call is None or call.phase != "waiting":
            return
        campaign = self._campaigns[call.campaign]
        self.to_acd.append(CustomerHungUp(call.id))
        out.append(PlayMessage(call.id, campaign.config.abandon_message, "abandoned"))
        self._abandon(campaign, call, now)
        out.append(self._reschedule(campaign, call.lead, "abandoned", now))

    def _abandon(self, campaign: _Campaign, call: _Call, now: float) -> None:
        campaign.controller.record(now, True, learn=call.mode == "predictive")
        campaign.figures.add(now, "abandoned")
        self._end_call(call)

    def _set_phase(self, campaign: _Campaign, call: _Call, phase: str) -> None:
        campaign.phases[call.phase].discard(call.id)
        campaign.phases[phase].add(call.id)
        call.phase = phase

    def _end_call(self, call: _Call) -> None:
        self._calls.pop(call.id, None)
        campaign = self._campaigns[call.campaign]
        campaign.calls.discard(call.id)
        campaign.phases[call.phase].discard(call.id)
        campaign.busy.discard(call.lead.id)
        view = self._agents.get(call.agent) if call.agent else None
        if view is not None and view.call == call.id:
            campaign.engaged.discard(view.id)

    def _reschedule(self, campaign: _Campaign, lead: Lead, outcome: str, now: float, *,
                    done: bool = False) -> LeadUpdated:
        """After an attempt: retry by outcome, unless attempts are used up or the lead is done."""
        config = campaign.config
        lead = campaign.leads.get(lead.id, lead)
        if done:
            status, next_attempt = "done", None
        elif lead.attempts >= config.max_attempts:
            status, next_attempt = "exhausted", None
        else:
            status = "scheduled"
            if outcome == "abandoned":  # not dialled again that (local) day
                next_attempt = _next_local_day(lead, now, config.calling_hours[0])
            else:
                next_attempt = now + config.retry_s.get(outcome, 3600.0)
        lead = _replace(lead, next_attempt=next_attempt, agent=None)
        campaign.leads[lead.id] = lead
        if status == "scheduled":
            self._enqueue(campaign, lead, now)
        else:
            campaign.queued.discard(lead.id)
        return LeadUpdated(config.id, lead.id, outcome, status, lead.attempts, next_attempt, now)

    # ------------------------------------------------------------------------------------------ observing ----

    def _observe_agent(self, action: AgentStateChanged, now: float) -> None:
        view = self._agents.get(action.agent_id)
        if view is None:
            return
        view.state = action.state
        view.since = action.at
        for campaign in view.campaigns:
            if action.state == "available":
                campaign.available.add(view.id)
            else:
                campaign.available.discard(view.id)
        if action.state == "wrap-up" and view.call is not None:
            view.call_phase = "wrap"
        elif action.state not in ("on-contact", "reserved", "wrap-up"):
            if view.call is not None:
                for campaign in view.campaigns:
                    campaign.engaged.discard(view.id)
            view.call = None
            view.call_phase = ""

    def _observe_contact(self, action: ContactStateChanged, now: float) -> list[Action]:
        call = self._calls.get(action.contact_id)
        if call is None:
            return []
        campaign = self._campaigns[call.campaign]
        state = action.state
        if state in ("offered", "connected") and action.agent_id:
            view = self._agents.get(action.agent_id)
            if view is not None:
                if view.call is not None and view.call != call.id:
                    for other in view.campaigns:
                        other.engaged.discard(view.id)
                view.call = call.id
                view.call_phase = "talk"
                view.since = now
                if view.id in campaign.agents:
                    campaign.engaged.add(view.id)
        if state == "connected":
            if call.phase == "waiting":
                campaign.controller.record(now, False, learn=call.mode == "predictive")
                campaign.figures.add(now, "connects")
            elif call.phase == "preview":
                campaign.figures.add(now, "dials")
                campaign.figures.add(now, "connects")
            self._set_phase(campaign, call, "connected")
            call.connected_at = now
            call.agent = action.agent_id
        elif state in _UNSERVED and call.phase == "waiting":
            # The ACD ended the person's wait itself (queue closed, no agent can serve it): nobody reached them.
            self._abandon(campaign, call, now)
            return [self._reschedule(campaign, call.lead, "abandoned", now)]
        elif state == "ended" and call.phase == "connected":
            talk = now - call.connected_at
            campaign.figures.add(now, "talk_s", talk)
            if call.answer:
                campaign.pacer.observe_talk(talk)
            call.ended_at = now
        return []

    def _observe_record(self, record: ContactRecord, now: float) -> list[Action]:
        call = self._calls.get(record.contact_id)
        if call is None:
            return []
        campaign = self._campaigns[call.campaign]
        out: list[Action] = []
        if call.phase == "connected":
            wrap = max(0.0, now - call.ended_at) if call.ended_at else 0.0  # the record closes wrap-up
            campaign.figures.add(now, "wrap_s", wrap)
            campaign.figures.add(now, "completed")
            if call.answer:
                campaign.pacer.observe_wrap(wrap)
            disposition = record.disposition or "no-disposition"
            campaign.figures.dispositions[disposition] = campaign.figures.dispositions.get(disposition, 0) + 1
            self._end_call(call)
            out.append(self._reschedule(campaign, call.lead, f"disposition:{disposition}", now,
                                        done=disposition not in ("follow-up", "no-answer", "busy")))
        else:  # a preview never connected (declined everywhere, or the ACD ended it)
            self._end_call(call)
            out.append(self._reschedule(campaign, call.lead, "preview-" + record.outcome, now))
        return out

    # ---------------------------------------------------------------------------------------------- timers ----

    def _timer(self, at: float, kind: str, ref: str) -> None:
        self._seq += 1
        heapq.heappush(self._timers, (at, self._seq, kind, ref))


# ---------------------------------------------------------------------------------------- local-time helpers ----

_ZONES: dict[str, ZoneInfo] = {}


def _zone(name: str) -> ZoneInfo:
    zone = _ZONES.get(name)
    if zone is None:
        try:
            zone = _ZONES[name] = ZoneInfo(name)
        except Exception:  # an unknown zone: UTC here; the calling-hours rule refuses such a lead anyway
            zone = _ZONES[name] = ZoneInfo("UTC")
    return zone


_HOURS: dict[tuple[str, int], int] = {}


def _zone_of(lead: Lead) -> str:
    return lead.timezones[0] if lead.timezones else "UTC"


def _local_hour(lead: Lead, at: float) -> int:
    """The callee's local hour (first zone), cached per zone and quarter hour (offsets are whole quarters)."""
    name = _zone_of(lead)
    key = (name, int(at // 900.0))
    hour = _HOURS.get(key)
    if hour is None:
        if len(_HOURS) > 100_000:
            _HOURS.clear()
        hour = _HOURS[key] = datetime.fromtimestamp(key[1] * 900.0, _zone(name)).hour
    return hour


def _next_local_day(lead: Lead, now: float, first_minute: int) -> float:
    """The start of calling hours on the callee's next local day (the latest over its zones)."""
    latest = now
    for name in lead.timezones or ("UTC",):
        local = datetime.fromtimestamp(now, _zone(name))
        nxt = (local + timedelta(days=1)).replace(hour=first_minute // 60, minute=first_minute % 60, second=0,
                                                  microsecond=0)
        latest = max(latest, nxt.timestamp())
    return latest


def _next_calling_window(lead: Lead, now: float, hours: tuple[int, int], fallback_s: float) -> float:
    """When calling hours next open in every zone of the lead (checked in 15-minute steps over two days)."""
    first, last = hours
    t = now + fallback_s
    for _ in range(2 * 24 * 4):
        ok = True
        for name in lead.timezones or ("UTC",):
            local = datetime.fromtimestamp(t, _zone(name))
            minute = local.hour * 60 + local.minute
            if not (first <= minute < last):
                ok = False
                break
        if ok:
            return t
        t += 900.0
    return now + fallback_s


def _replace(lead: Lead, **changes: Any) -> Lead:
    data = {name: getattr(lead, name) for name in Lead.__slots__}  # type: ignore[attr-defined]
    data.update(changes)
    return Lead(**data)
