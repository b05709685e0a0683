"""The e-mail channel adapter (plugin name ``"email"``): mail in over SMTP becomes a contact, replies go out.

Inbound: ``serve`` runs the SMTP listener (``smtp_server.serve_smtp``) on ``listen_host:listen_port``; each
message is parsed with the stdlib ``email`` package (``parse_message``), the customer's screen-pop is fetched
from the CRM hooks, and ``ContactArrived(channel="email", queue=<queue of the recipient address, or the default
queue>, customer=<From address>, data={subject, message_id, body, ...})`` is submitted to the runtime. The SMTP
client gets 250 once the engine accepted the contact, 451 if it refused it (a configuration problem: the mail
stays with the sending MTA, which retries).

Agent side: ``subscribe(agent_id)`` opens an outbox of frames for that agent: ``offer`` (the engine's
``OfferContact`` on channel email, with the message and the customer's CRM record and history),
``offer-cancelled`` and ``ended``. The agent accepts through the engine (``OfferAccepted``), answers with
``await plugin.reply(contact_id, text)`` (or the ``channel_send_message`` hook, from a worker thread), then
``AgentHungUp`` and ``WrapUpDone`` as for any contact.

Outbound: a reply is sent through ``smtp_host:smtp_port`` with ``smtplib`` in a worker thread, from
``from_address`` to the customer, threaded: ``Subject: Re: <subject>``, ``In-Reply-To: <their Message-ID>``,
``References: <their References> <their Message-ID>``.

When the contact's record is emitted, ``channel_contact_ended`` returns the thread (``{"email": {...}}``: the
message, the replies sent) for the CRM write-back, and the thread is forgotten.
"""

from __future__ import annotations

import email
import email.policy
import logging
import smtplib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses, make_msgid, parseaddr
from functools import partial
from typing import Any

import trio

from engine.errors import AcdError
from engine.events import Bridge, CancelOffer, ContactArrived, HangUp, OfferContact
from engine.tomlfile import TomlFile
from plugins import hookimpl
from plugins.builtin.chat.plugin import on_trio
from plugins.builtin.crm.screen_pop import screen_pop
from plugins.builtin.email.settings import EmailSettings
from plugins.builtin.email.smtp_server import Envelope, serve_smtp

log = logging.getLogger("switchboard.email")

NAME = "email"
CHANNEL = "email"
OUTBOX_SIZE = 1000
MAX_BODY_CHARS = 100_000  # kept in the contact's data (journaled): longer bodies are cut


class EmailError(Exception):
    """An e-mail operation that cannot be done (unknown contact, the relay refused the reply)."""


@dataclass
class Thread:
    """One e-mail contact: the customer's message and the replies sent."""

    contact_id: str
    customer: str
    subject: str
    message_id: str
    references: str
    agent: str = ""
    replies: list[dict[str, Any]] = field(default_factory=list)
    screen_pop: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)


def parse_message(envelope: Envelope) -> dict[str, Any]:
    """The facts of a received message: ``customer`` (the From address, else the envelope sender), ``name``,
    ``subject``, ``message_id``, ``in_reply_to``, ``references``, ``to`` (envelope recipients) and ``body`` (the
    text/plain part, else the text of the first text part)."""
    message = email.message_from_bytes(envelope.data, policy=email.policy.default)
    name, address = parseaddr(str(message.get("From", "")))
    body_part = message.get_body(preferencelist=("plain", "html"))
    try:
        body = body_part.get_content() if body_part is not None else ""
    except (LookupError, UnicodeDecodeError):
        body = ""
    if not isinstance(body, str):
        body = ""
    body = body.replace("\r\n", "\n")  # SMTP's line endings; the text is kept with plain newlines
    return {
        "customer": (address or envelope.mail_from).lower(),
        "name": name,
        "subject": str(message.get("Subject", "")),
        "message_id": str(message.get("Message-ID", "")).strip(),
        "in_reply_to": str(message.get("In-Reply-To", "")).strip(),
        "references": " ".join(str(message.get("References", "")).split()),
        "to": list(envelope.rcpt_to),
        "cc": [a for _, a in getaddresses([str(v) for v in message.get_all("Cc", [])])],
        "body": body[:MAX_BODY_CHARS],
    }


def build_reply(thread: Thread, text: str, from_address: str) -> EmailMessage:
    """The reply to ``thread``'s message: ``Re:`` subject, ``In-Reply-To`` and ``References`` set."""
    reply = EmailMessage()
    reply["From"] = from_address
    reply["To"] = thread.customer
    subject = thread.subject or "your message"
    reply["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    reply["Message-ID"] = make_msgid(domain=from_address.rpartition("@")[2] or None)
    if thread.message_id:
        reply["In-Reply-To"] = thread.message_id
        reply["References"] = " ".join(p for p in (thread.references, thread.message_id) if p)
    reply.set_content(text)
    return reply


class EmailChannelPlugin:
    """The e-mail adapter. ``attach(runtime, manager, dispatcher)`` before ``serve``; see the module docstring."""

    def __init__(self, settings: EmailSettings | None = None) -> None:
        self.settings = settings or EmailSettings()
        self.threads: dict[str, Thread] = {}
        self.outboxes: dict[str, trio.MemorySendChannel[dict[str, Any]]] = {}
        self._receivers: dict[str, trio.MemoryReceiveChannel[dict[str, Any]]] = {}
        self.runtime: Any = None
        self.manager: Any = None
        self.dispatcher: Any = None
        self.port: int | None = None

    # ------------------------------------------------------------------------------------------ wiring ----

    def attach(self, runtime: Any, manager: Any, dispatcher: Any) -> None:
        """The engine this adapter submits to, the plugin manager (CRM hooks), and the dispatcher that carries
        the engine's actions to the channel hooks (it learns the e-mail contacts' channel here)."""
        self.runtime, self.manager, self.dispatcher = runtime, manager, dispatcher

    def subscribe(self, agent_id: str) -> trio.MemoryReceiveChannel[dict[str, Any]]:
        """The agent's outbox (``offer``, ``offer-cancelled``, ``ended`` frames); a previous one is closed."""
        old = self.outboxes.pop(agent_id, None)
        if old is not None:
            old.close()
        send, receive = trio.open_memory_channel[dict[str, Any]](OUTBOX_SIZE)
        self.outboxes[agent_id] = send
        self._receivers[agent_id] = receive
        return receive

    def unsubscribe(self, agent_id: str, receive: trio.MemoryReceiveChannel[dict[str, Any]]) -> None:
        """Close ``agent_id``'s outbox if it is still the one ``receive`` drains."""
        if self._receivers.get(agent_id) is receive:
            del self._receivers[agent_id]
            self.outboxes.pop(agent_id).close()

    def _push(self, agent_id: str, frame: dict[str, Any]) -> bool:
        send = self.outboxes.get(agent_id)
        if send is None:
            return False
        try:
            send.send_nowait(frame)
        except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            log.warning("e-mail frame %s for %s dropped", frame.get("type"), agent_id)
            return False
        return True

    # ---------------------------------------------------------------------------------------- inbound ----

    async def serve(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the SMTP listener until cancelled; ``task_status.started`` gets the bound port."""
        if self.runtime is None:
            raise RuntimeError("EmailChannelPlugin.serve: attach(runtime, manager, dispatcher) first")
        s = self.settings
        async with trio.open_nursery() as nursery:
            self.port = await nursery.start(partial(serve_smtp, self.receive, s.listen_host, s.listen_port,
                                                    hostname=s.hostname, max_size=s.max_size))
            task_status.started(self.port)

    async def receive(self, envelope: Envelope) -> tuple[int, str]:
        """One message from the listener: a new contact. Returns the SMTP reply."""
        facts = parse_message(envelope)
        if not facts["customer"]:
            return 550, "no sender address"
        contact_id = f"{CHANNEL}-{uuid.uuid4().hex[:16]}"
        queue = self.settings.queue_for(envelope.rcpt_to)
        pop = await screen_pop(self.manager, facts["customer"])
        data = {k: facts[k] for k in ("subject", "message_id", "in_reply_to", "references", "to", "body", "name")}
        thread = Thread(contact_id, facts["customer"], facts["subject"], facts["message_id"], facts["references"],
                        screen_pop=pop, data=data)
        self.threads[contact_id] = thread
        self.dispatcher.track(contact_id, CHANNEL)
        try:
            await self.runtime.submit(ContactArrived(contact_id, channel=CHANNEL, queue=queue,
                                                     customer=facts["customer"], data=data))
        except AcdError as exc:
            self.threads.pop(contact_id, None)
            self.dispatcher.forget(contact_id)
            log.error("e-mail to %s refused by the engine: %s", ",".join(envelope.rcpt_to), exc)
            return 451, f"cannot queue the message: {exc}"
        return 250, f"OK queued as {contact_id}"

    # --------------------------------------------------------------------------------------- outbound ----

    async def reply(self, contact_id: str, text: str) -> str:
        """Send ``text`` to the customer of ``contact_id`` as a threaded reply; returns its Message-ID.
        ``EmailError`` for an unknown contact or when the relay refuses it."""
        thread = self.threads.get(contact_id)
        if thread is None:
            raise EmailError(f"no e-mail contact {contact_id!r}")
        message = build_reply(thread, text, self.settings.from_address)
        await trio.to_thread.run_sync(self._send, message)
        thread.replies.append({"message_id": message["Message-ID"], "text": text, "agent": thread.agent})
        return str(message["Message-ID"])

    def _send(self, message: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self.settings.smtp_host, self.settings.smtp_port, timeout=30) as client:
                client.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise EmailError(f"the relay {self.settings.smtp_host}:{self.settings.smtp_port} refused the reply: "
                             f"{exc}") from exc

    # ------------------------------------------------------------------------------------------- hooks ----

    @hookimpl
    def switchboard_configure(self, config: Any) -> None:
        """Read ``[plugins.email]``; from ``config["config_file"]`` (a ``TomlFile``) when the engine gives it, so
        a ``ConfigError`` names the file, line and key."""
        toml = config.get("config_file") if isinstance(config, Mapping) else None
        if isinstance(toml, TomlFile):
            self.settings = EmailSettings.from_toml(toml)
        else:
            self.settings = EmailSettings.from_config(config if isinstance(config, Mapping) else None)

    @hookimpl
    async def channel_answer(self, channel: str, action: Any, now: float) -> bool | None:
        if channel != CHANNEL or not isinstance(action, OfferContact):
            return None

        def work() -> bool | None:
            thread = self.threads.get(action.contact_id)
            if thread is None:
                return None
            frame = {"type": "offer", "channel": CHANNEL, "contact_id": action.contact_id, "queue": action.queue,
                     "customer": thread.customer, "deadline": action.deadline, "at": now,
                     "subject": thread.subject, "body": thread.data.get("body", ""),
                     "customer_record": thread.screen_pop.get("customer"),
                     "history": thread.screen_pop.get("history", []), "tickets": thread.screen_pop.get("tickets", [])}
            return True if self._push(action.agent_id, frame) else None

        return on_trio(work)

    @hookimpl
    async def channel_bridge(self, channel: str, action: Any, now: float) -> bool | None:
        if channel != CHANNEL:
            return None

        def work() -> bool | None:
            thread = self.threads.get(action.contact_id)
            if thread is None:
                return None
            thread.agent = action.agent_id if isinstance(action, Bridge) else ""
            return True

        return on_trio(work)

    @hookimpl
    async def channel_play(self, channel: str, action: Any, now: float) -> bool | None:
        if channel != CHANNEL:
            return None
        # Prompts and announcements are not mailed to the customer (no auto-replies): taken, nothing to do.
        return on_trio(lambda: True if getattr(action, "contact_id", None) in self.threads else None)

    @hookimpl
    async def channel_hangup(self, channel: str, action: Any, now: float) -> bool | None:
        if channel != CHANNEL:
            return None

        def work() -> bool | None:
            thread = self.threads.get(action.contact_id)
            if thread is None:
                return None
            if isinstance(action, CancelOffer):
                self._push(action.agent_id, {"type": "offer-cancelled", "contact_id": action.contact_id,
                                             "reason": action.reason})
            elif isinstance(action, HangUp) and thread.agent:
                self._push(thread.agent, {"type": "ended", "contact_id": action.contact_id,
                                          "reason": action.reason})
            return True

        return on_trio(work)

    @hookimpl
    def channel_send_message(self, channel: str, contact_id: str, text: str) -> bool | None:
        """From a worker thread (``acall``): sends the reply synchronously (``reply`` is the trio way)."""
        if channel != CHANNEL:
            return None
        thread = on_trio(lambda: self.threads.get(contact_id))
        if thread is None:
            return None
        message = build_reply(thread, text, self.settings.from_address)
        self._send(message)
        on_trio(lambda: thread.replies.append({"message_id": message["Message-ID"], "text": text,
                                                "agent": thread.agent}))
        return True

    @hookimpl
    async def channel_contact_ended(self, channel: str, record: Any, now: float) -> dict[str, Any] | None:
        if channel != CHANNEL:
            return None

        def work() -> dict[str, Any] | None:
            thread = self.threads.pop(record.contact_id, None)
            if thread is None:
                return None
            return {"email": {"subject": thread.subject, "message_id": thread.message_id,
                              "replies": list(thread.replies)}}

        return on_trio(work)
