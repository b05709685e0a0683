"""The vocabulary of the IVR (``engine.ivr``): the events it is fed and the actions it returns.

Like ``engine.events``, every one is a frozen, slotted dataclass of plain values registered through
``engine.events.Event`` / ``Action``, so ``engine.events.encode``/``decode`` journal them. The IVR is also fed
``engine.events.Tick`` and returns ``engine.events.HangUp`` (reason ``ivr-hangup``, ``ivr-closed``, ...).

Events come from the trio driver (``plugins.builtin.ivr.service.IvrService``): a caller entered, pressed digits
(``""`` means "nothing before the timeout"), was identified by the CRM, finished a self-service step, or left.
Actions ask it to play a prompt, collect digits, look the caller up, run a self-service step, record a voicemail,
hand the contact to the ACD (``IvrRouted``) or hang up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.events import Action, ContactArrived, Event

# --------------------------------------------------------------------------------------------------- events ----


@dataclass(frozen=True, slots=True)
class CallerEntered(Event):
    """A caller reached the IVR on ``channel``. ``caller``: the calling number (or address) used for the CRM
    lookup; ``language``: a language already known (``""``: the IVR's default); ``data``: whatever the channel
    knows (dialled number, SIP headers...), carried into routing."""

    contact_id: str
    channel: str = "voice"
    caller: str = ""
    language: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DigitsReceived(Event):
    """The answer to ``CollectDigits``: the DTMF digits pressed, ``""`` when none came before the timeout."""

    contact_id: str
    digits: str


@dataclass(frozen=True, slots=True)
class CallerIdentified(Event):
    """The answer to ``LookupCaller``: the CRM's ``customer`` id (``""``: unknown) and ``attributes`` (e.g.
    ``{"vip": True}``) that priority rules read and routing carries."""

    contact_id: str
    customer: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SelfServiceDone(Event):
    """The answer to ``RunSelfService``. ``result`` ``None`` (or ``{"ok": False}``) means the step failed: the
    caller goes to the fallback queue. Otherwise a mapping with optional keys ``play`` (a prompt name or a list),
    ``variables`` (a mapping merged into the session's variables) and ``next`` (``"menu:<id>"``, ``"agent"``,
    ``"hangup"``; default: the step's configured ``then``)."""

    contact_id: str
    result: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class CallerLeft(Event):
    """The caller hung up while in the IVR: the session is dropped, nothing more is asked of the channel."""

    contact_id: str


# -------------------------------------------------------------------------------------------------- actions ----


@dataclass(frozen=True, slots=True)
class IvrPlay(Action):
    """Play the prompt named ``prompt`` to the caller, in ``language``."""

    contact_id: str
    channel: str
    prompt: str
    language: str


@dataclass(frozen=True, slots=True)
class CollectDigits(Action):
    """Collect up to ``max_digits`` DTMF digits within ``timeout_s``; answer with ``DigitsReceived``."""

    contact_id: str
    channel: str
    max_digits: int
    timeout_s: float


@dataclass(frozen=True, slots=True)
class LookupCaller(Action):
    """Ask the CRM who ``caller`` is; answer with ``CallerIdentified`` (the IVR goes on without it at its timeout)."""

    contact_id: str
    caller: str


@dataclass(frozen=True, slots=True)
class RunSelfService(Action):
    """Run the self-service ``step`` with the caller's ``inputs`` (caller, customer, language, digits, variables,
    attributes, now); answer with ``SelfServiceDone`` (the IVR falls back to an agent at its timeout)."""

    contact_id: str
    step: str
    inputs: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RecordVoicemail(Action):
    """Record a message for ``mailbox`` (greeting in ``language``), then end the call. The IVR is done with it."""

    contact_id: str
    channel: str
    mailbox: str
    language: str


@dataclass(frozen=True, slots=True)
class IvrRouted(Action):
    """The IVR is done: submit ``arrival()`` (an ``engine.events.ContactArrived``) to the ACD.

    Exactly one of ``queue``/``workflow`` is set. ``skills``: the menu path's and the option's skills plus the
    language's skill; ``priority``: the option's, raised by the priority rules; ``data``: the channel's data plus
    ``data["ivr"]`` (path of menus, digits, language, variables, CRM attributes). Flat fields, so it is encodable.
    """

    contact_id: str
    channel: str
    queue: str | None
    workflow: str | None
    priority: int
    skills: dict[str, int]
    customer: str
    data: dict[str, Any]

    def arrival(self) -> ContactArrived:
        return ContactArrived(self.contact_id, channel=self.channel, queue=self.queue, workflow=self.workflow,
                              priority=self.priority, skills=dict(self.skills), customer=self.customer,
                              data=dict(self.data))
