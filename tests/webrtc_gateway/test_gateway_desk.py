"""The agent desktop's call controls and the supervisor's, heard through real media: hold (music), mute, blind and
consultative transfer, listen / whisper / barge."""

from __future__ import annotations

from pathlib import Path

import trio

from tests.webrtc_gateway.peers import AsyncioThread
from tests.webrtc_gateway.server import (
    AGENT_HZ,
    CALLER_HZ,
    OTHER_HZ,
    SUPERVISOR_HZ,
    TIMEOUT_S,
    running_gateway,
)


async def test_hold_mute_and_a_consultative_transfer(tmp_path: Path, peers: AsyncioThread) -> None:
    async with running_gateway(tmp_path, peers) as gw:
        with trio.fail_after(TIMEOUT_S):
            a1_ws, a1, _ = await gw.agent("a1", AGENT_HZ)
            caller_ws, caller, contact = await gw.connect_call(a1_ws, CALLER_HZ)
            a2_ws, a2, _ = await gw.agent("a2", OTHER_HZ)
            await gw.until_hears(caller, {AGENT_HZ})
            await a1_ws.send({"type": "hold", "contact_id": contact})
            await a1_ws.next("ack", of="hold")
            await gw.until_hears(caller, set())  # music, not the agent
            await gw.until_hears(a1, set())  # silence, not the caller
            await a1_ws.send({"type": "unhold", "contact_id": contact})
            await gw.until_hears(caller, {AGENT_HZ})
            await gw.until_hears(a1, {CALLER_HZ})
            await a1_ws.send({"type": "mute", "contact_id": contact})
            await gw.until_hears(caller, set())
            assert await gw.hears(a1) == {CALLER_HZ}  # muted, the agent still hears the caller
            await a1_ws.send({"type": "unmute", "contact_id": contact})
            await gw.until_hears(caller, {AGENT_HZ})

            await a1_ws.send({"type": "transfer", "contact_id": contact, "to_agent": "a2", "consult": True})
            asked = await a2_ws.next("consult", contact_id=contact)
            assert asked["from"] == "a1"
            await a2_ws.send({"type": "consult-accept", "contact_id": contact})
            await a1_ws.next("consulting", contact_id=contact)
            await gw.until_hears(a1, {OTHER_HZ})  # the agents talk ...
            await gw.until_hears(a2, {AGENT_HZ})
            assert await gw.hears(caller) == set()  # ... while the caller hears music
            await a1_ws.send({"type": "consult-complete", "contact_id": contact})
            await a1_ws.next("ended", contact_id=contact, reason="transferred")
            await a2_ws.next("offer-contact", contact_id=contact)  # accepted for it: it agreed in the consultation
            await a2_ws.next("connected", contact_id=contact)
            await gw.until_hears(caller, {OTHER_HZ})
            await gw.until_hears(a2, {CALLER_HZ})
            await caller_ws.send({"type": "hangup"})
            assert (await a2_ws.next("ended", contact_id=contact))["reason"] == "caller-hung-up"
        assert gw.runtime.acd.agent_state("a1")[0] == "wrap-up"  # the transferring agent wraps up


async def test_a_blind_transfer_to_a_queue(tmp_path: Path, peers: AsyncioThread) -> None:
    async with running_gateway(tmp_path, peers) as gw:
        with trio.fail_after(TIMEOUT_S):
            a1_ws, _, _ = await gw.agent("a1", AGENT_HZ)
            a3_ws, _, _ = await gw.agent("a3", OTHER_HZ)  # sales
            _, caller, contact = await gw.connect_call(a1_ws, CALLER_HZ)
            await a1_ws.send({"type": "transfer", "contact_id": contact, "to_queue": "sales"})
            await a1_ws.next("ended", contact_id=contact, reason="transferred")
            await a3_ws.next("offer-contact", contact_id=contact)
            await a3_ws.send({"type": "accept", "contact_id": contact})
            await a3_ws.next("connected", contact_id=contact)
            await gw.until_hears(caller, {OTHER_HZ})


async def test_a_supervisor_listens_whispers_and_barges_on_a_call_of_its_team(
        tmp_path: Path, peers: AsyncioThread) -> None:
    async with running_gateway(tmp_path, peers) as gw:
        with trio.fail_after(TIMEOUT_S):
            call = await gw.on_call()
            agent_ws, agent, caller, contact = call.agent_ws, call.agent, call.caller, call.contact
            # west does not supervise a1 (east)
            outsider = await gw.staff("/webrtc/ws/supervisor", "west-supervisor", "hello")
            probe = await gw.peer(SUPERVISOR_HZ)
            await outsider.send({"type": "supervise", "agent_id": "a1", "mode": "listen",
                                 "sdp": await gw.thread.call(probe.offer())})
            assert (await outsider.expect("error"))["code"] == "forbidden"

            ws = await gw.staff("/webrtc/ws/supervisor", "supervisor", "hello")
            supervisor = await gw.peer(SUPERVISOR_HZ)
            await ws.send({"type": "supervise", "agent_id": "a1", "mode": "listen",
                           "sdp": await gw.thread.call(supervisor.offer())})
            answer = await ws.expect("answer")
            assert answer["contact_id"] == contact
            await gw.thread.call(supervisor.accept(answer["sdp"]))
            await gw.thread.call(supervisor.connected())
            await gw.until_hears(supervisor, {CALLER_HZ, AGENT_HZ})
            assert await gw.hears(agent) == {CALLER_HZ} and await gw.hears(caller) == {AGENT_HZ}
            await ws.send({"type": "mode", "mode": "whisper"})
            await ws.next("ack", of="mode")
            assert (await agent_ws.next("supervisor"))["mode"] == "whisper"
            await gw.until_hears(agent, {CALLER_HZ, SUPERVISOR_HZ})
            assert await gw.hears(caller) == {AGENT_HZ}  # the caller does not hear a whisper
            await ws.send({"type": "mode", "mode": "barge"})
            await gw.until_hears(caller, {AGENT_HZ, SUPERVISOR_HZ})
            await ws.send({"type": "stop"})
            await ws.next("ack", of="stop")
            await gw.until_hears(caller, {AGENT_HZ})
