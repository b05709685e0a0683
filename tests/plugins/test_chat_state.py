"""The chat conversations (sans-IO), the chat plugin's hooks without sockets, and the channel dispatcher."""

from __future__ import annotations

from typing import Any

import pytest

from engine.events import (
    Bridge,
    CancelOffer,
    ContactRecord,
    HangUp,
    OfferContact,
    PlayAnnouncement,
    PlayPrompt,
    Unbridge,
)
from plugins import hookimpl
from plugins.builtin.chat import ChatChannelPlugin, ChatError, ChatState, Delivery
from plugins.dispatch import ChannelDispatcher
from plugins.manager import PluginManager

CUSTOMER = ("customer", "c1")
AGENT = ("agent", "a1")


def frames(deliveries: list[Delivery]) -> list[tuple[tuple[str, str], str]]:
    return [(d.to, d.frame["type"]) for d in deliveries]


def opened() -> ChatState:
    state = ChatState()
    out = state.open("c1", "ada@example.com", "chat", name="Ada",
                     screen_pop={"customer": {"name": "Ada"}, "history": [{"summary": "before"}]})
    assert frames(out) == [(CUSTOMER, "joined")]
    return state


def test_a_conversation_from_join_to_record() -> None:
    state = opened()
    assert state.customer_message("c1", "hello?", 1.0) == []  # nobody to read it yet
    offer = state.offer("c1", "a1", 21.0, 2.0)
    assert frames(offer) == [(AGENT, "offer")]
    assert offer[0].frame["history"] == [{"summary": "before"}] and offer[0].frame["waiting_lines"] == 1
    assert offer[0].frame["customer_record"] == {"name": "Ada"}
    bridged = state.bridge("c1", "a1", 3.0)
    assert frames(bridged) == [(CUSTOMER, "connected"), (AGENT, "connected")]
    assert [m["text"] for m in bridged[1].frame["messages"]] == ["hello?"]
    assert state.held_by("a1") == ["c1"]
    assert frames(state.customer_message("c1", "still there?", 4.0)) == [(AGENT, "message")]
    assert frames(state.agent_message("a1", "c1", "yes", 5.0)) == [(CUSTOMER, "message")]
    assert frames(state.system("c1", "please hold", 6.0)) == [(CUSTOMER, "system")]
    assert frames(state.hangup("c1", "agent-hangup", 7.0)) == [(CUSTOMER, "ended"), (AGENT, "ended")]
    with pytest.raises(ChatError, match="this chat has ended"):
        state.customer_message("c1", "wait", 8.0)
    data = state.finish("c1")
    assert [(line["from"], line["text"]) for line in data["transcript"]] == [
        ("customer", "hello?"), ("customer", "still there?"), ("agent", "yes"), ("system", "please hold"),
        ("system", "chat ended (agent-hangup)")]
    assert data["customer_name"] == "Ada"
    assert not state.owns("c1") and state.finish("c1") == {}


def test_agents_may_write_only_to_their_own_connected_chats() -> None:
    state = opened()
    with pytest.raises(ChatError, match="not connected to chat 'c1'"):
        state.agent_message("a1", "c1", "hi", 1.0)  # still waiting
    state.offer("c1", "a1", 21.0, 1.0)
    state.bridge("c1", "a1", 2.0)
    with pytest.raises(ChatError):
        state.agent_message("a2", "c1", "hi", 3.0)
    with pytest.raises(ChatError):
        state.agent_message("a1", "c9", "hi", 3.0)
    with pytest.raises(ChatError, match="already exists"):
        state.open("c1", "x", "chat")


def test_cancelled_offer_and_unbridge_put_the_chat_back_in_line() -> None:
    state = opened()
    state.offer("c1", "a1", 21.0, 1.0)
    assert frames(state.cancel_offer("c1", "a1", "timeout")) == [(AGENT, "offer-cancelled")]
    assert state.get("c1").state == "waiting"
    state.offer("c1", "a2", 41.0, 22.0)
    state.bridge("c1", "a2", 23.0)
    assert frames(state.unbridge("c1", "a2", 24.0)) == [(("agent", "a2"), "ended"), (CUSTOMER, "system")]
    assert state.get("c1").state == "waiting" and state.held_by("a2") == []


def test_customer_leaving_tells_the_agent() -> None:
    state = opened()
    state.offer("c1", "a1", 21.0, 1.0)
    state.bridge("c1", "a1", 2.0)
    assert frames(state.customer_left("c1", 3.0)) == [(AGENT, "customer-left")]
    assert state.customer_left("c1", 4.0) == []  # once


def test_plugin_hooks_without_sockets_take_nothing_but_their_own_contacts() -> None:
    manager = PluginManager(autoload=False)
    plugin = manager.pm.get_plugin("chat")
    assert isinstance(plugin, ChatChannelPlugin)
    offer = OfferContact("a1", "c1", "chat", "chat", 20.0, "ada", {})
    assert manager.call("channel_answer", channel="chat", action=offer, now=0.0) is None  # unknown contact
    plugin.open("c1", "ada", "chat")
    assert manager.call("channel_answer", channel="chat", action=offer, now=0.0) is None  # agent not connected
    outbox = plugin.connect(("agent", "a1"))
    assert manager.call("channel_answer", channel="chat", action=offer, now=0.0) is True
    assert outbox.receive_nowait()["type"] == "offer"
    assert manager.call("channel_answer", channel="voice", action=offer, now=0.0) is None
    assert manager.call("channel_bridge", channel="chat", action=Bridge("c1", "a1"), now=1.0) is True
    assert outbox.receive_nowait()["type"] == "connected"
    assert manager.call("channel_play", channel="chat", action=PlayPrompt("c1", "hold"), now=2.0) is True
    assert manager.call("channel_play", channel="chat", action=PlayAnnouncement("c1", 2, 90.0), now=2.0) is True
    assert manager.call("channel_send_message", channel="chat", contact_id="c1", text="hi") is True
    assert manager.call("channel_send_message", channel="chat", contact_id="c9", text="hi") is None
    assert manager.call("channel_hangup", channel="chat", action=HangUp("c1", "closed"), now=3.0) is True
    assert outbox.receive_nowait() == {"type": "ended", "contact_id": "c1", "reason": "closed"}
    lines = [line["text"] for line in plugin.state.get("c1").transcript]
    assert lines == ["Please wait a moment.", "You are number 2 in line; estimated wait 2 min.", "hi",
                     "chat ended (closed)"]
    assert manager.faults == {}


class Recording:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.records: list[Any] = []

    def _take(self, hook: str, channel: str, action: Any) -> bool | None:
        self.calls.append((hook, channel, type(action).__name__))
        return True

    @hookimpl
    def channel_answer(self, channel: str, action: Any) -> bool | None:
        return self._take("answer", channel, action)

    @hookimpl
    def channel_bridge(self, channel: str, action: Any) -> bool | None:
        return self._take("bridge", channel, action)

    @hookimpl
    def channel_play(self, channel: str, action: Any) -> bool | None:
        return self._take("play", channel, action)

    @hookimpl
    def channel_hangup(self, channel: str, action: Any) -> bool | None:
        return self._take("hangup", channel, action)

    @hookimpl
    def channel_contact_ended(self, channel: str, record: Any) -> dict[str, Any] | None:
        return {"kept": channel}

    @hookimpl
    def crm_write_back(self, contact_record: Any) -> None:
        self.records.append(contact_record)


async def test_dispatcher_calls_the_hook_of_each_action_for_its_channels_only() -> None:
    manager = PluginManager(autoload=False, builtins=False)
    recording = Recording()
    manager.register(recording, "recording")
    dispatcher = ChannelDispatcher(manager, ["chat"])
    dispatcher.track("c1", "chat")
    dispatcher.track("v1", "voice")
    record = ContactRecord("c1", "chat", "ada", "chat", "a1", 0.0, 1.0, 9.0, "answered", "resolved", "", (),
                           {"subject": "x"})
    for action in (PlayPrompt("c1", "hold"), OfferContact("a1", "c1", "chat", "chat", 20.0, "ada", {}),
                   CancelOffer("a1", "c1", "timeout"), Bridge("c1", "a1"), Unbridge("c1", "a1"),
                   HangUp("c1", "agent-hangup"), PlayPrompt("v1", "hold"),
                   OfferContact("a1", "v2", "voice", "q", 20.0, "", {}), record):
        await dispatcher.handle(action, 1.0)
    assert recording.calls == [("play", "chat", "PlayPrompt"), ("answer", "chat", "OfferContact"),
                               ("hangup", "chat", "CancelOffer"), ("bridge", "chat", "Bridge"),
                               ("bridge", "chat", "Unbridge"), ("hangup", "chat", "HangUp")]
    assert [r.data for r in recording.records] == [{"subject": "x", "kept": "chat"}]
    assert dispatcher.records[-1].data["kept"] == "chat" and "c1" not in dispatcher.contacts
