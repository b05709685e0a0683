"""Calls through the whole gateway: aiortc peers as the caller's and the agent's browsers, the signalling
sockets, the IVR (RFC 4733 key presses), the queue, the bridge, hang-up, wrap-up and the CDR with its recording."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest
import trio

from tests.webrtc_gateway.peers import AsyncioThread
from tests.webrtc_gateway.server import AGENT_HZ, CALLER_HZ, TIMEOUT_S, running_gateway


async def test_a_web_caller_goes_through_the_ivr_to_an_agent_and_the_cdr_names_the_recording(
        tmp_path: Path, peers: AsyncioThread, caplog: pytest.LogCaptureFixture) -> None:
    async with running_gateway(tmp_path, peers) as gw:
        # The test menu's prompt has no recording (the shipped one is main-menu-en): the start says so.
        assert "IVR prompts with no recording in their language: main-menu (en)" in caplog.text
        with trio.fail_after(TIMEOUT_S):
            agent_ws, agent, _ = await gw.agent("a1", AGENT_HZ)
            caller_ws, caller, contact = await gw.caller(CALLER_HZ, caller="+15550100")
            await trio.sleep(0.3)  # the menu's prompt starts
            await gw.thread.call(caller.send_keys("1"))  # RFC 4733, as a browser's RTCDTMFSender
            offer = await agent_ws.next("offer-contact")
            assert offer["contact_id"] == contact and offer["queue"] == "support"
            assert offer["ivr_path"] == ["main"] and offer["ivr_digits"] == ["1"]
            await agent_ws.send({"type": "accept", "contact_id": contact})
            await agent_ws.next("connected", contact_id=contact)
            await gw.until_hears(caller, {AGENT_HZ})
            await gw.until_hears(agent, {CALLER_HZ})
            await trio.sleep(0.5)  # a little conversation to record
            await agent_ws.send({"type": "hangup", "contact_id": contact})
            assert (await agent_ws.next("ended", contact_id=contact))["reason"] == "agent-hangup"
            assert (await caller_ws.next("ended"))["reason"] == "agent-hangup"
            await agent_ws.send({"type": "wrap-up", "contact_id": contact, "disposition": "resolved",
                                 "notes": "fine"})
            await agent_ws.next("ack", of="wrap-up")
            while (cdr := gw.store.cdr(contact)) is None or "recording" not in cdr.data:
                await trio.sleep(0.05)
        assert cdr.disposition == "resolved" and cdr.channel == "voice" and cdr.data["source"] == "webrtc"
        path = Path(cdr.data["recording"])
        assert path.parent == tmp_path / "recordings" and path.name == f"{contact}.wav"
        with trio.fail_after(TIMEOUT_S):
            while not path.exists() or path.stat().st_size < 1000:  # closed when the bridge ends
                await trio.sleep(0.05)
        with wave.open(str(path), "rb") as recording:
            assert recording.getnframes() / recording.getframerate() > 0.4
