"""Calls through real media workers: aiortc peers on loopback, legs, bridges, and what each side hears."""

from __future__ import annotations

import re

import pytest

from tests.webrtc_gateway.conftest import Calls, next_event
from tests.webrtc_gateway.peers import levels
from webrtc_gateway.pool import MediaError, MediaPool

CALLER_HZ, AGENT_HZ, SUPERVISOR_HZ = 440.0, 1000.0, 1700.0
TONES = (CALLER_HZ, AGENT_HZ, SUPERVISOR_HZ)
HEARD = 0.2  # a tone's share of the power for it to count as heard
SILENT = 0.01


async def hears(calls: Calls, peer: object, seconds: float = 0.4) -> set[float]:
    """The test tones a peer hears now (after forgetting what came before)."""
    await calls.thread.call(peer.forget())  # type: ignore[attr-defined]
    pcm = await calls.thread.call(peer.heard(seconds))  # type: ignore[attr-defined]
    if len(pcm) < seconds * 48000 / 2:
        return set()
    share = levels(pcm, TONES)
    assert all(v > HEARD or v < SILENT for v in share.values()), share
    return {f for f, v in share.items() if v > HEARD}


async def test_a_bridge_forwards_encoded_audio_both_ways_without_decoding(calls: Calls, pool: MediaPool) -> None:
    caller, answer = await calls.leg("c1", CALLER_HZ)
    agent, _ = await calls.leg("a1", AGENT_HZ, role="agent")
    media = [line for line in answer["sdp"].splitlines() if line.startswith("m=")]
    assert media and all(line.split()[2] == "UDP/TLS/RTP/SAVPF" for line in media)
    assert "a=fingerprint:" in answer["sdp"]
    codecs = {m.lower() for m in re.findall(r"a=rtpmap:\d+ ([\w-]+)/", answer["sdp"])}
    assert codecs == {"opus", "pcmu", "telephone-event"}
    assert answer["codec"] == "opus"

    assert await pool.request({"t": "bridge", "bridge": "k1", "a": "c1", "b": "a1"}) == {"passthrough": True}
    assert await hears(calls, caller) == {AGENT_HZ}
    assert await hears(calls, agent) == {CALLER_HZ}
    stats = (await pool.request({"t": "stats"}))["workers"][0]
    assert stats["decoders"] == 0 and stats["encoders"] == 0
    assert stats["per_leg"]["c1"]["packets_in"] > 10 and stats["per_leg"]["a1"]["packets_out"] > 10

    await pool.request({"t": "unbridge", "bridge": "k1"})
    assert await hears(calls, caller) == set()
    await pool.request({"t": "leg.close", "leg": "c1"})
    await next_event(pool, "leg.state", leg="c1", state="closed")
    with pytest.raises(MediaError, match="unknown leg c1"):
        await pool.request({"t": "leg.close", "leg": "c1"})


async def test_legs_in_different_codecs_are_bridged_through_decoding(calls: Calls, pool: MediaPool) -> None:
    caller, answer = await calls.leg("c1", CALLER_HZ, codecs=("PCMU",))
    agent, _ = await calls.leg("a1", AGENT_HZ, role="agent")
    assert answer["codec"] == "PCMU"
    assert await pool.request({"t": "bridge", "bridge": "k1", "a": "c1", "b": "a1"}) == {"passthrough": False}
    assert await hears(calls, caller) == {AGENT_HZ}
    assert await hears(calls, agent) == {CALLER_HZ}
