"""Bad input to the media plane: refused with a reason, never a crash of the worker or of other calls."""

from __future__ import annotations

import struct

import msgpack
import pytest
import trio

from tests.webrtc_gateway.conftest import Calls
from tests.webrtc_gateway.test_media_calls import AGENT_HZ, CALLER_HZ, hears
from webrtc_gateway import protocol
from webrtc_gateway.pool import MediaError, MediaPool

GOOD = """v=0
o=- 1 1 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0
m=audio 9 {profile} 0
c=IN IP4 0.0.0.0
a=mid:0
a=rtpmap:0 PCMU/8000
a=rtcp-mux
a=ice-ufrag:abcd
a=ice-pwd:abcdefghijklmnopqrstuvwx
{fingerprint}a=setup:actpass
a=sendrecv
"""
FINGERPRINT = "a=fingerprint:sha-256 " + ":".join(["AB"] * 32) + "\n"


BAD_OFFERS = [
    ("", "empty SDP"),
    ("hello world", "malformed SDP|no audio"),
    ("v=0\r\nm=audio x y\r\n", "malformed SDP|no audio"),
    (GOOD.format(profile="RTP/AVP", fingerprint=FINGERPRINT), "profile RTP/AVP refused"),
    (GOOD.format(profile="UDP/TLS/RTP/SAVPF", fingerprint=""), "no DTLS fingerprint"),
    (GOOD.format(profile="UDP/TLS/RTP/SAVPF", fingerprint=FINGERPRINT).replace("PCMU/8000", "G729/8000")
     .replace("m=audio 9 UDP/TLS/RTP/SAVPF 0", "m=audio 9 UDP/TLS/RTP/SAVPF 18").replace("rtpmap:0", "rtpmap:18"),
     "refused|no common"),
    (GOOD.format(profile="UDP/TLS/RTP/SAVPF", fingerprint=FINGERPRINT).replace("a=ice-ufrag:abcd\n", ""),
     "no ICE credentials"),
    ("v=0\n" + "a=x\n" * 20000, "malformed SDP|no audio"),
    (GOOD.format(profile="UDP/TLS/RTP/SAVPF", fingerprint=FINGERPRINT)
     + "".join(f"a=candidate:{i} 1 udp 1 127.0.0.1 {1000 + i} typ host\n" for i in range(51)), "51 ICE candidates"),
]


async def test_bad_offers_are_refused_and_other_calls_go_on(calls: Calls, pool: MediaPool) -> None:
    caller, _ = await calls.leg("c1", CALLER_HZ)
    await calls.leg("a1", AGENT_HZ, role="agent")
    await pool.request({"t": "bridge", "bridge": "k1", "a": "c1", "b": "a1"})
    for sdp, reason in BAD_OFFERS:
        with pytest.raises(MediaError, match=reason):
            await pool.request({"t": "leg.offer", "leg": "bad", "sdp": sdp, "role": "caller",
                                "ice": {"loopback": True}})
    assert await hears(calls, caller) == {AGENT_HZ}
    assert (await pool.request({"t": "stats"}))["legs"] == 2


async def test_garbage_control_frames_are_answered_with_errors(pool: MediaPool, caplog: pytest.LogCaptureFixture
                                                                ) -> None:
    """Frames written straight to a worker's control socket, past the pool's checks."""
    worker = pool._workers[0]
    assert worker is not None
    frames = [
        struct.pack(">I", 3) + b"\xc1\xc1\xc1",  # undecodable
        protocol._LENGTH.pack(6) + msgpack.packb([1, 2, 3, 4, 5]),  # not a map
        *(protocol._LENGTH.pack(len(b)) + b for b in (
            msgpack.packb({"t": "dance", "rid": 9001}),  # unknown type
            msgpack.packb({"t": "leg.close", "rid": 9002}),  # missing field
            msgpack.packb({"t": "ok", "rid": 9003}),  # an event, sent the wrong way
        )),
    ]
    for frame in frames:
        async with worker.send_lock:
            await worker.stream.send_all(frame)
    # the worker still answers, and answered each of them (the pool logs answers nobody waits for)
    with trio.fail_after(5):
        assert (await pool.request({"t": "stats"}))["legs"] == 0
    assert pool.pids() == [worker.pid]
    reasons = [r.getMessage() for r in caplog.records if r.name == "webrtc_gateway.pool"]
    for reason in ("undecodable frame", "a message must be a map", "unknown message type 'dance'",
                   "leg.close: missing field 'leg'", "ok is not a command"):
        assert any(reason in r for r in reasons), (reason, reasons)


async def test_commands_on_unknown_things_and_bad_fields_are_refused(pool: MediaPool) -> None:
    for command, reason in [
        ({"t": "leg.close", "leg": "nope"}, "unknown leg nope"),
        ({"t": "unbridge", "bridge": "nope"}, "unknown bridge nope"),
        ({"t": "bridge", "bridge": "k", "a": "x", "b": "y"}, "unknown leg x"),
        ({"t": "supervise", "bridge": "k", "leg": "s", "mode": "shout"}, "unknown bridge|not one of"),
        ({"t": "leg.offer", "leg": "l", "sdp": 5, "role": "caller"}, "wrong type"),
        ({"t": "leg.offer", "leg": "l", "sdp": "v=0", "role": "boss"}, "not one of"),
        ({"t": "shutdown"}, "the pool's own"),
        ({"t": "explode"}, "unknown"),
    ]:
        with pytest.raises(MediaError, match=reason):
            await pool.request(command)
