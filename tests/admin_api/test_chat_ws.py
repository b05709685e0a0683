"""Chat end to end: the admin API served by hypercorn on loopback, customers and an agent on real WebSockets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from admin_api import EngineHandle, create_app, serve
from admin_api.auth import create_token
from engine.events import ContactArrived, OfferContact
from engine.store import SqliteStore
from engine.survey import SurveyRecorded
from plugins.builtin.email import EmailSettings, Envelope, serve_smtp
from tests.admin_api.helpers import Recorder, TestCrm, make_engine
from tests.admin_api.wsclient import WsClient

TIMEOUT_S = 10.0  # a safety net on the real clock; a passing run takes a fraction of a second


@asynccontextmanager
async def served(tmp_path: Path, crm: TestCrm) -> AsyncIterator[tuple[int, EngineHandle, Recorder]]:
    runtime, manager, recorder = make_engine(tmp_path, crm)
    store = SqliteStore(tmp_path / "store.sqlite3")
    AGENT_TOKENS["a1"] = create_token(store, "a1-desk", "agent", agent_id="a1")[0]
    AGENT_TOKENS["a2"] = create_token(store, "a2-desk", "agent", agent_id="a2")[0]
    engine = EngineHandle(runtime, manager, {}, store=store)
    app = create_app(engine)
    async with runtime.running(), trio.open_nursery() as nursery:
        urls = await nursery.start(serve, app, "127.0.0.1", 0)
        port = int(urls[0].rsplit(":", 1)[1])
        try:
            yield port, engine, recorder
        finally:
            nursery.cancel_scope.cancel()
            store.close()


AGENT_TOKENS: dict[str, str] = {}


async def open_agent(port: int, agent_id: str, token: str | None = None) -> WsClient:
    """The agent's chat socket, authenticated with its token (its first frame)."""
    socket = await WsClient.open(port, f"/chat/ws/agent/{agent_id}")
    await socket.send({"type": "auth", "token": token or AGENT_TOKENS[agent_id]})
    assert (await socket.expect("authenticated"))["principal"]["agent_id"] == agent_id
    return socket


async def http_get(port: int, path: str) -> bytes:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += await stream.receive_some(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    while len(body) < length:
        body += await stream.receive_some(65536)
    await stream.aclose()
    return head.split(b"\r\n")[0] + b"\n" + body


async def test_healthz_and_the_static_pages(tmp_path: Path, crm: TestCrm) -> None:
    async with served(tmp_path, crm) as (port, _, _):
        with trio.fail_after(TIMEOUT_S):
            health = await http_get(port, "/healthz")
            customer_page = await http_get(port, "/chat/")
            agent_page = await http_get(port, "/chat/agent")
            script = await http_get(port, "/static/agent-chat.js")
            missing = await http_get(port, "/static/nope.js")
    assert health.startswith(b"HTTP/1.1 200") and b'"status":"ok"' in health.replace(b" ", b"")
    assert customer_page.startswith(b"HTTP/1.1 200") and b"/static/chat.js" in customer_page
    assert agent_page.startswith(b"HTTP/1.1 200") and b"/static/agent-chat.js" in agent_page
    assert script.startswith(b"HTTP/1.1 200") and b"/chat/ws/agent/" in script
    assert missing.startswith(b"HTTP/1.1 404")


async def test_two_chats_at_once_voice_waits_and_transcript_is_written_back(tmp_path: Path, crm: TestCrm) -> None:
    async with served(tmp_path, crm) as (port, engine, recorder):
        with trio.fail_after(TIMEOUT_S):
            agent = await open_agent(port, "a1")
            assert (await agent.expect("hello"))["holding"] == []
            await agent.send({"type": "ready"})
            await agent.next("ack", of="ready")

            ada = await WsClient.open(port, "/chat/ws/customer")
            await ada.send({"type": "join", "customer": "ada@example.com", "name": "Ada", "queue": "chat"})
            c1 = (await ada.expect("joined"))["contact_id"]
            offer = await agent.next("offer", contact_id=c1)
            assert offer["customer"] == "ada@example.com" and offer["queue"] == "chat"
            assert offer["customer_record"] == {"id": "crm-1", "name": "Ada Lovelace", "tier": "gold"}
            assert offer["history"][0]["summary"] == "called about an invoice (ada@example.com)"
            await ada.send({"type": "message", "text": "my invoice is wrong"})  # written while still ringing
            await agent.send({"type": "accept", "contact_id": c1})
            connected = await agent.next("connected", contact_id=c1)
            assert [m["text"] for m in connected["messages"]] == ["my invoice is wrong"]
            assert (await ada.expect("connected"))["agent"] == "a1"

            bob = await WsClient.open(port, "/chat/ws/customer")
            await bob.send({"type": "join", "customer": "bob@example.com", "queue": "chat"})
            c2 = (await bob.expect("joined"))["contact_id"]
            offer2 = await agent.next("offer", contact_id=c2)
            assert offer2["customer_record"] is None and len(offer2["history"]) == 1
            await agent.send({"type": "accept", "contact_id": c2})
            await agent.next("connected", contact_id=c2)
            await bob.expect("connected")

            # Two chats in hand: a voice contact (which takes the whole agent) is not offered.
            actions = await engine.runtime.submit(ContactArrived("v1", channel="voice", queue="voice"))
            assert not [a for a in actions if isinstance(a, OfferContact)]

            await agent.send({"type": "message", "contact_id": c1, "text": "let me check that"})
            line = await ada.expect("message")
            assert (line["from"], line["agent"], line["text"]) == ("agent", "a1", "let me check that")
            await bob.send({"type": "message", "text": "hi, is anyone there?"})
            got = await agent.next("message", contact_id=c2)
            assert (got["from"], got["text"]) == ("customer", "hi, is anyone there?")

            await agent.send({"type": "end", "contact_id": c1})
            await agent.next("ack", of="end", contact_id=c1)
            assert (await ada.expect("ended"))["reason"] == "agent-hangup"
            await agent.send({"type": "wrap-up", "contact_id": c1, "disposition": "resolved", "notes": "refund"})
            await agent.next("ack", of="wrap-up", contact_id=c1)
            record = await crm.next_record()
            assert record.contact_id == c1 and record.channel == "chat" and record.disposition == "resolved"
            assert [(line["from"], line["text"]) for line in record.data["transcript"]] == [
                ("customer", "my invoice is wrong"), ("agent", "let me check that"),
                ("system", "chat ended (agent-hangup)")]
            # Still one chat in hand: voice still waits.
            assert not [a for a, _ in recorder.actions if isinstance(a, OfferContact) and a.contact_id == "v1"]

            await bob.close()  # the customer leaves
            await agent.next("customer-left", contact_id=c2)
            await agent.send({"type": "wrap-up", "contact_id": c2, "disposition": "resolved"})
            await agent.next("ack", of="wrap-up", contact_id=c2)
            record2 = await crm.next_record()
            assert record2.contact_id == c2 and record2.data["transcript"][0]["text"] == "hi, is anyone there?"
            voice = await recorder.wait_for(lambda a: isinstance(a, OfferContact) and a.contact_id == "v1")
            assert voice.agent_id == "a1"
            await ada.close()
            await agent.close()
    assert engine.chat.state.conversations == {}
    assert engine.dispatcher.records[-1].contact_id == c2


async def test_malformed_frames_get_error_frames_and_the_socket_stays(tmp_path: Path, crm: TestCrm) -> None:
    async with served(tmp_path, crm) as (port, _, _):
        with trio.fail_after(TIMEOUT_S):
            customer = await WsClient.open(port, "/chat/ws/customer")
            await customer.send_text("not json")
            assert (await customer.expect("error"))["reason"] == "not JSON"
            await customer.send({"type": "message", "text": "hi"})
            assert (await customer.expect("error"))["reason"] == "the first frame must be a join"
            await customer.send({"type": "join"})
            assert (await customer.expect("error"))["reason"] == "join: missing field 'customer'"
            await customer.send({"type": "join", "customer": "x@example.com", "queue": "nope"})
            assert "cannot start the chat" in (await customer.expect("error"))["reason"]
            await customer.send({"type": "join", "customer": "x@example.com"})  # default queue "chat"
            await customer.expect("joined")

            agent = await open_agent(port, "a1")
            await agent.expect("hello")
            await agent.send([1, 2])  # type: ignore[arg-type]
            assert (await agent.expect("error"))["reason"] == "a frame must be a JSON object"
            await agent.send({"type": "dance"})
            assert (await agent.expect("error"))["reason"].startswith("unknown type 'dance'")
            await agent.send({"type": "message", "contact_id": "chat-nope", "text": "hello"})
            assert (await agent.expect("error"))["reason"] == "you are not connected to chat 'chat-nope'"
            await agent.send({"type": "accept", "contact_id": "chat-nope"})
            assert (await agent.expect("error"))["reason"]  # the ACD's refusal, in words
            await agent.send({"type": "ready"})
            await agent.next("ack", of="ready")
            await agent.next("offer")
            await customer.close()
            await agent.close()


async def test_an_email_is_offered_and_answered_on_the_agent_socket_beside_a_chat(tmp_path: Path,
                                                                                 crm: TestCrm) -> None:
    relayed_in, relayed = trio.open_memory_channel[Envelope](10)

    async def relay(envelope: Envelope) -> tuple[int, str]:
        await relayed_in.send(envelope)
        return 250, "relayed"

    async with served(tmp_path, crm) as (port, engine, _), trio.open_nursery() as nursery:
        with trio.fail_after(TIMEOUT_S):
            relay_port = await nursery.start(serve_smtp, relay, "127.0.0.1", 0)
            mail = engine.email
            mail.settings = EmailSettings(smtp_port=relay_port, from_address="support@example.com")
            mail.attach(engine.runtime, engine.plugins, engine.dispatcher)
            agent = await open_agent(port, "a1")
            await agent.expect("hello")
            await agent.send({"type": "ready"})
            await agent.next("ack", of="ready")
            ada = await WsClient.open(port, "/chat/ws/customer")
            await ada.send({"type": "join", "customer": "ada@example.com"})
            chat_id = (await ada.expect("joined"))["contact_id"]
            await agent.next("offer", contact_id=chat_id)
            await agent.send({"type": "accept", "contact_id": chat_id})
            await agent.next("connected", contact_id=chat_id)

            raw = (b"From: Ada <ada@example.com>\r\nTo: support@example.com\r\nSubject: Order 7\r\n"
                   b"Message-ID: <o7@example.com>\r\n\r\nWhere is my order?\r\n")
            assert (await mail.receive(Envelope("ada@example.com", ("support@example.com",), raw)))[0] == 250
            offer = await agent.next("offer", channel="email")  # a chat in hand does not keep e-mail away
            assert offer["subject"] == "Order 7" and offer["customer_record"]["name"] == "Ada Lovelace"
            email_id = offer["contact_id"]
            await agent.send({"type": "accept", "contact_id": email_id})
            await agent.next("ack", of="accept", contact_id=email_id)
            await agent.send({"type": "email-reply", "contact_id": email_id, "text": "It ships today."})
            ack = await agent.next("ack", of="email-reply", contact_id=email_id)
            envelope = await relayed.receive()
            assert ack["message_id"] in envelope.data.decode()
            assert b"In-Reply-To: <o7@example.com>" in envelope.data and b"Subject: Re: Order 7" in envelope.data
            await agent.send({"type": "email-reply", "contact_id": "email-nope", "text": "x"})
            assert (await agent.next("error"))["reason"] == "no e-mail contact 'email-nope'"
            await agent.send({"type": "end", "contact_id": email_id})
            await agent.next("ack", of="end", contact_id=email_id)
            await agent.send({"type": "wrap-up", "contact_id": email_id, "disposition": "resolved"})
            record = await crm.next_record()
            assert record.contact_id == email_id and record.data["email"]["replies"][0]["text"] == "It ships today."
            await ada.close()
            await agent.close()
        nursery.cancel_scope.cancel()


async def test_the_agent_socket_needs_that_agents_token(tmp_path: Path, crm: TestCrm) -> None:
    async with served(tmp_path, crm) as (port, _, _):
        with trio.fail_after(TIMEOUT_S):
            anonymous = await WsClient.open(port, "/chat/ws/agent/a1")
            await anonymous.send({"type": "ready"})
            refused = await anonymous.expect("error")
            assert refused["code"] == "unauthenticated" and "first frame" in refused["reason"]
            bogus = await WsClient.open(port, "/chat/ws/agent/a1")
            await bogus.send({"type": "auth", "token": "sb_nope"})
            assert (await bogus.expect("error"))["code"] == "unauthenticated"
            other = await WsClient.open(port, "/chat/ws/agent/a1")
            await other.send({"type": "auth", "token": AGENT_TOKENS["a2"]})
            await other.expect("authenticated")
            assert (await other.expect("error"))["code"] == "forbidden"


async def test_the_customer_rates_the_chat_and_the_answer_reaches_the_engine(tmp_path: Path, crm: TestCrm) -> None:
    async with served(tmp_path, crm) as (port, _, recorder):
        with trio.fail_after(TIMEOUT_S):
            agent = await open_agent(port, "a1")
            await agent.expect("hello")
            await agent.send({"type": "ready"})
            await agent.next("ack", of="ready")
            ada = await WsClient.open(port, "/chat/ws/customer")
            await ada.send({"type": "join", "customer": "ada@example.com", "queue": "chat"})
            contact = (await ada.expect("joined"))["contact_id"]
            await agent.next("offer", contact_id=contact)
            await agent.send({"type": "accept", "contact_id": contact})
            await agent.next("connected", contact_id=contact)
            await ada.next("connected")
            await ada.send({"type": "survey", "score": 5})
            assert (await ada.next("error"))["reason"] == "the survey comes when the chat has ended"
            await agent.send({"type": "end", "contact_id": contact})
            await ada.next("ended")
            await ada.send({"type": "survey", "score": 9})
            assert "from 1 to 5" in (await ada.next("error"))["reason"]
            await ada.send({"type": "survey", "score": 4, "comment": "quick"})
            assert (await ada.next("system"))["text"] == "Thank you for your answer."
            await ada.close()
            await agent.send({"type": "wrap-up", "contact_id": contact, "disposition": "resolved"})
            recorded = await recorder.wait_for(lambda a: isinstance(a, SurveyRecorded))
            await agent.close()
    assert (recorded.contact_id, recorded.queue, recorded.agent_id, recorded.score, recorded.comment) == (
        contact, "chat", "a1", 4, "quick")
