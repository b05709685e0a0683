"""The vocabulary of the ACD: the events it is fed and the actions it returns.

Events come in from channels (a contact arrives, an agent accepts), from agents' desktops and from the runtime's
timer (``Tick``). Actions go out to channels (offer, bridge, play, hang up) and to observers (state changes,
call detail records). All are frozen, slotted dataclasses of plain values, so that every one of them can be
journaled: ``encode`` turns one into a msgpack-able list ``[kind, field, ...]`` and ``decode`` turns it back.

Identifiers are strings chosen by whoever creates the thing (the channel names contacts, the configuration names
agents and queues). Times are float seconds on the engine's clock (Unix time in production, virtual in simulation).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from engine.model import AgentConfig, QueueConfig, WorkflowConfig


class Message:
    """Base of every event and action: gives them a registry for the codec."""

    __slots__ = ()
    registry: ClassVar[dict[str, type[Message]]] = {}
    # Names of fields holding records that need from_dict() on decode.
    records: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # dataclass(slots=True) builds a second class with the same name: the last one registered is the real one.
        if cls.__name__ not in ("Event", "Action"):
            Message.registry[cls.__name__] = cls


class Event(Message):
    """Something that happened, fed to the ACD."""

    __slots__ = ()


class Action(Message):
    """Something the ACD asks the outside world to do, or tells observers."""

    __slots__ = ()


def encode(message: Message) -> list[Any]:
    """Return ``[kind, value, ...]`` in field order; records become dicts. Round-trips through ``decode``."""
    out: list[Any] = [type(message).__name__]
    for f in fields(message):  # type: ignore[arg-type]
        value = getattr(message, f.name)
        if hasattr(value, "to_dict"):
            value = value.to_dict()
        elif isinstance(value, tuple):
            value = list(value)
        out.append(value)
    return out


def decode(data: list[Any]) -> Message:
    """Inverse of ``encode``. Raises ``ValueError`` naming the problem for anything malformed."""
    if not isinstance(data, (list, tuple)) or not data or not isinstance(data[0], str):
        raise ValueError(f"not an encoded message: {data!r:.80}")
    cls = Message.registry.get(data[0])
    if cls is None:
        raise ValueError(f"unknown message kind {data[0]!r}")
    names = [f for f in fields(cls)]  # type: ignore[arg-type]
    if len(data) - 1 != len(names):
        raise ValueError(f"{data[0]} takes {len(names)} fields, got {len(data) - 1}")
    kwargs: dict[str, Any] = {}
    for f, value in zip(names, data[1:], strict=True):
        record = cls.records.get(f.name)
        if record is not None and isinstance(value, dict):
            value = record.from_dict(value)
        elif isinstance(value, list) and f.name in _TUPLE_FIELDS:
            value = tuple(value)
        kwargs[f.name] = value
    return cls(**kwargs)


_TUPLE_FIELDS = {"preferred_agents", "history", "leads"}


# --------------------------------------------------------------------------------------------------- events ----

@dataclass(frozen=True, slots=True)
class Tick(Event):
    """The clock moved: fire every timer whose deadline is at or before ``now``."""


@dataclass(frozen=True, slots=True)
class ContactArrived(Event):
    """A new contact wants an agent.

    Exactly one of ``queue`` and ``workflow`` names its target. ``skills`` adds requirements (e.g. a language
    chosen in the IVR) to every step; ``preferred_agents`` puts a first step before the target's own steps during
    which only those agents may take it (for ``preferred_timeout_s``); ``priority`` is the contact's own priority
    (VIP > 0). ``callback_number`` set means this contact is a callback to dial when it reaches an agent.
    """

    contact_id: str
    channel: str = "voice"
    queue: str | None = None
    workflow: str | None = None
    priority: int = 0
    skills: dict[str, int] = field(default_factory=dict)
    preferred_agents: tuple[str, ...] = ()
    preferred_timeout_s: float = 20.0
    customer: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    callback_number: str | None = None


@dataclass(frozen=True, slots=True)
class CustomerHungUp(Event):
    """The customer left: abandoned if not yet connected to an agent, else the end of the conversation."""

    contact_id: str


@dataclass(frozen=True, slots=True)
class CallbackRequested(Event):
    """A waiting caller chose to be called back at ``number`` instead of holding; it keeps its place in line."""

    contact_id: str
    number: str


@dataclass(frozen=True, slots=True)
class AgentLogin(Event):
    agent_id: str


@dataclass(frozen=True, slots=True)
class AgentLogout(Event):
    """Log out now, or as soon as the agent's contacts and wrap-ups are finished."""

    agent_id: str


@dataclass(frozen=True, slots=True)
class AgentReady(Event):
    """The agent is available for new contacts (after a pending wrap-up, if any)."""

    agent_id: str


@dataclass(frozen=True, slots=True)
class AgentNotReady(Event):
    """The agent takes no new contacts, for ``reason`` (break, lunch, training, ...). Contacts in hand go on."""

    agent_id: str
    reason: str = "break"


@dataclass(frozen=True, slots=True)
class AgentDisconnected(Event):
    """The agent's desktop or phone is gone: the agent becomes not-ready ("disconnected"), its offers and live
    contacts go back to the head of their queues."""

    agent_id: str


@dataclass(frozen=True, slots=True)
class OfferAccepted(Event):
    agent_id: str
    contact_id: str


@dataclass(frozen=True, slots=True)
class OfferDeclined(Event):
    agent_id: str
    contact_id: str


@dataclass(frozen=True, slots=True)
class AgentHungUp(Event):
    """The agent ended the conversation; the agent goes to wrap-up for this contact."""

    agent_id: str
    contact_id: str


@dataclass(frozen=True, slots=True)
class WrapUpDone(Event):
    """The agent finished the after-contact work, with a disposition code (one of the configured ones)."""

    agent_id: str
    contact_id: str
    disposition: str
    notes: str = ""


@dataclass(frozen=True, slots=True)
class SetDisposition(Event):
    """Record the disposition during the conversation or wrap-up without ending the wrap-up."""

    agent_id: str
    contact_id: str
    disposition: str
    notes: str = ""


@dataclass(frozen=True, slots=True)
class TransferRequested(Event):
    """Blind transfer of a connected contact to a queue or to an agent (exactly one). The contact keeps its history
    and its original arrival time; the transferring agent goes to wrap-up for it."""

    agent_id: str
    contact_id: str
    to_queue: str | None = None
    to_agent: str | None = None


@dataclass(frozen=True, slots=True)
class UpsertAgent(Event):
    """Add an agent or change its skills / capacity, live. An agent being changed keeps its state and contacts."""

    agent: AgentConfig
    records: ClassVar[dict[str, Any]] = {"agent": AgentConfig}


@dataclass(frozen=True, slots=True)
class RemoveAgent(Event):
    """Remove an agent; refused while the agent is logged in."""

    agent_id: str


@dataclass(frozen=True, slots=True)
class UpsertQueue(Event):
    queue: QueueConfig
    records: ClassVar[dict[str, Any]] = {"queue": QueueConfig}


@dataclass(frozen=True, slots=True)
class UpsertWorkflow(Event):
    workflow: WorkflowConfig
    records: ClassVar[dict[str, Any]] = {"workflow": WorkflowConfig}


@dataclass(frozen=True, slots=True)
class AddSkill(Event):
    """Declare a new skill, live (skills are never removed: agents' and queues' requirements refer to them)."""

    name: str


@dataclass(frozen=True, slots=True)
class RemoveQueue(Event):
    """Remove a queue; refused while a contact is in it or anything refers to it (a workflow step, another
    queue's overflow or closed queue, a campaign)."""

    queue_id: str


@dataclass(frozen=True, slots=True)
class RemoveWorkflow(Event):
    """Remove a workflow; contacts already routed by it keep their steps."""

    workflow_id: str


# -------------------------------------------------------------------------------------------------- actions ----

@dataclass(frozen=True, slots=True)
class OfferContact(Action):
    """Ring the agent with this contact until ``deadline`` (then the ACD withdraws it on its own)."""

    agent_id: str
    contact_id: str
    channel: str
    queue: str
    deadline: float
    customer: str
    data: dict[str, Any]
    callback_number: str | None = None


@dataclass(frozen=True, slots=True)
class CancelOffer(Action):
    """Stop ringing the agent: ``reason`` is timeout, abandoned, declined, disconnected."""

    agent_id: str
    contact_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Bridge(Action):
    """Connect the customer and the agent (for a callback: dial ``callback_number`` first)."""

    contact_id: str
    agent_id: str
    callback_number: str | None = None


@dataclass(frozen=True, slots=True)
class Unbridge(Action):
    """Take the agent off the customer's line (transfer, agent lost); the customer stays and waits again."""

    contact_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class PlayAnnouncement(Action):
    """Tell a waiting customer its position (1 = next) and estimated wait in seconds."""

    contact_id: str
    position: int
    estimated_wait_s: float


@dataclass(frozen=True, slots=True)
class PlayPrompt(Action):
    """Play a named prompt to the customer: closed, overflow-full, callback-confirmed, transfer, hold."""

    contact_id: str
    prompt: str


@dataclass(frozen=True, slots=True)
class OfferCallback(Action):
    """Propose a callback to a waiting customer (the channel answers with ``CallbackRequested`` if accepted)."""

    contact_id: str
    estimated_wait_s: float


@dataclass(frozen=True, slots=True)
class HangUp(Action):
    """End the customer's side: ``reason`` is closed, max-wait, callback-scheduled, rejected."""

    contact_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class AgentStateChanged(Action):
    """Observer event: the agent's presence changed. ``state`` is one of ``engine.acd.AGENT_STATES``."""

    agent_id: str
    state: str
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class ContactStateChanged(Action):
    """Observer event: a step in a contact's life (see ``engine.acd`` for the states). ``detail`` carries the
    step's facts (disposition, transfer target, wait so far...)."""

    contact_id: str
    state: str
    queue: str
    agent_id: str
    at: float
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ContactRecord(Action):
    """The call detail record, emitted once when a contact's life is over (customer gone and wrap-up done)."""

    contact_id: str
    channel: str
    customer: str
    queue: str
    agent_id: str
    arrived: float
    answered: float | None
    ended: float
    outcome: str
    disposition: str
    notes: str
    history: tuple[tuple[float, str, str, str], ...]
    data: dict[str, Any]


EVENT_KINDS: tuple[str, ...] = tuple(n for n, c in Message.registry.items() if issubclass(c, Event))
ACTION_KINDS: tuple[str, ...] = tuple(n for n, c in Message.registry.items() if issubclass(c, Action))
