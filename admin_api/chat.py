"""The chat blueprint: the customer's and the agent's WebSockets, and the two static pages.

Frames are JSON objects with a ``type`` (``admin_api.frames``); a malformed or refused frame is answered with
``{"type": "error", "reason": ...}`` and the connection stays open. The conversations themselves live in the chat
plugin (``plugins.builtin.chat``); this module only moves frames between sockets and the plugin, and turns the
people's decisions into engine events (``runtime.submit``).

Customer, ``/chat/ws/customer``::

    -> {"type": "join", "customer": "ada@example.com", "name": "Ada", "queue": "chat"}   (first frame)
    <- {"type": "joined", "contact_id": ...}
    -> {"type": "message", "text": ...}        <- {"type": "message", "from": "agent", "text": ..., "at": ...}
    -> {"type": "survey", "score": 1..5, "comment": ...}   (once the chat has ended: the satisfaction survey,
       handed to the engine when it asks for it after the contact's record: ``SurveyAnswered``)
    -> {"type": "leave"}  (or closing the socket: CustomerHungUp)
    <- {"type": "connected", "agent": ...} | {"type": "system", "text": ...} | {"type": "ended", "reason": ...}

Agent, ``/chat/ws/agent/<agent_id>`` (authenticated: an ``Authorization: Bearer`` header or a first frame
``{"type": "auth", "token": ...}``; the token must be that agent's, or an admin's)::

    -> {"type": "auth", "token": ...}    <- {"type": "authenticated", "principal": {...}}
    <- {"type": "hello", "agent_id": ..., "holding": [contact ids]}
    -> {"type": "ready"} (AgentLogin if needed, AgentReady) | {"type": "not-ready", "reason"} | {"type": "logout"}
    <- {"type": "offer", "contact_id", "queue", "customer", "deadline", "customer_record", "history", ...}
    -> {"type": "accept" | "decline", "contact_id"}      (OfferAccepted / OfferDeclined)
    <- {"type": "connected", "contact_id", "messages": [lines written while waiting]}
    -> {"type": "message", "contact_id", "text"}   <- {"type": "message", "contact_id", "from": "customer", ...}
    -> {"type": "end", "contact_id"}                     (AgentHungUp)
    -> {"type": "wrap-up", "contact_id", "disposition", "notes"}   (WrapUpDone)
    -> {"type": "email-reply", "contact_id", "text"}   (an e-mail contact: the threaded reply goes out)
    <- e-mail offers too ({"type": "offer", "channel": "email", "subject", "body", ...}): accept, end and
       wrap up an e-mail contact with the same frames as a chat
    <- {"type": "ack", "of": <type>, "contact_id"}  after each accepted request
    <- {"type": "offer-cancelled" | "customer-left" | "ended", "contact_id", ...}

Closing the agent's socket submits ``AgentDisconnected`` (its contacts go back to their queues) unless a newer
socket of the same agent took over, or another adapter still holds the agent (``channel_agent_present``: the
WebRTC gateway's session of the same agent desktop, which then decides).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import trio
from quart import Blueprint, current_app, websocket

from admin_api.api import socket_route, ws_authenticate
from admin_api.app import STATIC, engine_handle
from admin_api.auth import ANYONE
from admin_api.context import EngineHandle
from admin_api.frames import AGENT_FRAMES, CUSTOMER_FRAMES, FrameError, error, parse
from engine.errors import AcdError
from engine.events import (
    AgentDisconnected,
    AgentHungUp,
    AgentLogin,
    AgentLogout,
    AgentNotReady,
    AgentReady,
    ContactArrived,
    CustomerHungUp,
    Event,
    OfferAccepted,
    OfferDeclined,
    WrapUpDone,
)
from plugins.builtin.chat.plugin import CHANNEL
from plugins.builtin.chat.state import ChatError
from plugins.builtin.crm.screen_pop import screen_pop
from plugins.builtin.email.plugin import EmailError

log = logging.getLogger("switchboard.api.chat")

chat = Blueprint("chat", __name__)

DEFAULT_QUEUE = "chat"


@chat.get("/chat/")
async def customer_page() -> Any:
    return await current_app.send_static_file("chat.html")


@chat.get("/chat/agent")
async def agent_page() -> Any:
    return await current_app.send_static_file("agent-chat.html")


def _default_queue(engine: EngineHandle) -> str:
    section = engine.config.get("plugins", {})
    section = section.get("chat", {}) if isinstance(section, dict) else {}
    queue = section.get("default_queue", DEFAULT_QUEUE) if isinstance(section, dict) else DEFAULT_QUEUE
    return queue if isinstance(queue, str) else DEFAULT_QUEUE


async def _send(frame: dict[str, Any]) -> None:
    await websocket.send(json.dumps(frame))


async def _pump(outbox: trio.MemoryReceiveChannel[dict[str, Any]]) -> None:
    """Send every frame the plugin queues for this socket, in order."""
    async for frame in outbox:
        await _send(frame)


async def _receive(allowed: dict[str, Any]) -> dict[str, Any] | None:
    """The next valid frame; ``None`` after answering a bad one with an error frame."""
    text = await websocket.receive()
    try:
        return parse(text, allowed)
    except FrameError as exc:
        await websocket.send(error(str(exc)))
        return None


# ------------------------------------------------------------------------------------------- customer ----

async def _join(engine: EngineHandle, frame: dict[str, Any]) -> tuple[str, Any] | None:
    """Open the conversation and submit ``ContactArrived``; ``None`` (after an error frame) if refused."""
    plugin = engine.chat
    contact_id = engine.new_contact_id(CHANNEL)
    customer = frame["customer"].strip()
    queue = frame.get("queue") or _default_queue(engine)
    outbox = plugin.connect(("customer", contact_id))
    pop = await screen_pop(engine.plugins, customer)
    plugin.open(contact_id, customer, queue, name=frame.get("name") or "", screen_pop=pop)
    engine.dispatcher.track(contact_id, CHANNEL)
    try:
        await engine.runtime.submit(ContactArrived(contact_id, channel=CHANNEL, queue=queue, customer=customer,
                                                   data={"name": frame.get("name") or ""}))
    except AcdError as exc:
        plugin.discard(contact_id)
        plugin.disconnect(("customer", contact_id), outbox)
        engine.dispatcher.forget(contact_id)
        await websocket.send(error(f"cannot start the chat: {exc}"))
        return None
    return contact_id, outbox


@chat.websocket("/chat/ws/customer")
async def customer_ws() -> None:
    engine = engine_handle()
    plugin = engine.chat
    await websocket.accept()
    joined = None
    while joined is None:
        frame = await _receive(CUSTOMER_FRAMES)
        if frame is None:
            continue
        if frame["type"] != "join":
            await websocket.send(error("the first frame must be a join"))
            continue
        joined = await _join(engine, frame)
    contact_id, outbox = joined
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_pump, outbox)
            while True:
                frame = await _receive(CUSTOMER_FRAMES)
                if frame is None:
                    continue
                if frame["type"] == "leave":
                    break
                if frame["type"] == "join":
                    await websocket.send(error("already joined"))
                    continue
                try:
                    if frame["type"] == "survey":
                        plugin.customer_survey(contact_id, frame["score"], frame.get("comment") or "", engine.now())
                    else:
                        plugin.customer_message(contact_id, frame["text"], engine.now())
                except ChatError as exc:
                    await websocket.send(error(str(exc)))
            nursery.cancel_scope.cancel()
    finally:
        with trio.CancelScope(shield=True):
            plugin.disconnect(("customer", contact_id), outbox)
            await _customer_gone(engine, contact_id)


async def _customer_gone(engine: EngineHandle, contact_id: str) -> None:
    plugin = engine.chat
    conversation = plugin.state.conversations.get(contact_id)
    if conversation is None or conversation.state == "ended":
        return
    plugin.customer_left(contact_id, engine.now())
    try:
        await engine.runtime.submit(CustomerHungUp(contact_id))
    except (AcdError, RuntimeError) as exc:  # RuntimeError: the runtime already shut down
        log.info("customer of %s left: %s", contact_id, exc)


# ---------------------------------------------------------------------------------------------- agent ----

def _agent_event(agent_id: str, frame: dict[str, Any]) -> Event | None:
    kind = frame["type"]
    contact_id = frame.get("contact_id", "")
    if kind == "not-ready":
        return AgentNotReady(agent_id, frame.get("reason") or "break")
    if kind == "logout":
        return AgentLogout(agent_id)
    if kind == "accept":
        return OfferAccepted(agent_id, contact_id)
    if kind == "decline":
        return OfferDeclined(agent_id, contact_id)
    if kind == "end":
        return AgentHungUp(agent_id, contact_id)
    if kind == "wrap-up":
        return WrapUpDone(agent_id, contact_id, frame["disposition"], frame.get("notes") or "")
    return None


async def _agent_frame(engine: EngineHandle, agent_id: str, frame: dict[str, Any]) -> None:
    """Carry out one agent frame; an error frame if the engine or the conversation refuses it."""
    kind = frame["type"]
    ack = {"type": "ack", "of": kind, "contact_id": frame.get("contact_id")}
    try:
        if kind == "message":
            engine.chat.agent_message(agent_id, frame["contact_id"], frame["text"], engine.now())
            return  # the line itself is the answer; no ack for every line
        if kind == "email-reply":
            if engine.email is None:
                raise ChatError("the e-mail channel is not available")
            ack["message_id"] = await engine.email.reply(frame["contact_id"], frame["text"])
        elif kind == "ready":
            try:
                await engine.runtime.submit(AgentLogin(agent_id))
            except AcdError:
                pass  # already logged in: ready is all that is asked
            await engine.runtime.submit(AgentReady(agent_id))
        else:
            event = _agent_event(agent_id, frame)
            if event is None:
                raise ChatError(f"{kind}: not handled")  # a frame type in AGENT_FRAMES without a handler
            await engine.runtime.submit(event)
    except (AcdError, ChatError, EmailError) as exc:
        await websocket.send(error(str(exc)))
        return
    await _send(ack)


@chat.websocket(socket_route("/chat/ws/agent/<agent_id>", ANYONE))
async def agent_ws(agent_id: str) -> None:
    engine = engine_handle()
    plugin = engine.chat
    await websocket.accept()
    principal = await ws_authenticate(ANYONE)
    if principal is None:
        return
    if principal.role != "admin" and principal.agent_id != agent_id:
        await websocket.send(json.dumps({"type": "error", "status": 403, "code": "forbidden",
                                         "reason": f"this token does not act as agent {agent_id!r}"}))
        await websocket.close(4403, "not this agent")
        return
    me = ("agent", agent_id)
    outbox = plugin.connect(me)
    email = engine.email
    email_outbox = email.subscribe(agent_id) if email is not None else None
    try:
        await _send({"type": "hello", "agent_id": agent_id, "holding": plugin.state.held_by(agent_id)})
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_pump, outbox)
            if email_outbox is not None:
                nursery.start_soon(_pump, email_outbox)
            while True:
                frame = await _receive(AGENT_FRAMES)
                if frame is not None:
                    await _agent_frame(engine, agent_id, frame)
    finally:
        with trio.CancelScope(shield=True):
            plugin.disconnect(me, outbox)
            if email is not None and email_outbox is not None:
                email.unsubscribe(agent_id, email_outbox)
            if not plugin.connected(me) and not await _present_elsewhere(engine, agent_id):
                try:
                    await engine.runtime.submit(AgentDisconnected(agent_id))
                except (AcdError, RuntimeError) as exc:
                    log.info("agent %s socket closed: %s", agent_id, exc)


async def _present_elsewhere(engine: EngineHandle, agent_id: str) -> bool:
    """Whether another channel adapter holds the agent (the WebRTC gateway's session, within its grace): then that
    adapter decides when the agent is disconnected."""
    answers = await engine.plugins.acall("channel_agent_present", agent_id=agent_id)
    return any(answer is True for answer in answers)


__all__ = ["chat", "STATIC"]
