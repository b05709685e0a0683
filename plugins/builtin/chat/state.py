"""Chat conversations as a sans-IO state machine: who talks to whom, what was said, what to deliver to whom.

Theory of operation
-------------------
``ChatState`` knows nothing of sockets or trio. Every method takes the engine's time where it matters and returns
a list of ``Delivery``: a frame (a JSON-able dict with a ``type``) and its recipient, either the customer of a
contact (``("customer", contact_id)``) or an agent (``("agent", agent_id)``). The socket code (``admin_api.chat``)
sends them; the channel plugin (``plugins.builtin.chat.plugin``) feeds the engine's actions in.

A conversation's life::

    waiting --offer--> offered --bridge--> connected --hangup / customer left--> ended --(record)--> forgotten
       ^                  |                    |
       +--cancel offer----+     unbridge ------+ (back to waiting, transcript kept)

Customer lines written before an agent is connected are kept and handed to the agent on ``bridge`` (so nothing
the customer typed while queued is lost). Every line, both ways, and every system line (prompts) goes into the
transcript, which ``finish`` returns for the contact's record.

Errors: a frame an agent or customer may not send now (a message to a conversation the agent does not hold, a
message after the end) raises ``ChatError`` with a reason meant for the sender; the state is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Recipient = tuple[str, str]  # ("customer", contact_id) | ("agent", agent_id)

PROMPTS: dict[str, str] = {
    "closed": "We are closed at the moment. Please come back during opening hours.",
    "max-wait": "Sorry, no agent could take your chat in time. Please try again later.",
    "unavailable": "Sorry, no agent can take your chat right now.",
    "overflow-full": "All our agents are busy. Please try again later.",
    "callback-confirmed": "We will get back to you.",
    "transfer": "You are being transferred to another agent.",
    "hold": "Please wait a moment.",
}


class ChatError(Exception):
    """A frame that cannot be taken now; ``str(exc)`` is the reason sent back in an ``error`` frame."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One frame for one recipient."""

    to: Recipient
    frame: dict[str, Any]


@dataclass
class Conversation:
    """One chat contact. ``transcript`` entries: ``{"at", "from" ("customer" | "agent" | "system"), "text"}``
    (agent lines also carry ``agent``)."""

    contact_id: str
    customer: str
    name: str
    queue: str
    state: str = "waiting"  # waiting | offered | connected | ended
    agent: str = ""
    transcript: list[dict[str, Any]] = field(default_factory=list)
    unread: list[dict[str, Any]] = field(default_factory=list)  # customer lines not yet seen by an agent
    screen_pop: dict[str, Any] = field(default_factory=dict)


MAX_KEPT_ANSWERS = 10_000


class ChatState:
    """Every chat conversation of one engine. Methods return the deliveries to make (see the module docstring)."""

    def __init__(self) -> None:
        self.conversations: dict[str, Conversation] = {}
        self.survey_answers: dict[str, tuple[int, str]] = {}  # contact -> (score, comment), until the engine asks

    # ------------------------------------------------------------------------------------------ queries ----

    def owns(self, contact_id: str) -> bool:
        return contact_id in self.conversations

    def get(self, contact_id: str) -> Conversation:
        conversation = self.conversations.get(contact_id)
        if conversation is None:
            raise ChatError(f"no chat {contact_id!r}")
        return conversation

    def held_by(self, agent_id: str) -> list[str]:
        """Contact ids of the conversations ``agent_id`` is connected to."""
        return [c.contact_id for c in self.conversations.values() if c.agent == agent_id and c.state == "connected"]

    # ------------------------------------------------------------------------------------- customer side ----

    def open(self, contact_id: str, customer: str, queue: str, *, name: str = "",
             screen_pop: dict[str, Any] | None = None) -> list[Delivery]:
        """A customer joined; the contact waits for an agent. ``screen_pop``: CRM record and history for offers."""
        if contact_id in self.conversations:
            raise ChatError(f"chat {contact_id!r} already exists")
        self.conversations[contact_id] = Conversation(contact_id, customer, name, queue,
                                                      screen_pop=dict(screen_pop or {}))
        return [Delivery(("customer", contact_id), {"type": "joined", "contact_id": contact_id, "queue": queue})]

    def customer_message(self, contact_id: str, text: str, now: float) -> list[Delivery]:
        """A line from the customer: to the agent if connected, else kept until an agent is."""
        c = self.get(contact_id)
        if c.state == "ended":
            raise ChatError("this chat has ended")
        line = {"at": now, "from": "customer", "text": text}
        c.transcript.append(line)
        if c.state == "connected":
            return [Delivery(("agent", c.agent), {"type": "message", "contact_id": contact_id, **line})]
        c.unread.append(line)
        return []

    def customer_left(self, contact_id: str, now: float) -> list[Delivery]:
        """The customer closed the chat. The agent (if connected) is told; the conversation waits for its record."""
        c = self.get(contact_id)
        if c.state == "ended":
            return []
        out = []
        if c.state in ("connected", "offered") and c.agent:
            out.append(Delivery(("agent", c.agent), {"type": "customer-left", "contact_id": contact_id, "at": now}))
        c.transcript.append({"at": now, "from": "system", "text": "customer left"})
        c.state = "ended"
        return out

    # ---------------------------------------------------------------------------------------- engine side ----

    def offer(self, contact_id: str, agent_id: str, deadline: float, now: float) -> list[Delivery]:
        """The ACD offers the contact to ``agent_id`` until ``deadline``: the agent gets the screen-pop."""
        c = self.get(contact_id)
        c.state, c.agent = "offered", agent_id
        frame = {"type": "offer", "contact_id": contact_id, "channel": "chat", "queue": c.queue,
                 "customer": c.customer, "name": c.name, "deadline": deadline, "at": now,
                 "customer_record": c.screen_pop.get("customer"), "history": c.screen_pop.get("history", []),
                 "tickets": c.screen_pop.get("tickets", []), "waiting_lines": len(c.unread)}
        return [Delivery(("agent", agent_id), frame)]

    def cancel_offer(self, contact_id: str, agent_id: str, reason: str) -> list[Delivery]:
        c = self.get(contact_id)
        if c.state == "offered" and c.agent == agent_id:
            c.state, c.agent = "waiting", ""
        return [Delivery(("agent", agent_id), {"type": "offer-cancelled", "contact_id": contact_id,
                                               "reason": reason})]

    def bridge(self, contact_id: str, agent_id: str, now: float) -> list[Delivery]:
        """Customer and agent connected: the agent receives the lines written while waiting."""
        c = self.get(contact_id)
        c.state, c.agent = "connected", agent_id
        unread, c.unread = c.unread, []
        return [Delivery(("customer", contact_id), {"type": "connected", "agent": agent_id, "at": now}),
                Delivery(("agent", agent_id), {"type": "connected", "contact_id": contact_id, "customer": c.customer,
                                               "messages": unread, "at": now})]

    def unbridge(self, contact_id: str, agent_id: str, now: float) -> list[Delivery]:
        """The agent is taken off (transfer, lost): the customer waits again, the agent loses the conversation."""
        c = self.get(contact_id)
        c.state, c.agent = "waiting", ""
        return [Delivery(("agent", agent_id), {"type": "ended", "contact_id": contact_id, "reason": "unbridged"}),
                *self.system(contact_id, PROMPTS["transfer"], now)]

    def agent_message(self, agent_id: str, contact_id: str, text: str, now: float) -> list[Delivery]:
        """A line from the agent; only to a conversation it is connected to."""
        c = self.conversations.get(contact_id)
        if c is None or c.agent != agent_id or c.state != "connected":
            raise ChatError(f"you are not connected to chat {contact_id!r}")
        line = {"at": now, "from": "agent", "agent": agent_id, "text": text}
        c.transcript.append(line)
        return [Delivery(("customer", contact_id), {"type": "message", **line})]

    def send(self, contact_id: str, text: str, now: float) -> list[Delivery]:
        """A line from the system side with no agent check (``channel_send_message``)."""
        c = self.get(contact_id)
        line = {"at": now, "from": "agent", "agent": c.agent, "text": text}
        c.transcript.append(line)
        return [Delivery(("customer", contact_id), {"type": "message", **line})]

    def system(self, contact_id: str, text: str, now: float) -> list[Delivery]:
        """A system line to the customer (a prompt, an announcement)."""
        c = self.get(contact_id)
        line = {"at": now, "from": "system", "text": text}
        c.transcript.append(line)
        return [Delivery(("customer", contact_id), {"type": "system", **line})]

    def hangup(self, contact_id: str, reason: str, now: float) -> list[Delivery]:
        """The engine ends the customer's side (agent hung up, closed, max wait)."""
        c = self.get(contact_id)
        out = [Delivery(("customer", contact_id), {"type": "ended", "reason": reason, "at": now})]
        if c.agent and c.state in ("connected", "offered"):
            out.append(Delivery(("agent", c.agent), {"type": "ended", "contact_id": contact_id, "reason": reason}))
        c.state = "ended"
        c.transcript.append({"at": now, "from": "system", "text": f"chat ended ({reason})"})
        return out

    def survey(self, contact_id: str, score: int, comment: str, now: float) -> list[Delivery]:
        """The customer rates the chat once it has ended (1..5, with an optional comment): kept until the engine
        asks for it (``StartSurvey`` after the contact's record, ``take_survey``). ``ChatError`` before the end,
        for a second answer or a score out of range."""
        c = self.get(contact_id)
        if c.state != "ended":
            raise ChatError("the survey comes when the chat has ended")
        if contact_id in self.survey_answers:
            raise ChatError("the survey was already answered")
        if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
            raise ChatError("survey score: expected an integer from 1 to 5")
        if len(comment) > 2000:
            raise ChatError("survey comment: at most 2000 characters")
        self.survey_answers[contact_id] = (score, comment)
        while len(self.survey_answers) > MAX_KEPT_ANSWERS:  # answers the engine never asked for (no survey)
            self.survey_answers.pop(next(iter(self.survey_answers)))
        line = {"at": now, "from": "system", "text": "Thank you for your answer."}
        c.transcript.append({"at": now, "from": "customer", "text": f"survey: {score}/5 {comment}".strip()})
        return [Delivery(("customer", contact_id), {"type": "system", **line})]

    def take_survey(self, contact_id: str) -> tuple[int, str] | None:
        """The customer's survey answer for ``contact_id`` (forgotten once taken), or ``None``."""
        return self.survey_answers.pop(contact_id, None)

    def finish(self, contact_id: str) -> dict[str, Any]:
        """The contact's record was emitted: forget it and return what goes into ``ContactRecord.data``."""
        c = self.conversations.pop(contact_id, None)
        if c is None:
            return {}
        return {"transcript": list(c.transcript), "customer_name": c.name}
