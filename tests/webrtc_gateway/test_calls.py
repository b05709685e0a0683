"""The gateway's calls, sans-IO: engine actions, media events and agents' requests in, effects out."""

from __future__ import annotations

from typing import Any

import pytest

from engine.dialer_events import CallAnswered, CalleeHungUp, CallFailed, PlayMessage
from engine.events import (
    AgentNotReady,
    AgentReady,
    Bridge,
    CallbackRequested,
    CancelOffer,
    CustomerHungUp,
    HangUp,
    OfferAccepted,
    OfferCallback,
    OfferContact,
    PlayAnnouncement,
    PlayPrompt,
    TransferRequested,
    Unbridge,
)
from engine.ivr_events import CallerLeft, IvrPlay
from engine.survey import StartSurvey, SurveyAnswered
from webrtc_gateway.calls import GOODBYE_MAX_S, CallError, Calls, Digits, Media, Ring, Send, Submit
from webrtc_gateway.protocol import check


class FakePrompts:
    music = "music.wav"
    silence = "silence.wav"

    def prompt(self, name: str, language: str = "") -> str:
        return f"{name}-{language}.wav" if language else f"{name}.wav"

    def announcement(self, position: int, wait_s: float) -> str:
        return f"ann-{position}-{round(wait_s / 60)}.wav"


def media(effects: list[Any]) -> list[dict[str, Any]]:
    cmds = [e.cmd for e in effects if isinstance(e, Media)]
    for cmd in cmds:  # every command is one the media protocol accepts
        check({**cmd, "rid": 1})
    return cmds


def sent(effects: list[Any], to: tuple[str, str] | None = None) -> list[dict[str, Any]]:
    return [e.frame for e in effects if isinstance(e, Send) and (to is None or e.to == to)]


def events(effects: list[Any]) -> list[Any]:
    return [e.event for e in effects if isinstance(e, Submit)]


def plays(effects: list[Any], leg: str) -> list[str]:
    return [c["media"] for c in media(effects) if c["t"] == "play" and c["leg"] == leg]


def _calls(surveyed: bool = False) -> Calls:
    return Calls(FakePrompts(), record_path=lambda cid, n: f"/rec/{cid}{'' if n == 1 else f'-{n}'}.wav",
                 surveyed=lambda queue: surveyed)


def _offer(agent: str = "a1", contact: str = "c1", **kw: Any) -> OfferContact:
    return OfferContact(agent, contact, "voice", "support", 100.0, "+1555", {"ivr": {"path": ["main"],
                                                                                     "digits": ["2"]}}, **kw)


def _connected(calls: Calls, agent: str = "a1", line_leg: str = "L1") -> list[Any]:
    calls.add_caller("c1", "C1", inbound=True, phase="queued", customer="+1555")
    calls.line_leg(agent, line_leg)
    calls.line_state(agent, True)
    calls.routed("c1", "support", 1.0)
    calls.offer(_offer(agent), 2.0)
    return calls.bridge(Bridge("c1", agent), 3.0) or []


def test_an_inbound_caller_hears_the_ivr_then_music_then_the_agent_and_is_recorded() -> None:
    calls = _calls()
    calls.add_caller("c1", "C1", inbound=True, phase="ivr", customer="+1555",
                     screen_pop={"customer": {"id": "k1"}, "history": [], "tickets": []})
    prompt = calls.play(IvrPlay("c1", "voice", "choose-language", "en"), 0.0) or []
    assert plays(prompt, "C1") == ["choose-language-en.wav"]
    assert calls.collect("c1", 1) is None  # nothing typed ahead: wait
    pressed = calls.media_event({"t": "dtmf", "leg": "C1", "digit": "2", "source": "rfc4733"}, 0.5)
    assert Digits("c1") in pressed
    assert media(pressed) == [{"t": "stop", "leg": "C1", "play": media(prompt)[0]["play"]}]  # barge-in
    assert calls.collected("c1") == "2"
    waiting = calls.routed("c1", "support", 1.0)
    assert plays(waiting, "C1") == ["music.wav"] and media(waiting)[0]["loop"] is True
    calls.line_leg("a1", "L1")
    calls.line_state("a1", True)
    offered = calls.offer(_offer(), 2.0) or []
    (ring,) = sent(offered, ("agent", "a1"))
    assert ring["type"] == "offer-contact" and ring["ivr_path"] == ["main"] and ring["ivr_digits"] == ["2"]
    assert ring["screen_pop"]["customer"] == {"id": "k1"}
    bridged = calls.bridge(Bridge("c1", "a1"), 3.0) or []
    cmds = media(bridged)
    assert {"t": "bridge", "bridge": cmds[0]["bridge"], "a": "C1", "b": "L1", "record": "/rec/c1.wav"} == cmds[0]
    assert cmds[1]["t"] == "stop"  # the music stops: the caller hears the agent
    assert sent(bridged, ("agent", "a1")) == [{"type": "connected", "contact_id": "c1"}]
    assert calls.call_of("a1") == {"contact_id": "c1", "queue": "support", "customer": "+1555", "held": False,
                                   "muted": False, "consulting": None}
    ended = calls.hang_up(HangUp("c1", "agent-hangup"), 60.0) or []
    assert [c["t"] for c in media(ended)] == ["unbridge", "leg.close"]
    assert sent(ended, ("agent", "a1"))[0] == {"type": "ended", "contact_id": "c1", "reason": "agent-hangup"}
    assert calls.caller("c1") is None and calls.call_of("a1") is None
    assert calls.contact_ended("c1") == {"source": "webrtc", "recording": "/rec/c1.wav",
                                        "recordings": ["/rec/c1.wav"]}
    assert calls.contact_ended("c1") is None  # forgotten


def test_digits_typed_ahead_are_collected_at_once() -> None:
    calls = _calls()
    calls.add_caller("c1", "C1", inbound=True, phase="ivr")
    for digit in "12":
        calls.media_event({"t": "dtmf", "leg": "C1", "digit": digit, "source": "rfc4733"}, 0.0)
    assert calls.collect("c1", 1) == "1" and calls.collect("c1", 3) is None
    assert calls.collected("c1") == "2"


def test_announcements_and_prompts_interrupt_the_music_and_the_music_comes_back() -> None:
    calls = _calls()
    calls.add_caller("c1", "C1", inbound=True, phase="queued")
    music = media(calls.routed("c1", "q", 0.0))[0]["play"]
    announced = calls.play(PlayAnnouncement("c1", 3, 240.0), 30.0) or []
    assert media(announced)[0] == {"t": "stop", "leg": "C1", "play": music}
    assert plays(announced, "C1") == ["ann-3-4.wav"]
    assert sent(announced, ("caller", "c1"))[0]["position"] == 3
    queued = calls.play(PlayPrompt("c1", "hold"), 31.0)
    assert queued == []  # waits for the announcement's end
    play = media(announced)[1]["play"]
    assert calls.media_event({"t": "play.done", "leg": "C1", "play": "stale"}, 32.0) == []
    after = calls.media_event({"t": "play.done", "leg": "C1", "play": play}, 33.0)
    assert plays(after, "C1") == ["hold.wav"]
    again = calls.media_event({"t": "play.done", "leg": "C1", "play": media(after)[0]["play"]}, 34.0)
    assert plays(again, "C1") == ["music.wav"]


def test_a_hang_up_lets_the_last_prompt_finish_or_closes_at_the_latest_after_a_while() -> None:
    calls = _calls()
    calls.add_caller("c1", "C1", inbound=True, phase="queued")
    calls.routed("c1", "q", 0.0)
    prompt = calls.play(PlayPrompt("c1", "closed"), 1.0) or []
    closing = calls.hang_up(HangUp("c1", "closed"), 1.0) or []
    assert not [c for c in media(closing) if c["t"] == "leg.close"]
    assert calls.next_deadline() == 1.0 + GOODBYE_MAX_S
    done = calls.media_event({"t": "play.done", "leg": "C1", "play": media(prompt)[-1]["play"]}, 3.0)
    assert [c["t"] for c in media(done)] == ["leg.close"] and calls.caller("c1") is None
    calls.add_caller("c2", "C2", inbound=True, phase="queued")
    calls.play(PlayPrompt("c2", "closed"), 1.0)
    calls.hang_up(HangUp("c2", "closed"), 1.0)
    assert calls.tick(1.0 + GOODBYE_MAX_S - 0.001) == []
    assert [c["t"] for c in media(calls.tick(1.0 + GOODBYE_MAX_S))] == ["leg.close"]


@pytest.mark.parametrize(("phase", "dialer", "expected"), [
    ("ivr", False, CallerLeft("c1")),
    ("queued", False, CustomerHungUp("c1")),
    ("queued", True, CalleeHungUp("c1")),
    ("ringing", True, CallFailed("c1", "no-answer")),
])
def test_a_caller_who_leaves_is_reported_where_the_contact_is(phase: str, dialer: bool, expected: Any) -> None:
    calls = _calls()
    calls.add_caller("c1", "C1", inbound=not dialer, phase=phase, dialer=dialer)
    gone = calls.caller_gone("c1", "caller-hung-up", 5.0)
    assert events(gone) == [expected]
    assert [e.to for e in gone if isinstance(e, Submit)] == ["ivr" if phase == "ivr" else "engine"]
    assert media(gone)[-1] == {"t": "leg.close", "leg": "C1"} and calls.caller("c1") is None


def test_a_caller_lost_while_connected_ends_the_call_for_the_agent_too() -> None:
    calls = _calls()
    _connected(calls)
    lost = calls.media_event({"t": "leg.media_lost", "leg": "C1", "silent_s": 5.0}, 10.0)
    assert events(lost) == [CustomerHungUp("c1")]
    assert {"type": "ended", "contact_id": "c1", "reason": "media-lost"} in sent(lost, ("agent", "a1"))
    assert [c["t"] for c in media(lost)] == ["unbridge", "leg.close"]
    assert calls.media_event({"t": "leg.state", "leg": "C1", "state": "closed"}, 11.0) == []  # ours: ignored


def test_hold_and_mute_keep_the_bridge_and_change_what_each_side_hears() -> None:
    calls = _calls()
    _connected(calls)
    held = calls.hold("a1", "c1", True)
    assert plays(held, "C1") == ["music.wav"] and plays(held, "L1") == ["silence.wav"]
    assert not [c for c in media(held) if c["t"] in ("unbridge", "bridge")]
    unheld = calls.hold("a1", "c1", False)
    assert sorted(c["leg"] for c in media(unheld) if c["t"] == "stop") == ["C1", "L1"]
    muted = calls.mute("a1", "c1", True)
    assert plays(muted, "C1") == ["silence.wav"]
    assert [c["t"] for c in media(calls.mute("a1", "c1", False))] == ["stop"]


def test_nobody_acts_on_another_agents_call() -> None:
    calls = _calls()
    _connected(calls)
    for attempt in (lambda: calls.hold("a2", "c1", True), lambda: calls.mute("a2", "c1", True),
                    lambda: calls.check_agent("a2", "c1"), lambda: calls.consult_end("a2", "c1", True)):
        with pytest.raises(CallError) as refused:
            attempt()
        assert refused.value.code == "forbidden"
    with pytest.raises(CallError):
        calls.consult_answer("a2", "c1", True)  # no consultation was asked of a2
    calls.check_agent("a2", "chat-77")  # a contact that is not ours: the engine judges it


def test_an_offer_cancelled_puts_the_caller_back_to_waiting() -> None:
    calls = _calls()
    calls.add_caller("c1", "C1", inbound=True, phase="queued")
    calls.routed("c1", "q", 0.0)
    calls.offer(_offer(), 1.0)
    out = calls.cancel_offer(CancelOffer("a1", "c1", "timeout"), 21.0) or []
    assert sent(out) == [{"type": "ended", "contact_id": "c1", "reason": "offer-timeout"}]
    assert calls.caller("c1").phase == "queued"  # type: ignore[union-attr]
    assert calls.offer(_offer(contact="chat-1"), 1.0) is None  # not ours


def test_a_transfer_unbridges_and_the_next_agent_records_a_new_segment() -> None:
    calls = _calls()
    _connected(calls)
    out = calls.unbridge(Unbridge("c1", "a1"), 10.0) or []
    assert [c["t"] for c in media(out)][:1] == ["unbridge"] and plays(out, "C1") == ["music.wav"]
    assert {"type": "ended", "contact_id": "c1", "reason": "transferred"} in sent(out, ("agent", "a1"))
    calls.line_leg("a2", "L2")
    calls.line_state("a2", True)
    calls.offer(_offer("a2"), 11.0)
    bridged = calls.bridge(Bridge("c1", "a2"), 12.0) or []
    assert media(bridged)[0]["record"] == "/rec/c1-2.wav" and media(bridged)[0]["b"] == "L2"
    calls.hang_up(HangUp("c1", "agent-hangup"), 20.0)
    assert calls.contact_ended("c1")["recordings"] == ["/rec/c1.wav", "/rec/c1-2.wav"]  # type: ignore[index]


def test_a_new_line_takes_the_live_call_over() -> None:
    calls = _calls()
    _connected(calls)
    lost = calls.line_state("a1", False)
    assert plays(lost, "C1") == ["music.wav"]  # the caller is not left in silence
    moved = calls.line_leg("a1", "L9")
    kinds = [(c["t"], c.get("leg") or c.get("b")) for c in media(moved)]
    assert kinds[:2] == [("unbridge", None), ("leg.close", "L1")] and ("bridge", "L9") in kinds
    assert calls.by_leg.get("L1") is None and calls.by_leg["L9"] == ("line", "a1")
    up = calls.line_state("a1", True)
    assert [c["t"] for c in media(up)] == ["stop"]  # music off: the agent again


def test_a_consultation_completed_transfers_to_the_consulted_agent_who_takes_it_at_once() -> None:
    calls = _calls()
    _connected(calls)
    calls.line_leg("a2", "L2")
    calls.line_state("a2", True)
    with pytest.raises(CallError):
        calls.consult("a1", "c1", "a2", target_ready=False)
    asked = calls.consult("a1", "c1", "a2", target_ready=True)
    assert [c["t"] for c in media(asked)][0] == "unbridge" and plays(asked, "C1") == ["music.wav"]
    assert sent(asked, ("agent", "a2"))[0]["type"] == "consult"
    with pytest.raises(CallError):
        calls.hold("a1", "c1", False)  # the consultation holds the caller
    talking = calls.consult_answer("a2", "c1", True)
    assert events(talking) == [AgentNotReady("a2", "consult")]
    assert [(c["t"], c["a"], c["b"]) for c in media(talking)] == [("bridge", "L1", "L2")]
    done = calls.consult_end("a1", "c1", True)
    assert events(done) == [TransferRequested("a1", "c1", to_agent="a2"), AgentReady("a2")]
    calls.unbridge(Unbridge("c1", "a1"), 30.0)
    offered = calls.offer(_offer("a2"), 31.0) or []
    assert events(offered) == [OfferAccepted("a2", "c1")]


def test_a_consultation_cancelled_gives_the_caller_back() -> None:
    calls = _calls()
    _connected(calls)
    calls.line_leg("a2", "L2")
    calls.consult("a1", "c1", "a2", target_ready=True)
    calls.consult_answer("a2", "c1", True)
    back = calls.consult_end("a1", "c1", False)
    assert AgentReady("a2") in events(back)
    assert [c["t"] for c in media(back)][:2] == ["unbridge", "bridge"]
    assert media(back)[1]["b"] == "L1" and media(back)[1]["record"] == "/rec/c1-2.wav"


def test_supervision_joins_the_bridge_and_ends_with_the_agents_part() -> None:
    calls = _calls()
    with pytest.raises(CallError):
        calls.supervise("s1", "a1", "S1", "listen")
    _connected(calls)
    joined = calls.supervise("s1", "a1", "S1", "listen")
    bridge = media(joined)[0]["bridge"]
    assert media(joined) == [{"t": "supervise", "bridge": bridge, "leg": "S1", "mode": "listen"}]
    assert sent(joined) == []  # listening is not announced
    barge = calls.supervise_mode("s1", "barge")
    assert [c["t"] for c in media(barge)] == ["unsupervise", "supervise"]
    assert sent(barge, ("agent", "a1"))[0]["mode"] == "barge"
    out = calls.hang_up(HangUp("c1", "agent-hangup"), 9.0) or []
    assert {"type": "ended", "contact_id": "c1"} in sent(out, ("supervisor", "s1"))
    assert {"t": "leg.close", "leg": "S1"} in media(out)


def test_a_dialer_call_rings_the_browser_and_reports_its_answer_or_its_silence() -> None:
    calls = _calls()
    calls.add_caller("d1", "D1", inbound=False, phase="ringing", deadline=30.0, dialer=True)
    answered = calls.answered("d1", 5.0)
    assert events(answered) == [CallAnswered("d1", "human")] and plays(answered, "D1") == ["music.wav"]
    calls.add_caller("d2", "D2", inbound=False, phase="ringing", deadline=30.0, dialer=True)
    assert calls.tick(29.0) == []
    silent = calls.tick(30.0)
    assert events(silent) == [CallFailed("d2", "no-answer")]
    assert sent(silent, ("caller", "d2"))[0]["type"] == "incoming-cancelled"
    message = calls.dial_message(PlayMessage("d1", "abandon-message", "abandoned"), 31.0) or []
    assert plays(message, "D1") == ["abandon-message.wav"]


def test_a_preview_dial_rings_the_web_caller_then_bridges_the_agent() -> None:
    calls = _calls()
    calls.line_leg("a1", "L1")
    calls.line_state("a1", True)
    offer = _offer(callback_number="webrtc:ada")
    assert calls.offer(offer, 0.0) is not None  # ours: a webrtc: number
    ring = calls.bridge(Bridge("c1", "a1", callback_number="webrtc:ada"), 1.0) or []
    assert [e for e in ring if isinstance(e, Ring)] == [Ring("c1", "ada", 30.0)]
    calls.ringing("c1", "P1", "ada", 31.0)
    answered = calls.answered("c1", 4.0)
    assert sent(answered, ("agent", "a1")) == [{"type": "connected", "contact_id": "c1"}]
    assert media(answered)[0]["a"] == "P1" and events(answered) == []


def test_a_callback_is_offered_to_a_caller_with_a_number_and_taken_with_1() -> None:
    calls = _calls()
    calls.add_caller("c1", "C1", inbound=True, phase="queued", callback_number="webrtc:ada")
    calls.routed("c1", "q", 0.0)
    offered = calls.play(OfferCallback("c1", 300.0), 1.0) or []
    assert plays(offered, "C1") == ["callback-offer.wav"]
    took = calls.media_event({"t": "dtmf", "leg": "C1", "digit": "1", "source": "rfc4733"}, 2.0)
    assert events(took) == [CallbackRequested("c1", "webrtc:ada")]
    calls.add_caller("c2", "C2", inbound=True, phase="queued")  # no number: not offered
    assert calls.play(OfferCallback("c2", 300.0), 1.0) == []


def test_the_survey_asks_after_the_agent_hangs_up_and_answers_when_the_engine_asks() -> None:
    calls = _calls(surveyed=True)
    _connected(calls)
    asked = calls.hang_up(HangUp("c1", "agent-hangup"), 10.0) or []
    assert plays(asked, "C1") == ["survey.wav"] and not [c for c in media(asked) if c["t"] == "leg.close"]
    thanks = calls.media_event({"t": "dtmf", "leg": "C1", "digit": "4", "source": "rfc4733"}, 12.0)
    assert plays(thanks, "C1") == ["thank-you.wav"]
    calls.media_event({"t": "play.done", "leg": "C1", "play": media(thanks)[-1]["play"]}, 13.0)
    assert calls.caller("c1") is None
    assert events(calls.survey(StartSurvey("c1", "voice", "+1555", "?", 600.0), 20.0) or []) == \
        [SurveyAnswered("c1", 4)]
    assert calls.survey(StartSurvey("zz", "voice", "", "?", 600.0), 20.0) is None
