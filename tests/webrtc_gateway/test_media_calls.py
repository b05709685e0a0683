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
    """The test tones a peer hears now: the last ``seconds`` of what came after forgetting what came before, and
    after 0.2 s more (what was in flight at the change)."""
    await calls.thread.call(peer.forget())  # type: ignore[attr-defined]
    pcm = await calls.thread.call(peer.heard(seconds + 0.2))  # type: ignore[attr-defined]
    if len(pcm) < (seconds + 0.2) * 48000 / 2:
        return set()
    pcm = pcm[-int(seconds * 48000):]
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


async def test_a_recording_holds_both_sides(calls: Calls, pool: MediaPool, tmp_path: object) -> None:
    import wave

    import numpy as np

    path = f"{tmp_path}/rec/k1.wav"
    caller, _ = await calls.leg("c1", CALLER_HZ)
    agent, _ = await calls.leg("a1", AGENT_HZ, role="agent")
    assert await pool.request({"t": "bridge", "bridge": "k1", "a": "c1", "b": "a1", "record": path}) == \
        {"passthrough": True}  # recording decodes, the legs still get the packets as they came
    assert await hears(calls, caller) == {AGENT_HZ}
    await pool.request({"t": "record.stop", "bridge": "k1"})
    done = await next_event(pool, "record.done", bridge="k1")
    assert done["path"] == path and 0.3 < done["seconds"] < 5
    with wave.open(path) as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (2, 16000, 2)
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16).reshape(-1, 2)
    left, right = frames[len(frames) // 4:, 0], frames[len(frames) // 4:, 1]
    assert levels(left, TONES, 16000)[CALLER_HZ] > 0.5 and levels(right, TONES, 16000)[AGENT_HZ] > 0.5
    stats = (await pool.request({"t": "stats"}))["workers"][0]
    assert stats["decoders"] == 2 and stats["encoders"] == 0


async def test_supervision_listen_whisper_barge(calls: Calls, pool: MediaPool) -> None:
    caller, _ = await calls.leg("c1", CALLER_HZ)
    agent, _ = await calls.leg("a1", AGENT_HZ, role="agent")
    supervisor, _ = await calls.leg("s1", SUPERVISOR_HZ, role="supervisor")
    await pool.request({"t": "bridge", "bridge": "k1", "a": "c1", "b": "a1"})
    expected = {
        "listen": ({AGENT_HZ}, {CALLER_HZ}, {CALLER_HZ, AGENT_HZ}),
        "whisper": ({AGENT_HZ}, {CALLER_HZ, SUPERVISOR_HZ}, {CALLER_HZ, AGENT_HZ}),
        "barge": ({AGENT_HZ, SUPERVISOR_HZ}, {CALLER_HZ, SUPERVISOR_HZ}, {CALLER_HZ, AGENT_HZ}),
    }
    for mode, (by_caller, by_agent, by_supervisor) in expected.items():
        await pool.request({"t": "supervise", "bridge": "k1", "leg": "s1", "mode": mode})
        assert await hears(calls, caller) == by_caller, mode
        assert await hears(calls, agent) == by_agent, mode
        assert await hears(calls, supervisor) == by_supervisor, mode
    await pool.request({"t": "unsupervise", "bridge": "k1", "leg": "s1"})
    assert await hears(calls, caller) == {AGENT_HZ}
    assert await hears(calls, supervisor) == set()


async def test_key_presses_as_telephone_events_and_in_band(calls: Calls, pool: MediaPool) -> None:
    caller, _ = await calls.leg("c1")
    await calls.thread.call(caller.send_keys("1#9"))
    for digit in "1#9":
        event = await next_event(pool, "dtmf", leg="c1")
        assert (event["digit"], event["source"]) == (digit, "rfc4733")
        assert event["duration_ms"] == 120
    await pool.request({"t": "dtmf.detect", "leg": "c1", "inband": True})
    await calls.thread.call(caller.play_keys("42*"))
    for digit in "42*":
        event = await next_event(pool, "dtmf", leg="c1")
        assert (event["digit"], event["source"]) == (digit, "inband")


async def test_a_leg_whose_media_stops_is_reported(calls: Calls, pool: MediaPool) -> None:
    caller, _ = await calls.leg("c1", CALLER_HZ, media_timeout=0.6)
    await calls.thread.call(caller.mute())
    event = await next_event(pool, "leg.media_lost", leg="c1", timeout=5)
    assert event["silent_s"] >= 0.6


def write_tone(path: str, hz: float, seconds: float, rate: int = 8000) -> None:
    import wave

    import numpy as np

    t = np.arange(int(rate * seconds)) / rate
    with wave.open(path, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes((12000 * np.sin(2 * np.pi * hz * t)).astype(np.int16).tobytes())


async def test_a_play_holds_the_bridge_to_that_leg_until_done(calls: Calls, pool: MediaPool, tmp_path: object
                                                              ) -> None:
    prompt, music = f"{tmp_path}/prompt.wav", f"{tmp_path}/music.wav"
    write_tone(prompt, SUPERVISOR_HZ, 1.2)
    write_tone(music, SUPERVISOR_HZ, 0.3)
    caller, _ = await calls.leg("c1", CALLER_HZ)
    agent, _ = await calls.leg("a1", AGENT_HZ, role="agent")
    await pool.request({"t": "bridge", "bridge": "k1", "a": "c1", "b": "a1"})
    assert await pool.request({"t": "play", "leg": "c1", "media": prompt, "play": "p1"}) == {"seconds": 1.2}
    assert await hears(calls, caller, 0.3) == {SUPERVISOR_HZ}
    assert await hears(calls, agent, 0.3) == {CALLER_HZ}  # the other way is not held
    done = await next_event(pool, "play.done", leg="c1")
    assert (done["play"], done["stopped"]) == ("p1", False)
    assert await hears(calls, caller) == {AGENT_HZ}

    await pool.request({"t": "play", "leg": "c1", "media": music, "play": "p2", "loop": True})
    assert await hears(calls, caller, 0.8) == {SUPERVISOR_HZ}  # longer than the file: it loops
    await pool.request({"t": "stop", "leg": "c1", "play": "p2"})
    done = await next_event(pool, "play.done", leg="c1")
    assert (done["play"], done["stopped"]) == ("p2", True)
    with pytest.raises(MediaError, match="cannot open"):
        await pool.request({"t": "play", "leg": "c1", "media": f"{tmp_path}/missing.wav", "play": "p3"})
    stats = (await pool.request({"t": "stats"}))["workers"][0]
    assert stats["decoders"] == 0 and stats["encoders"] == 2  # each file encoded once, nothing decoded


async def test_an_outbound_leg_and_a_reconnecting_browser(calls: Calls, pool: MediaPool) -> None:
    """leg.create_offer / leg.answer (the gateway calls a web caller), then leg.renegotiate: the agent's browser
    comes back with a new connection and its bridge carries on."""
    agent, _ = await calls.leg("a1", AGENT_HZ, role="agent")
    caller = await calls.peer(CALLER_HZ)
    offer = await pool.request({"t": "leg.create_offer", "leg": "c1", "role": "caller", "ice": {"loopback": True}})
    assert "UDP/TLS/RTP/SAVPF" in offer["sdp"] and "RTP/AVP " not in offer["sdp"]
    answer = await calls.thread.call(caller.answer(offer["sdp"]))
    assert await pool.request({"t": "leg.answer", "leg": "c1", "sdp": answer}) == {"codec": "opus"}
    await calls.thread.call(caller.connected())
    await pool.request({"t": "bridge", "bridge": "k1", "a": "c1", "b": "a1"})
    assert await hears(calls, caller) == {AGENT_HZ}

    again = await calls.peer(SUPERVISOR_HZ)  # the agent's page, reloaded: a new peer connection, another voice
    renegotiated = await pool.request({"t": "leg.renegotiate", "leg": "a1",
                                       "sdp": await calls.thread.call(again.offer())})
    await calls.thread.call(again.accept(renegotiated["sdp"]))
    await calls.thread.call(again.connected())
    assert await hears(calls, caller) == {SUPERVISOR_HZ}
    assert await hears(calls, again) == {CALLER_HZ}
    with pytest.raises(MediaError, match="no offer of ours"):
        await pool.request({"t": "leg.answer", "leg": "c1", "sdp": answer})
