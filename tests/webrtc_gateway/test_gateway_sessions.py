"""Agents' sessions over real sockets and media: a reload within the grace keeps the live call; after the grace the
engine's rule applies (the contact goes back to the head of its queue); nobody takes another agent's session."""

from __future__ import annotations

from pathlib import Path

import trio

from admin_api.chat import _present_elsewhere
from tests.webrtc_gateway.peers import AsyncioThread
from tests.webrtc_gateway.server import AGENT_HZ, CALLER_HZ, OTHER_HZ, TIMEOUT_S, running_gateway


async def test_an_agent_who_reloads_within_the_grace_gets_its_session_and_its_live_call_back(
        tmp_path: Path, peers: AsyncioThread) -> None:
    async with running_gateway(tmp_path, peers) as gw:
        with trio.fail_after(TIMEOUT_S):
            call = await gw.on_call()
            agent_ws, agent, session, caller, contact = call.agent_ws, call.agent, call.session, call.caller, \
                call.contact
            await gw.until_hears(caller, {AGENT_HZ})
            await agent_ws.close()  # the page reloads: its socket and its peer connection are gone
            await gw.thread.call(agent.close())
            await gw.until_hears(caller, set())  # hold music meanwhile, never the dead line
            again = await gw.staff("/webrtc/ws/agent/a1", "a1")
            await again.send({"type": "session", "resume": session["id"]})
            resumed = await again.expect("session")
            assert resumed["id"] == session["id"] and resumed["resumed"] is True
            assert resumed["call"]["contact_id"] == contact
            reloaded = await gw.line(again, OTHER_HZ)  # a new peer connection: the line is renegotiated
            await gw.until_hears(caller, {OTHER_HZ})
            await gw.until_hears(reloaded, {CALLER_HZ})
        assert gw.runtime.acd.agent_state("a1")[0] == "on-contact"
        assert gw.runtime.acd.contacts[contact].state == "connected"


async def test_after_the_grace_the_call_goes_back_to_the_head_of_its_queue(
        tmp_path: Path, peers: AsyncioThread) -> None:
    async with running_gateway(tmp_path, peers, settings={"grace_s": 1.0}) as gw:
        with trio.fail_after(TIMEOUT_S):
            call = await gw.on_call()
            agent_ws, agent, session = call.agent_ws, call.agent, call.session
            first_ws, first, first_id = call.caller_ws, call.caller, call.contact
            _, second, second_id = await gw.caller(None)  # waits behind: nobody else is available
            await gw.thread.call(second.send_keys("1"))
            while second_id not in gw.runtime.acd.waiting("support"):
                await trio.sleep(0.05)
            await agent_ws.close()
            await gw.thread.call(agent.close())
            while gw.runtime.acd.agent_state("a1")[0] != "not-ready":  # AgentDisconnected, once the grace passed
                await trio.sleep(0.05)
            assert gw.runtime.acd.waiting("support") == [first_id, second_id]  # at the head, ahead of the other
            await first_ws.next("status", text="please hold")
            other_ws, other, _ = await gw.agent("a2", OTHER_HZ)
            offer = await other_ws.next("offer-contact")
            assert offer["contact_id"] == first_id
            await other_ws.send({"type": "accept", "contact_id": first_id})
            await other_ws.next("connected", contact_id=first_id)
            await gw.until_hears(first, {OTHER_HZ})
            late = await gw.staff("/webrtc/ws/agent/a1", "a1")  # too late: a new session, no call
            await late.send({"type": "session", "resume": session["id"]})
            fresh = await late.expect("session")
            assert fresh["resumed"] is False and fresh["call"] is None and fresh["id"] != session["id"]


async def test_a_browser_cannot_take_another_agents_session_or_act_on_its_call(
        tmp_path: Path, peers: AsyncioThread) -> None:
    async with running_gateway(tmp_path, peers) as gw:
        with trio.fail_after(TIMEOUT_S):
            call = await gw.on_call()
            session, caller, contact = call.session, call.caller, call.contact
            path_of_a1 = await gw.staff("/webrtc/ws/agent/a1", "a2")  # a2's token on a1's socket: a2 is a2 ...
            refused = await path_of_a1.expect("error")  # ... not a1
            assert refused["code"] == "forbidden"
            thief = await gw.staff("/webrtc/ws/agent/a2", "a2")  # a2's own socket, a1's session id
            await thief.send({"type": "session", "resume": session["id"]})
            assert (await thief.expect("error"))["code"] == "forbidden"
            other_ws, _, _ = await gw.agent("a2", OTHER_HZ, ready=False)
            for request in ({"type": "hold", "contact_id": contact}, {"type": "hangup", "contact_id": contact},
                            {"type": "mute", "contact_id": contact},
                            {"type": "transfer", "contact_id": contact, "to_queue": "sales"},
                            {"type": "wrap-up", "contact_id": contact, "disposition": "resolved"}):
                await other_ws.send(request)
                answer = await other_ws.next("error")
                assert answer["code"] in ("forbidden", "refused"), answer
            intruder = await gw.socket("/webrtc/ws/caller")  # a caller socket answering a call not rung to it
            await intruder.expect("hello")
            await intruder.send({"type": "decline-call", "call_id": contact})
            assert (await intruder.expect("error"))["code"] == "unknown"
            await gw.until_hears(caller, {AGENT_HZ})  # the call went on untouched
        assert gw.runtime.acd.contacts[contact].state == "connected"


async def test_the_chat_socket_closing_does_not_disconnect_an_agent_whose_session_holds(
        tmp_path: Path, peers: AsyncioThread) -> None:
    async with running_gateway(tmp_path, peers) as gw:
        with trio.fail_after(TIMEOUT_S):
            call = await gw.on_call()
            assert await _present_elsewhere(gw.engine, "a1") and not await _present_elsewhere(gw.engine, "a2")
            chat = await gw.staff("/chat/ws/agent/a1", "a1", "hello")  # the desktop's chat beside the call
            await chat.close()  # e.g. the chat panel closed: the gateway's session still holds the agent
            while gw.engine.chat.connected(("agent", "a1")):
                await trio.sleep(0.01)
            await gw.until_hears(call.caller, {AGENT_HZ})  # the call goes on, long enough to see ...
            assert gw.runtime.acd.agent_state("a1")[0] == "on-contact"  # ... that nothing disconnected a1
