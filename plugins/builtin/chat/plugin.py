"""The chat channel adapter (plugin name ``"chat"``): the engine's actions on channel ``"chat"`` to chat frames.

The conversations live in ``ChatState`` (sans-IO); this module adds the *outboxes*: one trio memory channel per
connected socket (a customer's, keyed by contact id, or an agent's, keyed by agent id), filled with the frames
``ChatState`` returns and drained by the socket code in ``admin_api.chat``. A frame for a recipient with no socket
is dropped (the agent who reconnects gets the next ones; the ACD's timers handle an offer nobody saw).

The per-contact channel hooks are ``async def`` that never suspend: the dispatcher (``acall``) awaits them on the
trio thread, so a voice action costs no worker thread just to learn that chat does not own it, and a sync
``PluginManager.call`` still runs them to completion. ``channel_send_message`` stays sync; whichever thread a
hook runs on, ``on_trio`` makes every change to the state or an outbox happen on the trio thread, in the order
the hooks are called.
Hooks return ``None`` for other channels and contacts this adapter does not hold, and for an offer to an agent
with no socket (``None`` = "not taken", see ``plugins/hookspecs.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import trio

from engine.errors import AcdError
from engine.events import (
    Bridge,
    CancelOffer,
    HangUp,
    OfferCallback,
    OfferContact,
    PlayAnnouncement,
    PlayPrompt,
    Unbridge,
)
from engine.survey import StartSurvey, SurveyAnswered
from plugins import hookimpl
from plugins.builtin.chat.state import PROMPTS, ChatError, ChatState, Delivery, Recipient

log = logging.getLogger("switchboard.chat")

NAME = "chat"
CHANNEL = "chat"
OUTBOX_SIZE = 1000
T = TypeVar("T")

__all__ = ["ChatChannelPlugin", "ChatError", "CHANNEL", "NAME"]


def on_trio(fn: Callable[[], T]) -> T:
    """Run ``fn`` on the trio thread: directly if we are on it (or there is no trio at all), else through
    ``trio.from_thread`` (we are in one of trio's worker threads, as ``acall`` runs sync hooks)."""
    try:
        trio.lowlevel.current_task()
        return fn()
    except RuntimeError:
        pass
    try:
        return trio.from_thread.run_sync(fn)
    except RuntimeError:  # not a trio worker thread: no trio anywhere, so no socket either
        return fn()


class ChatChannelPlugin:
    """The chat adapter: ``state`` (``ChatState``) plus the sockets' outboxes. See the module docstring."""

    def __init__(self) -> None:
        self.state = ChatState()
        self.outboxes: dict[Recipient, trio.MemorySendChannel[dict[str, Any]]] = {}
        self._receivers: dict[Recipient, trio.MemoryReceiveChannel[dict[str, Any]]] = {}
        self.dropped = 0
        self.clock: Callable[[], float] | None = None  # the engine's time, for hooks that are not given it
        self.submit: Callable[[Any], Awaitable[Any]] | None = None  # the engine's way in (set by the admin API)

    # ------------------------------------------------------------------------------------------ sockets ----

    def connect(self, recipient: Recipient) -> trio.MemoryReceiveChannel[dict[str, Any]]:
        """Open the outbox of ``recipient`` (``("agent", id)`` / ``("customer", contact_id)``); a previous one is
        closed (the newest socket wins). Returns the receive side the socket drains."""
        old = self.outboxes.pop(recipient, None)
        if old is not None:
            old.close()
        send, receive = trio.open_memory_channel[dict[str, Any]](OUTBOX_SIZE)
        self.outboxes[recipient] = send
        self._receivers[recipient] = receive
        return receive

    def disconnect(self, recipient: Recipient, receive: trio.MemoryReceiveChannel[dict[str, Any]]) -> None:
        """Close ``recipient``'s outbox if it is still the one ``receive`` drains."""
        if self._receivers.get(recipient) is receive:
            del self._receivers[recipient]
            self.outboxes.pop(recipient).close()

    def connected(self, recipient: Recipient) -> bool:
        return recipient in self.outboxes

    def deliver(self, deliveries: Iterable[Delivery]) -> None:
        for delivery in deliveries:
            send = self.outboxes.get(delivery.to)
            if send is None:
                continue
            try:
                send.send_nowait(delivery.frame)
            except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
                self.dropped += 1
                log.warning("chat frame %s for %s dropped (socket gone or too slow)", delivery.frame.get("type"),
                            delivery.to)

    # ------------------------------------------------- the socket side's calls (trio thread, may raise) ----

    def open(self, contact_id: str, customer: str, queue: str, *, name: str = "",
             screen_pop: dict[str, Any] | None = None) -> None:
        self.deliver(self.state.open(contact_id, customer, queue, name=name, screen_pop=screen_pop))

    def customer_message(self, contact_id: str, text: str, now: float) -> None:
        self.deliver(self.state.customer_message(contact_id, text, now))

    def customer_survey(self, contact_id: str, score: int, comment: str, now: float) -> None:
        self.deliver(self.state.survey(contact_id, score, comment, now))

    def customer_left(self, contact_id: str, now: float) -> None:
        self.deliver(self.state.customer_left(contact_id, now))

    def agent_message(self, agent_id: str, contact_id: str, text: str, now: float) -> None:
        self.deliver(self.state.agent_message(agent_id, contact_id, text, now))

    def discard(self, contact_id: str) -> None:
        """Forget a conversation the engine refused (its ``ContactArrived`` was not accepted)."""
        self.state.conversations.pop(contact_id, None)

    # ------------------------------------------------------------------------------------------- hooks ----

    def _owned(self, channel: str, contact_id: str) -> bool:
        return channel == CHANNEL and self.state.owns(contact_id)

    @hookimpl
    async def channel_answer(self, channel: str, action: Any, now: float) -> bool | None:
        if not isinstance(action, OfferContact):
            return None

        def work() -> bool | None:
            if not self._owned(channel, action.contact_id) or not self.connected(("agent", action.agent_id)):
                return None
            self.deliver(self.state.offer(action.contact_id, action.agent_id, action.deadline, now))
            return True

        return on_trio(work)

    @hookimpl
    async def channel_bridge(self, channel: str, action: Any, now: float) -> bool | None:
        def work() -> bool | None:
            if not isinstance(action, (Bridge, Unbridge)) or not self._owned(channel, action.contact_id):
                return None
            if isinstance(action, Bridge):
                self.deliver(self.state.bridge(action.contact_id, action.agent_id, now))
            else:
                self.deliver(self.state.unbridge(action.contact_id, action.agent_id, now))
            return True

        return on_trio(work)

    @hookimpl
    async def channel_play(self, channel: str, action: Any, now: float) -> bool | None:
        if isinstance(action, StartSurvey):
            return await self._survey(channel, action)

        def work() -> bool | None:
            if not self._owned(channel, getattr(action, "contact_id", "")):
                return None
            if isinstance(action, PlayPrompt):
                text = PROMPTS.get(action.prompt, action.prompt)
            elif isinstance(action, PlayAnnouncement):
                text = (f"You are number {action.position} in line; "
                        f"estimated wait {round(action.estimated_wait_s / 60) or 1} min.")
            elif isinstance(action, OfferCallback):
                text = "All agents are busy. You may leave your e-mail address and we will get back to you."
            else:
                return None
            self.deliver(self.state.system(action.contact_id, text, now))
            return True

        return on_trio(work)

    async def _survey(self, channel: str, action: StartSurvey) -> bool | None:
        """The engine asks for the survey of a chat that is over: the customer answered it (or not) when the chat
        ended, in the widget; the answer goes back to the engine as ``SurveyAnswered``."""
        if channel != CHANNEL:
            return None
        answer = on_trio(lambda: self.state.take_survey(action.contact_id))
        if answer is not None and self.submit is not None:
            try:
                await self.submit(SurveyAnswered(action.contact_id, answer[0], answer[1]))
            except AcdError as exc:
                log.warning("survey answer of %s refused: %s", action.contact_id, exc)
        return True

    @hookimpl
    async def channel_hangup(self, channel: str, action: Any, now: float) -> bool | None:
        def work() -> bool | None:
            if not isinstance(action, (HangUp, CancelOffer)) or not self._owned(channel, action.contact_id):
                return None
            if isinstance(action, CancelOffer):
                self.deliver(self.state.cancel_offer(action.contact_id, action.agent_id, action.reason))
            else:
                self.deliver(self.state.hangup(action.contact_id, action.reason, now))
            return True

        return on_trio(work)

    @hookimpl
    def channel_send_message(self, channel: str, contact_id: str, text: str) -> bool | None:
        def work() -> bool | None:
            if not self._owned(channel, contact_id):
                return None
            try:
                self.deliver(self.state.send(contact_id, text, self.clock() if self.clock is not None else 0.0))
            except ChatError:
                return None
            return True

        return on_trio(work)

    @hookimpl
    async def channel_contact_ended(self, channel: str, record: Any, now: float) -> dict[str, Any] | None:
        def work() -> dict[str, Any] | None:
            if not self._owned(channel, record.contact_id):
                return None
            return self.state.finish(record.contact_id)

        return on_trio(work)

