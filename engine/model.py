"""Plain typed records of the contact center's configuration.

These are the nouns the engine is configured with: channels, skills, agents, queues, workflows (routing steps)
and business hours. They are frozen and slotted; the engine never mutates them, it replaces them (a configuration
change is an event, journaled like any other). Every record converts to and from plain msgpack-able data through
``to_dict`` / ``from_dict`` so that configuration travels in the journal and in snapshots.

Validation lives in ``engine.config`` (it needs the whole configuration to check cross references).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from engine.core import STRATEGIES  # the agent-selection strategies, in the order of their numeric codes

__all__ = ["STRATEGIES"]

MIN_SKILL_LEVEL = 1
MAX_SKILL_LEVEL = 10

DEFAULT_CHANNELS: dict[str, bool] = {"voice": True, "chat": False, "email": False}
"""Channel name -> exclusive. An exclusive channel (voice) takes the whole agent: it is offered only to an agent
with nothing else in hand, and while it is in hand nothing else is offered."""

DEFAULT_CAPACITY: dict[str, int] = {"voice": 1, "chat": 3, "email": 2}

DEFAULT_DISPOSITIONS: tuple[str, ...] = ("resolved", "follow-up", "escalated", "no-disposition")


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """An agent: skills at levels 1-10 and how many contacts of each channel it may hold at once.
    ``optional_queues``: the queues the agent may join or leave by itself (from its desktop); the others are its
    supervisor's to assign. A queue removed since is ignored."""

    id: str
    name: str = ""
    skills: dict[str, int] = field(default_factory=dict)
    capacity: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_CAPACITY))
    teams: tuple[str, ...] = ()
    optional_queues: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        # What ``asdict`` gives, without its recursive deep copy: a snapshot holds one of these per agent.
        return {"id": self.id, "name": self.name, "skills": dict(self.skills), "capacity": dict(self.capacity),
                "teams": tuple(self.teams), "optional_queues": tuple(self.optional_queues)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AgentConfig:
        return cls(
            id=data["id"],
            name=data.get("name", ""),
            skills=dict(data.get("skills", {})),
            capacity=dict(data.get("capacity", DEFAULT_CAPACITY)),
            teams=tuple(data.get("teams", ())),
            optional_queues=tuple(data.get("optional_queues", ())),
        )


@dataclass(frozen=True, slots=True)
class RoutingStep:
    """One step of a workflow: where the contact waits and who may take it, for how long.

    ``queue``: the queue the contact counts in (statistics, strategy, hours) during this step.
    ``skills``: skill -> minimum level an agent needs; ``None`` means the queue's own requirements.
    ``preferred_agents``: if not empty, only these agents may take the contact during this step.
    ``priority``: added to the contact's priority during this step.
    ``timeout_s``: after this many seconds in the step the next step applies; ``None`` for the last step.
    """

    queue: str
    skills: dict[str, int] | None = None
    preferred_agents: tuple[str, ...] = ()
    priority: int = 0
    timeout_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        # What ``asdict`` gives, without its recursive deep copy: a snapshot holds these for every contact.
        return {"queue": self.queue, "skills": None if self.skills is None else dict(self.skills),
                "preferred_agents": tuple(self.preferred_agents), "priority": self.priority,
                "timeout_s": self.timeout_s}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RoutingStep:
        skills = data.get("skills")
        return cls(
            queue=data["queue"],
            skills=None if skills is None else dict(skills),
            preferred_agents=tuple(data.get("preferred_agents", ())),
            priority=int(data.get("priority", 0)),
            timeout_s=data.get("timeout_s"),
        )


@dataclass(frozen=True, slots=True)
class WorkflowConfig:
    """A named list of routing steps, in the manner of a TaskRouter workflow: requirements relax as time passes."""

    id: str
    steps: tuple[RoutingStep, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "steps": [s.to_dict() for s in self.steps]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorkflowConfig:
        return cls(id=data["id"], steps=tuple(RoutingStep.from_dict(s) for s in data["steps"]))


@dataclass(frozen=True, slots=True)
class OpenHours:
    """Weekly opening hours in a time zone, with holidays (ISO dates) on which the queue is closed.

    ``weekly`` maps a weekday (0 = Monday) to a list of ``(open_minute, close_minute)`` ranges of the local day.
    An empty ``weekly`` means always open.
    """

    timezone: str = "UTC"
    weekly: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    holidays: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "timezone": self.timezone,
            "weekly": {str(day): [list(r) for r in ranges] for day, ranges in self.weekly.items()},
            "holidays": list(self.holidays),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OpenHours:
        return cls(
            timezone=data.get("timezone", "UTC"),
            weekly={int(d): [(int(a), int(b)) for a, b in r] for d, r in data.get("weekly", {}).items()},
            holidays=tuple(data.get("holidays", ())),
        )


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """A queue: who may serve it, how agents are chosen, and what happens to those who wait.

    ``aging_per_min``: priority gained per minute of waiting (0 = none).
    ``max_wait_s`` / ``overflow_queue``: after this wait the contact moves to the overflow queue (keeping its
    place by arrival time), or, with no overflow queue, is told so and ended.
    ``callback_after_s``: when the estimated wait exceeds this, the caller is offered a callback.
    ``announce_every_s``: period of position / estimated-wait announcements (None = never).
    ``closed_queue``: where contacts go while the queue is closed (None = closed prompt and hang up).
    ``service_level_s`` / ``service_level_target``: the answered-within threshold and its goal.
    ``survey``: after a contact an agent served, ask the customer the satisfaction survey (``engine.survey``).
    """

    id: str
    name: str = ""
    channel: str = "voice"
    skills: dict[str, int] = field(default_factory=dict)
    priority: int = 0
    strategy: str = "longest-idle"
    aging_per_min: float = 0.0
    ring_timeout_s: float = 20.0
    wrap_up_s: float = 30.0
    max_wait_s: float | None = None
    overflow_queue: str | None = None
    callback_after_s: float | None = None
    announce_every_s: float | None = None
    hours: OpenHours = field(default_factory=OpenHours)
    closed_queue: str | None = None
    service_level_s: float = 20.0
    service_level_target: float = 0.8
    survey: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["hours"] = self.hours.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QueueConfig:
        data = dict(data)
        data["hours"] = OpenHours.from_dict(data.get("hours", {}))
        data["skills"] = dict(data.get("skills", {}))
        return cls(**data)


@dataclass(frozen=True, slots=True)
class CenterConfig:
    """The whole routing configuration: what ``switchboard serve --config FILE`` loads."""

    skills: tuple[str, ...] = ()
    channels: dict[str, bool] = field(default_factory=lambda: dict(DEFAULT_CHANNELS))
    agents: tuple[AgentConfig, ...] = ()
    queues: tuple[QueueConfig, ...] = ()
    workflows: tuple[WorkflowConfig, ...] = ()
    dispositions: tuple[str, ...] = DEFAULT_DISPOSITIONS
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "skills": list(self.skills),
            "channels": dict(self.channels),
            "agents": [a.to_dict() for a in self.agents],
            "queues": [q.to_dict() for q in self.queues],
            "workflows": [w.to_dict() for w in self.workflows],
            "dispositions": list(self.dispositions),
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CenterConfig:
        return cls(
            skills=tuple(data.get("skills", ())),
            channels=dict(data.get("channels", DEFAULT_CHANNELS)),
            agents=tuple(AgentConfig.from_dict(a) for a in data.get("agents", ())),
            queues=tuple(QueueConfig.from_dict(q) for q in data.get("queues", ())),
            workflows=tuple(WorkflowConfig.from_dict(w) for w in data.get("workflows", ())),
            dispositions=tuple(data.get("dispositions", DEFAULT_DISPOSITIONS)),
            seed=int(data.get("seed", 0)),
        )


# ------------------------------------------------------------------------------------------------ outbound ----

DIAL_MODES: tuple[str, ...] = ("preview", "progressive", "power", "predictive")

DIAL_OUTCOMES: tuple[str, ...] = ("human", "machine", "busy", "no-answer", "failed", "abandoned")
"""What one dial attempt ends in, as far as the dialer is concerned (``abandoned``: a person answered and no
agent reached them within the grace)."""

DEFAULT_RETRY_S: dict[str, float] = {"busy": 600.0, "no-answer": 3600.0, "machine": 7200.0, "failed": 1800.0,
                                     "abandoned": 86400.0}
"""Default delay before a lead is tried again after each outcome (``abandoned``: not again that day)."""


@dataclass(frozen=True, slots=True)
class Lead:
    """One number a campaign may call.

    ``phone``: E.164 (``+14155550100``). ``timezones``: the callee's possible IANA zones (a number whose region
    spans several zones lists them all; calling hours must hold in every one). ``priority``: higher first;
    ``value``: customer value (a tie-breaker after priority). ``fields``: free columns of the import (shown in
    the screen pop). ``attempts`` / ``last_attempt`` / ``next_attempt``: the retry state (Unix seconds or None).
    ``agent``: set for an agent-scheduled callback reserved to that agent.
    """

    id: str
    campaign: str
    phone: str
    timezones: tuple[str, ...] = ("UTC",)
    priority: int = 0
    value: float = 0.0
    fields: dict[str, str] = field(default_factory=dict)
    attempts: int = 0
    last_attempt: float | None = None
    next_attempt: float | None = None
    agent: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "campaign": self.campaign, "phone": self.phone, "timezones": list(self.timezones),
                "priority": self.priority, "value": self.value, "fields": dict(self.fields),
                "attempts": self.attempts, "last_attempt": self.last_attempt, "next_attempt": self.next_attempt,
                "agent": self.agent}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Lead:
        data = dict(data)
        data["timezones"] = tuple(data.get("timezones", ("UTC",)))
        data["fields"] = dict(data.get("fields", {}))
        return cls(**data)


@dataclass(frozen=True, slots=True)
class CampaignConfig:
    """An outbound campaign: how it dials, who takes its calls, and the rules it dials under.

    ``queue``: the ACD queue its connected calls are routed through (its skills are the campaign's agent group;
    keep its priority below the inbound queues': inbound takes priority). ``mode``: one of ``DIAL_MODES``;
    ``power_ratio``: lines per free agent in power mode. ``abandon_target``: abandoned ÷ answered by a person,
    the cap the predictive pacer stays under (0.03 by law in the US and the UK); ``abandon_grace_s``: a person
    must reach an agent within this (the 2-second rule). ``ring_timeout_s``: a dial not answered by then is
    no-answer. ``calling_hours``: ``(first_minute, last_minute)`` of the callee's local day (default 08:00–21:00).
    ``max_attempts`` per lead, ``min_interval_s`` between two attempts, ``daily_cap`` dials per number per local
    day across every campaign. ``retry_s``: delay after each outcome. ``machine``: ``"hangup"``, ``"message"``
    (leave ``machine_message``) or ``"retry"``. A preview's time limit is the campaign queue's ``ring_timeout_s``
    (the preview rings the agent like any offer; unanswered, it goes back to the pool).
    """

    id: str
    queue: str
    name: str = ""
    mode: str = "predictive"
    caller_id: str = ""
    power_ratio: float = 2.0
    abandon_target: float = 0.03
    abandon_grace_s: float = 2.0
    ring_timeout_s: float = 25.0
    calling_hours: tuple[int, int] = (8 * 60, 21 * 60)
    max_attempts: int = 6
    min_interval_s: float = 3600.0
    daily_cap: int = 3
    retry_s: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_RETRY_S))
    machine: str = "hangup"
    machine_message: str = "machine-message"
    abandon_message: str = "abandon-message"
    active: bool = True

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["calling_hours"] = list(self.calling_hours)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CampaignConfig:
        data = dict(data)
        if "calling_hours" in data:
            data["calling_hours"] = tuple(data["calling_hours"])
        if "retry_s" in data:
            data["retry_s"] = {**DEFAULT_RETRY_S, **data["retry_s"]}
        return cls(**data)

    def rules(self) -> dict[str, Any]:
        """The compliance parameters sent to the rules with every check (``request["rules"]``)."""
        return {"calling_hours": list(self.calling_hours), "max_attempts": self.max_attempts,
                "min_interval_s": self.min_interval_s, "daily_cap": self.daily_cap}
