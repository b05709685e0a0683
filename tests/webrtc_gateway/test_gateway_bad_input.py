"""Bad input on every socket: each kind answered with its error code and a closed socket, while a live call
beside it goes on and the gateway keeps serving."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import trio

from tests.admin_api.wsclient import WsClient
from tests.webrtc_gateway.peers import AsyncioThread
from tests.webrtc_gateway.server import AGENT_HZ, CALLER_HZ, TIMEOUT_S, Gw, running_gateway
from tests.webrtc_gateway.test_frames import SDP
from webrtc_gateway.frames import MAX_CANDIDATES, MAX_FRAME

CANDIDATE = {"type": "candidate", "candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host",
             "sdpMid": "0", "sdpMLineIndex": 0}


async def _refused(ws: WsClient, frames: list[Any]) -> tuple[dict[str, Any], str]:
    """Send ``frames`` (dicts as JSON, strings as they are); the error frame and how the socket was closed."""
    for frame in frames:
        await ws.send_text(frame if isinstance(frame, str) else json.dumps(frame))
    while True:
        try:
            answer = await ws.receive()
        except ConnectionError as closed:
            raise AssertionError(f"closed without an error frame: {closed}") from None
        if answer["type"] == "error":
            break
    try:
        extra = await ws.receive()
        raise AssertionError(f"a frame after the refusal: {extra}")
    except ConnectionError as closed:
        return answer, str(closed)


async def _caller_socket(gw: Gw) -> WsClient:
    ws = await gw.socket("/webrtc/ws/caller")
    await ws.expect("hello")
    return ws


async def test_bad_input_closes_the_sender_only(tmp_path: Path, peers: AsyncioThread) -> None:
    async with running_gateway(tmp_path, peers) as gw:
        with trio.fail_after(TIMEOUT_S):
            agent_ws, agent, _ = await gw.agent("a1", AGENT_HZ)
            _, caller, contact = await gw.connect_call(agent_ws, CALLER_HZ)
            await gw.until_hears(caller, {AGENT_HZ})
            cases: list[tuple[list[Any], str]] = [
                (['{"type": "call", "sdp": '], "bad-frame"),
                ([{"type": "teleport", "to": "mars"}], "unknown-type"),
                ([{"type": "hangup", "pad": "x" * (MAX_FRAME + 1)}], "too-large"),
                ([{"type": "call", "sdp": "v=0\r\nnot sdp at all\r\n"}], "bad-sdp"),
                ([{"type": "call", "sdp": SDP.replace("m=audio", "m=video")}], "bad-sdp"),
                ([{"type": "call", "sdp": SDP}], "bad-sdp"),  # well formed to us, refused by the media worker
                ([CANDIDATE] * (MAX_CANDIDATES + 1), "flood"),
            ]
            for frames, code in cases:
                answer, closed = await _refused(await _caller_socket(gw), frames)
                assert answer["code"] == code, (code, answer)
                assert "4400" in closed, closed
            abuser = agent_ws  # the agent's own socket: bad input drops it too, and its session's grace starts
            answer, closed = await _refused(abuser, [{"type": "offer", "sdp": "nonsense"}])
            assert answer["code"] == "bad-sdp" and "4400" in closed
            await gw.until_hears(caller, {AGENT_HZ})  # the call goes on (its line and bridge are untouched)
            await gw.until_hears(agent, {CALLER_HZ})
            fine = await _caller_socket(gw)  # and the gateway serves the next caller
            await fine.send({"type": "register", "address": "still-here"})
            assert (await fine.expect("registered"))["address"] == "still-here"
        assert gw.runtime.acd.contacts[contact].state == "connected"
        assert gw.gateway.running and gw.gateway.lanes is not None and gw.gateway.lanes.failures == 0


async def test_staff_sockets_refuse_a_first_frame_that_is_not_theirs(tmp_path: Path, peers: AsyncioThread) -> None:
    async with running_gateway(tmp_path, peers) as gw:
        with trio.fail_after(TIMEOUT_S):
            ws = await gw.staff("/webrtc/ws/agent/a1", "a1")
            answer, closed = await _refused(ws, [{"type": "hold", "contact_id": "x"}])
            assert answer["code"] == "bad-frame" and "session" in answer["reason"] and "4400" in closed
            ws = await gw.staff("/webrtc/ws/agent/nobody", "admin")
            answer, _ = await _refused(ws, [])
            assert answer["code"] == "unknown"
            ws = await gw.staff("/webrtc/ws/supervisor", "supervisor", "hello")
            answer, closed = await _refused(ws, [{"type": "supervise", "agent_id": "a1", "mode": "listen",
                                                  "sdp": "v=0"}])
            assert answer["code"] == "bad-sdp" and "4400" in closed
