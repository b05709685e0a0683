"""Signalling frames: every kind of bad input is named by its code, before anything acts on it."""

from __future__ import annotations

import json

import pytest

from webrtc_gateway.frames import (
    AGENT_FRAMES,
    CALLER_FRAMES,
    MAX_CANDIDATES,
    MAX_FRAME,
    CandidateBudget,
    FrameError,
    check_sdp,
    parse,
)

SDP = ("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
       "c=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdef012345\r\n"
       "a=fingerprint:sha-256 00:11\r\na=setup:actpass\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n")


def test_well_formed_frames_parse() -> None:
    assert parse(json.dumps({"type": "offer", "sdp": SDP}), AGENT_FRAMES)["sdp"] == SDP
    assert parse(json.dumps({"type": "transfer", "contact_id": "c1", "to_queue": "sales", "extra": 1}),
                 AGENT_FRAMES)["to_queue"] == "sales"
    assert parse(json.dumps({"type": "register", "address": "ada@example.com"}), CALLER_FRAMES)
    assert parse(json.dumps({"type": "hangup"}).encode(), CALLER_FRAMES) == {"type": "hangup"}


@pytest.mark.parametrize(("text", "code", "reason"), [
    ("{not json", "bad-frame", "not JSON"),
    ("[1, 2]", "bad-frame", "JSON object"),
    ('{"sdp": "x"}', "bad-frame", "missing 'type'"),
    ('{"type": "dance"}', "unknown-type", "unknown type 'dance'"),
    ('{"type": "accept"}', "bad-frame", "missing field 'contact_id'"),
    ('{"type": "accept", "contact_id": 7}', "bad-frame", "wrong type"),
    ('{"type": "accept", "contact_id": "  "}', "bad-frame", "empty"),
    ('{"type": "preview", "contact_id": "c", "dial": 1}', "bad-frame", "wrong type"),
    ('{"type": "candidate", "sdpMLineIndex": true}', "bad-frame", "wrong type"),
    ('{"type": "offer", "sdp": "hello"}', "bad-sdp", "v=0"),
    ('{"type": "accept", "contact_id": "' + "x" * 200 + '"}', "bad-frame", "longer than"),
    ("[" * 100_000 + "]" * 100_000, "too-large", "larger than"),
    ("[" * 30_000 + "]" * 30_000, "bad-frame", "not JSON"),  # deep nesting: refused, never a crash
])
def test_bad_frames_are_named(text: str, code: str, reason: str) -> None:
    with pytest.raises(FrameError) as bad:
        parse(text, AGENT_FRAMES)
    assert bad.value.code == code and reason in str(bad.value)


def test_the_size_limit_counts_bytes_not_characters() -> None:
    frame = json.dumps({"type": "hangup", "pad": "é" * (MAX_FRAME // 2)}, ensure_ascii=False)
    assert len(frame) < MAX_FRAME < len(frame.encode())
    with pytest.raises(FrameError) as bad:
        parse(frame, CALLER_FRAMES)
    assert bad.value.code == "too-large"


@pytest.mark.parametrize(("sdp", "reason"), [
    ("", "v=0"),
    ("v=0\r\nthis is not sdp\r\n", "line 2"),
    (SDP.replace("m=audio", "m=video"), "no audio section"),
    (SDP.replace("a=fingerprint:sha-256 00:11\r\n", ""), "fingerprint"),
    (SDP.replace("a=ice-ufrag:abcd\r\n", ""), "ice-ufrag"),
])
def test_malformed_sdp_is_refused(sdp: str, reason: str) -> None:
    with pytest.raises(FrameError) as bad:
        check_sdp(sdp)
    assert bad.value.code == "bad-sdp" and reason in str(bad.value)


def test_a_flood_of_candidates_is_refused_past_the_budget_and_an_offer_renews_it() -> None:
    budget = CandidateBudget()
    for _ in range(MAX_CANDIDATES):
        budget.spend()
    with pytest.raises(FrameError) as flood:
        budget.spend()
    assert flood.value.code == "flood"
    budget.reset()
    budget.spend()
    assert budget.count == 1
    crowded = SDP + "".join(f"a=candidate:{i} 1 udp 1 127.0.0.1 {5000 + i} typ host\r\n"
                            for i in range(MAX_CANDIDATES + 1))
    with pytest.raises(FrameError) as flood:
        check_sdp(crowded)
    assert flood.value.code == "flood"


def test_a_register_address_is_a_plain_name() -> None:
    with pytest.raises(FrameError):
        parse(json.dumps({"type": "register", "address": "a b"}), CALLER_FRAMES)
