"""Calls that lose their media end cleanly, never as zombies: a caller whose audio stops, an agent whose line
stops (its grace, then the engine's rule), a media worker that dies mid-call."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import trio

from tests.webrtc_gateway.peers import AsyncioThread
from tests.webrtc_gateway.server import AGENT_HZ, CALLER_HZ, OTHER_HZ, TIMEOUT_S, running_gateway

FAST = {"media_timeout_s": 0.6, "grace_s": 1.0}


async def test_a_caller_whose_media_stops_is_hung_up_and_the_agent_wraps_up(
        tmp_path: Path, peers: AsyncioThread) -> None:
    async with running_gateway(tmp_path, peers, settings=FAST) as gw:
        with trio.fail_after(TIMEOUT_S):
            call = await gw.on_call()
            agent_ws, caller_ws, caller, contact = call.agent_ws, call.caller_ws, call.caller, call.contact
            await gw.thread.call(caller.mute())  # no RTP at all: a browser whose network died
            assert (await agent_ws.next("ended", contact_id=contact))["reason"] == "media-lost"
            assert (await caller_ws.next("ended"))["reason"] == "media-lost"
            while gw.runtime.acd.agent_state("a1")[0] != "wrap-up":
                await trio.sleep(0.05)
            while (await gw.gateway.media.request({"t": "stats"}))["legs"] != 1:  # the agent's line only
                await trio.sleep(0.05)
        assert gw.gateway.calls.caller(contact) is None and contact not in gw.gateway.calls.by_leg.values()


async def test_an_agent_whose_line_stops_loses_the_call_to_the_queue_after_the_grace(
        tmp_path: Path, peers: AsyncioThread) -> None:
    async with running_gateway(tmp_path, peers, settings=FAST) as gw:
        with trio.fail_after(TIMEOUT_S):
            call = await gw.on_call()
            agent_ws, caller, contact = call.agent_ws, call.caller, call.contact
            await gw.thread.call(call.agent.mute())
            await agent_ws.next("line", state="lost")  # the socket is fine, the line is not
            await gw.until_hears(caller, set())  # hold music while the grace runs
            while contact not in gw.runtime.acd.waiting("support"):
                await trio.sleep(0.05)
            assert gw.runtime.acd.agent_state("a1")[1] == "disconnected"
            other_ws, _, _ = await gw.agent("a2", OTHER_HZ)
            await other_ws.next("offer-contact", contact_id=contact)
            await other_ws.send({"type": "accept", "contact_id": contact})
            await gw.until_hears(caller, {OTHER_HZ})


async def test_a_dead_media_worker_ends_its_calls_cleanly_and_agents_get_a_new_line(
        tmp_path: Path, peers: AsyncioThread) -> None:
    async with running_gateway(tmp_path, peers, settings={"grace_s": 10.0}) as gw:
        with trio.fail_after(TIMEOUT_S):
            call = await gw.on_call()
            agent_ws, caller_ws, caller, contact = call.agent_ws, call.caller_ws, call.caller, call.contact
            await gw.until_hears(caller, {AGENT_HZ})
            (pid,) = gw.gateway.media.pids()  # type: ignore[attr-defined]
            os.kill(pid, signal.SIGKILL)
            assert (await caller_ws.next("ended"))["reason"] == "leg-failed"
            assert (await agent_ws.next("ended", contact_id=contact))["reason"] == "leg-failed"
            await agent_ws.next("line", state="lost")
            while gw.runtime.acd.contacts.get(contact) is not None and \
                    gw.runtime.acd.contacts[contact].state == "connected":
                await trio.sleep(0.05)
            await agent_ws.send({"type": "wrap-up", "contact_id": contact, "disposition": "resolved"})
            await agent_ws.next("ack", of="wrap-up")
            while gw.gateway.media.pids() in ([], [pid]):  # type: ignore[attr-defined]
                await trio.sleep(0.05)  # the pool starts a new worker
            line = await gw.line(agent_ws, AGENT_HZ)  # within the grace: a new line, the same session
            _, again, _ = await gw.connect_call(agent_ws, CALLER_HZ)
            await gw.until_hears(again, {AGENT_HZ})
            await gw.until_hears(line, {CALLER_HZ})
        assert gw.runtime.acd.agent_state("a1")[0] == "on-contact"
