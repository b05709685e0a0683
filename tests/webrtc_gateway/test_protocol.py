"""The media control protocol: framing and checking, both ways."""

from __future__ import annotations

import msgpack
import pytest

from webrtc_gateway.protocol import MAX_FRAME, Decoder, ProtocolError, check, encode


def test_messages_round_trip_in_any_chunking() -> None:
    messages = [{"t": "hello", "rid": 1, "version": 1},
                {"t": "leg.offer", "rid": 2, "leg": "l1", "sdp": "v=0...", "role": "caller", "ice": {}},
                {"t": "ok", "rid": 2, "sdp": "v=0 answer"},
                {"t": "dtmf", "leg": "l1", "digit": "#", "source": "rfc4733", "duration_ms": 120}]
    wire = b"".join(encode(m) for m in messages)
    for size in (1, 3, 7, len(wire)):
        decoder = Decoder()
        got = []
        for i in range(0, len(wire), size):
            got += decoder.feed(wire[i:i + size])
        assert got == messages and decoder.pending == 0


@pytest.mark.parametrize(("message", "reason"), [
    ([1, 2], "must be a map"),
    ({"t": "dance"}, "unknown message type 'dance'"),
    ({"t": "leg.close", "leg": "l1"}, "integer rid"),
    ({"t": "leg.close", "rid": 1}, "missing field 'leg'"),
    ({"t": "leg.close", "rid": 1, "leg": 5}, "leg.close.leg: wrong type int"),
    ({"t": "supervise", "rid": 1, "bridge": "b", "leg": "s", "mode": "shout"}, "not one of"),
    ({"t": "dtmf", "leg": "l", "digit": "X", "source": "inband"}, "dtmf.digit"),
    ({"t": "record.done", "bridge": "b", "path": "/x", "seconds": True}, "wrong type bool"),
])
def test_bad_messages_are_refused_with_a_reason(message: object, reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason):
        check(message)
    with pytest.raises(ProtocolError):
        encode(message)  # type: ignore[arg-type]


def test_bad_frames_are_refused() -> None:
    with pytest.raises(ProtocolError, match="larger than"):
        Decoder().feed((MAX_FRAME + 1).to_bytes(4, "big"))
    with pytest.raises(ProtocolError, match="undecodable"):
        Decoder().feed((1).to_bytes(4, "big") + b"\xc1")
    body = msgpack.packb({"t": "stats"})  # a command without rid
    with pytest.raises(ProtocolError, match="rid"):
        Decoder().feed(len(body).to_bytes(4, "big") + body)
    with pytest.raises(ProtocolError, match="larger than"):
        encode({"t": "leg.answer", "rid": 1, "leg": "l", "sdp": "x" * MAX_FRAME})
