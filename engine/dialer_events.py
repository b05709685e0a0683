"""The vocabulary of the dialer: the events it is fed and the actions it returns (``engine.dialer``).

Like ``engine.events`` (whose ``Event`` / ``Action`` bases and codec these share, so they journal the same way):
frozen, slotted dataclasses of plain values. Call ids are chosen by the dialer (``<campaign>:<n>``); a call that
reaches a person becomes an ACD contact of the same id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from engine.events import Action, Event
from engine.model import CampaignConfig

ANSWERS: tuple[str, ...] = ("human", "machine", "unknown")
FAILURES: tuple[str, ...] = ("busy", "no-answer", "failed")


# --------------------------------------------------------------------------------------------------- events ----

@dataclass(frozen=True, slots=True)
class UpsertCampaign(Event):
    """Add a campaign or change it, live (mode, ratio, rules); its leads and calls in progress are kept."""

    campaign: CampaignConfig
    records: ClassVar[dict[str, Any]] = {"campaign": CampaignConfig}


@dataclass(frozen=True, slots=True)
class LeadsAdded(Event):
    """Leads (``engine.model.Lead.to_dict()`` mappings) join a campaign's pool; a lead id already known is
    replaced unless it is being dialled."""

    campaign: str
    leads: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class ScheduleCallback(Event):
    """An agent scheduled a callback: dial ``lead_id`` at ``at``, offered first to ``agent`` (None: anyone)."""

    campaign: str
    lead_id: str
    at: float
    agent: str | None = None


@dataclass(frozen=True, slots=True)
class ComplianceVerdict(Event):
    """The compliance rules' answer to ``CheckCompliance`` for ``call_id`` (the journal keeps it: the audit)."""

    call_id: str
    allowed: bool
    reason: str = ""
    rule: str = ""


@dataclass(frozen=True, slots=True)
class CallAnswered(Event):
    """The callee answered: ``answer`` is ``human``, ``machine`` or ``unknown`` (answering-machine detection's
    verdict; ``unknown`` is treated as a person). ``truth`` is the simulator's knowledge (``human`` / ``machine``,
    "" for a real channel), used only to count people wrongly classed as machines."""

    call_id: str
    answer: str
    truth: str = ""


@dataclass(frozen=True, slots=True)
class CallFailed(Event):
    """The dial ended unanswered: ``outcome`` is ``busy``, ``no-answer`` or ``failed``."""

    call_id: str
    outcome: str


@dataclass(frozen=True, slots=True)
class CalleeHungUp(Event):
    """The callee hung up before an agent was connected (after that the ACD's ``CustomerHungUp`` applies)."""

    call_id: str


# -------------------------------------------------------------------------------------------------- actions ----

@dataclass(frozen=True, slots=True)
class CheckCompliance(Action):
    """Ask the compliance rules whether ``request`` (the ``compliance_check`` hook's mapping) may be dialled now;
    the answer comes back as ``ComplianceVerdict(call_id, ...)``."""

    call_id: str
    request: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Dial(Action):
    """Originate a call to ``number`` (answer or failure comes back as ``CallAnswered`` / ``CallFailed``)."""

    call_id: str
    campaign: str
    lead_id: str
    number: str
    caller_id: str
    timeout_s: float


@dataclass(frozen=True, slots=True)
class PlayMessage(Action):
    """Play a recorded ``message`` to the callee, then hang up (the abandon message of the 2-second rule, or the
    message left on an answering machine): ``reason`` is ``abandoned`` or ``machine``."""

    call_id: str
    message: str
    reason: str


@dataclass(frozen=True, slots=True)
class DropCall(Action):
    """Hang up an outbound call that no agent will take (``reason``: machine, ...)."""

    call_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class DialSkipped(Action):
    """Observer: a lead was not dialled now, and why (``rule``: the compliance rule, or the dialer's own reason),
    and when it will be tried again (``retry_at``; None: never)."""

    campaign: str
    lead_id: str
    number: str
    rule: str
    reason: str
    retry_at: float | None
    at: float


@dataclass(frozen=True, slots=True)
class LeadUpdated(Action):
    """Observer (and a store write): a lead's attempt ended with ``outcome``; ``status`` is new, scheduled, done,
    dnc or exhausted; ``next_attempt`` when it is due again."""

    campaign: str
    lead_id: str
    outcome: str
    status: str
    attempts: int
    next_attempt: float | None
    at: float
    detail: dict[str, Any] = field(default_factory=dict)
